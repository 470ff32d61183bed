import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conformanceCorpus } from './test-corpus';
import { describe, test } from 'node:test';
import { goQuote } from './go-quote';
import { DockerfileParseError, MAX_LINE_BYTES, detectSyntax, dump, parseDockerfile } from './parser';

// Compiled to dist/src/dockerfile/: the corpus sits beside the repository.
const CORPUS = conformanceCorpus();

function cases(dir: string): string[] {
  return fs
    .readdirSync(path.join(CORPUS, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

const read = (...p: string[]) => fs.readFileSync(path.join(CORPUS, ...p), 'utf8');

function parseError(text: string): DockerfileParseError {
  try {
    parseDockerfile(text);
  } catch (e) {
    assert.ok(e instanceof DockerfileParseError, `expected a DockerfileParseError, got ${String(e)}`);
    return e;
  }
  assert.fail(`parsed without error: ${JSON.stringify(text.slice(0, 80))}`);
}

describe('conformance corpus', () => {
  assert.ok(fs.existsSync(CORPUS), `conformance corpus missing at ${CORPUS}`);
  const positive = cases('parser');
  const negative = cases('parser-negative');
  const lineInfo = fs.existsSync(path.join(CORPUS, 'parser-line-info', 'expected-lines.json')) ? 1 : 0;

  test(`parser conformance: ${positive.length} positive, ${negative.length} negative, ${lineInfo} line-info`, () => {
    assert.ok(positive.length >= 33 && negative.length >= 4 && lineInfo === 1, 'corpus incomplete');
    const failures: string[] = [];
    for (const name of positive) {
      const expected = read('parser', name, 'result');
      let got: string;
      try {
        got = dump(parseDockerfile(read('parser', name, 'Dockerfile')));
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
        continue;
      }
      if (got !== expected) failures.push(`${name}:\n--- expected\n${expected}--- got\n${got}`);
    }
    for (const name of negative) {
      try {
        parseDockerfile(read('parser-negative', name, 'Dockerfile'));
        failures.push(`${name}: parsed without error`);
      } catch (e) {
        if (!(e instanceof DockerfileParseError)) failures.push(`${name}: ${String(e)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('line info', () => {
    const expected = JSON.parse(read('parser-line-info', 'expected-lines.json')) as {
      root: { startLine: number; endLine: number };
      children: { instruction: string; startLine: number; endLine: number }[];
    };
    const df = parseDockerfile(read('parser-line-info', 'Dockerfile'));
    assert.deepEqual({ startLine: df.startLine, endLine: df.endLine }, expected.root);
    assert.deepEqual(
      df.nodes.map((n) => ({ instruction: n.keyword, startLine: n.startLine, endLine: n.endLine })),
      expected.children,
    );
  });

  test('negative cases fail for the documented reasons', () => {
    assert.match(parseError(read('parser-negative', 'empty_dockerfile', 'Dockerfile')).message, /file with no instructions/);
    assert.match(parseError(read('parser-negative', 'only_comments', 'Dockerfile')).message, /file with no instructions/);
    assert.match(parseError(read('parser-negative', 'env_no_value', 'Dockerfile')).message, /ENV must have two arguments/);
    assert.match(
      parseError(read('parser-negative', 'shykes-nested-json', 'Dockerfile')).message,
      /arrays must be comprised of strings only/,
    );
  });
});

describe('line assembly', () => {
  test('BOM and CRLF are dropped', () => {
    const df = parseDockerfile('\ufeffFROM a\r\nRUN echo \\\r\n  hi\r\n');
    assert.equal(dump(df), '(from "a")\n(run "echo   hi")\n');
  });

  test('unknown instructions parse and print one empty argument', () => {
    assert.equal(dump(parseDockerfile('FROM a\nFOO bar baz\n')), '(from "a")\n(foo "")\n');
    assert.equal(dump(parseDockerfile('CONSTRUCTOR x\n__proto__ y\n')), '(constructor "")\n(__proto__ "")\n');
  });

  test('a file with only comments and blanks has no instructions', () => {
    const err = parseError('# one\n\n   # two\n');
    assert.equal(err.reason, 'file with no instructions');
    assert.match(err.message, /^dockerfile parse error on line \d+: file with no instructions$/);
    assert.equal(parseError('').reason, 'file with no instructions');
  });

  test(`a physical line over ${MAX_LINE_BYTES} bytes is an error naming it`, () => {
    const ok = `RUN ${'x'.repeat(MAX_LINE_BYTES - 4)}`;
    assert.equal(parseDockerfile(`FROM a\n${ok}\n`).nodes[1]!.args[0]!.length, MAX_LINE_BYTES - 4);
    const err = parseError(`FROM a\n${ok}x\n`);
    assert.equal(err.line, 2);
    assert.equal(err.reason, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`);
    // Bytes, not characters: 21846 three-byte characters are 65538 bytes.
    assert.equal(parseError(`FROM a\nRUN ${'€'.repeat(21846)}`).line, 2);
  });

  test('empty continuation lines are skipped with a warning', () => {
    const df = parseDockerfile('FROM a\nRUN a \\\n\n  b\n');
    assert.equal(dump(df), '(from "a")\n(run "a   b")\n');
    assert.deepEqual(df.warnings, ['Empty continuation line found in: RUN a   b']);
  });

  test('original keeps the assembled line; keywords are lower-cased', () => {
    const df = parseDockerfile('from a AS b\nRuN echo \\\n hi\n');
    assert.equal(df.nodes[0]!.keyword, 'from');
    assert.equal(df.nodes[1]!.original, 'RuN echo  hi');
    assert.deepEqual([df.nodes[1]!.startLine, df.nodes[1]!.endLine], [2, 3]);
  });
});

describe('directives', () => {
  test('syntax, escape and check are read from the top only', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\n# Escape = `\n#check=skip=all\nFROM a\n# escape=\\\n');
    assert.deepEqual(df.directives, { syntax: 'docker/dockerfile:1', escape: '`', check: 'skip=all' });
    assert.deepEqual(parseDockerfile('\n# escape=`\nFROM a').directives, { escape: '\\' });
  });

  test('a repeated directive or a bad escape is an error', () => {
    assert.equal(parseError('# escape=`\n# escape=\\\nFROM a').reason, 'only one escape parser directive can be used');
    const bad = parseError('# escape=x\nFROM a');
    assert.equal(bad.reason, "invalid escape token 'x' does not match ` or \\");
    assert.equal(bad.line, 1);
  });
});

describe('detectSyntax', () => {
  test('#, // and JSON forms; shebang skipped; first word only', () => {
    assert.equal(detectSyntax('# syntax=docker/dockerfile:1.7 opt=x\nFROM a'), 'docker/dockerfile:1.7');
    assert.equal(detectSyntax('#!/usr/bin/env buildctl\n# escape=`\n#syntax = x/y\nFROM a'), 'x/y');
    assert.equal(detectSyntax('// syntax=foo/bar\n'), 'foo/bar');
    assert.equal(detectSyntax('{"syntax": "json/frontend", "other": 1}'), 'json/frontend');
    assert.equal(detectSyntax('FROM a\n# syntax=late'), undefined);
    assert.equal(detectSyntax('# hello\n# syntax=late'), undefined);
  });
});

describe('heredocs', () => {
  test('RUN <<EOF keeps the body out of the instruction list', () => {
    const df = parseDockerfile('FROM a\nRUN <<EOF\necho hi\nFROM nope\nEOF\nUSER me\n');
    assert.equal(dump(df), '(from "a")\n(run "<<EOF")\n(user "me")\n');
    assert.deepEqual(df.nodes[1]!.heredocs, [{ name: 'EOF', content: 'echo hi\nFROM nope\n', expand: true, chomp: false, fd: 0 }]);
    assert.deepEqual([df.nodes[1]!.startLine, df.nodes[1]!.endLine], [2, 5]);
  });

  test('<<- matches a tab-indented terminator and keeps the tabs in the body', () => {
    const df = parseDockerfile('FROM a\nRUN <<-EOT\n\techo a\n\t\techo b\n\tEOT\n');
    assert.deepEqual(df.nodes[1]!.heredocs, [{ name: 'EOT', content: '\techo a\n\t\techo b\n', expand: true, chomp: true, fd: 0 }]);
  });

  test('COPY with two heredocs reads the bodies in marker order', () => {
    const df = parseDockerfile('FROM a\nCOPY <<one <<"two" /dest/\n1\none\n2\ntwo\n');
    assert.equal(dump(df), '(from "a")\n(copy "<<one" "<<\\"two\\"" "/dest/")\n');
    assert.deepEqual(
      df.nodes[1]!.heredocs.map((h) => [h.name, h.content, h.expand]),
      [
        ['one', '1\n', true],
        ['two', '2\n', false],
      ],
    );
  });

  test('quoting any part of the word disables expansion; digits give the descriptor', () => {
    const names = (line: string) =>
      parseDockerfile(`FROM a\n${line}\nEND\n`).nodes[1]!.heredocs.map((h) => ({ name: h.name, expand: h.expand, fd: h.fd }));
    assert.deepEqual(names("RUN <<'END'"), [{ name: 'END', expand: false, fd: 0 }]);
    assert.deepEqual(names("RUN <<E'N'D"), [{ name: 'END', expand: false, fd: 0 }]);
    assert.deepEqual(names('RUN 3<<END cat /dev/fd/3'), [{ name: 'END', expand: true, fd: 3 }]);
    assert.deepEqual(names('RUN <<  END'), [{ name: 'END', expand: true, fd: 0 }]);
  });

  test('ONBUILD RUN <<EOF consumes the body too; JSON form and USER do not', () => {
    const df = parseDockerfile('FROM a\nONBUILD RUN <<EOF\nFROM x\nEOF\nRUN ["<<EOF"]\nUSER <<EOF\nEOF\n');
    assert.equal(dump(df), '(from "a")\n(onbuild (run "<<EOF"))\n(run "<<EOF")\n(user "<<EOF")\n(eof "")\n');
    assert.equal(df.nodes[1]!.heredocs[0]!.content, 'FROM x\n');
  });

  test('a quoted marker is not a heredoc', () => {
    assert.equal(dump(parseDockerfile('FROM a\nRUN "<<EOF"\nUSER x\n')), '(from "a")\n(run "\\"<<EOF\\"")\n(user "x")\n');
  });

  test('an unterminated heredoc names the instruction line', () => {
    const err = parseError('FROM a\n\nRUN <<EOF\necho hi\n');
    assert.equal(err.line, 3);
    assert.equal(err.message, 'dockerfile parse error on line 3: unterminated heredoc');
  });

  test('CRLF: the body keeps its carriage returns; the terminator still matches', () => {
    const df = parseDockerfile('FROM a\r\nCOPY <<EOF /x\r\nhi\r\nEOF\r\n');
    assert.equal(df.nodes[1]!.heredocs[0]!.content, 'hi\r\n');
  });
});

describe('goQuote', () => {
  test('matches Go strconv.Quote', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\x00\x07\x7f\t'), '"\\x00\\a\\x7f\\t"');
    assert.equal(goQuote('\u00a0\u2028♥한'), '"\\u00a0\\u2028♥한"');
    assert.equal(goQuote('\u{e0001}'), '"\\U000e0001"');
  });
});
