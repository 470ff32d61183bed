import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conformanceCorpus } from './test-corpus';
import { expandWithInfo, processWord, processWords, ShellExpansionError, type Env } from './shell';

const CORPUS = conformanceCorpus();
assert.ok(fs.existsSync(path.join(CORPUS, 'shell')), `conformance corpus missing at ${CORPUS}`);

interface WordVector { line: number; input: string; expected: string }
interface WordsVector { line: number; input: string; env: Env; expected: string[] }

/** envVarTest: `PLATFORM|INPUT|EXPECTED`; A and U lines run here (not Windows), W lines are skipped. */
function loadEnvVarTest(): WordVector[] {
  const text = fs.readFileSync(path.join(CORPUS, 'shell/envVarTest'), 'utf8');
  const out: WordVector[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.startsWith('#')) return;
    const line = raw.trim();
    if (line === '') return;
    const fields = line.split('|');
    assert.equal(fields.length, 3, `envVarTest line ${i + 1}: ${line}`);
    const [platform, input, expected] = fields.map((f) => f.trim());
    assert.ok(['A', 'U', 'W'].includes(platform), `envVarTest line ${i + 1}: platform ${platform}`);
    if (platform !== 'W') out.push({ line: i + 1, input, expected });
  });
  return out;
}

/** wordsTest: `ENV k=v` lines accumulate; `INPUT | w1,w2` (trailing blanks significant). */
function loadWordsTest(): WordsVector[] {
  const text = fs.readFileSync(path.join(CORPUS, 'shell/wordsTest'), 'utf8');
  const env = new Map<string, string>();
  const out: WordsVector[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line.startsWith('#')) return;
    if (line.startsWith('ENV ')) {
      const kv = line.slice(3).replace(/^ +/, '');
      const eq = kv.indexOf('=');
      env.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1));
      return;
    }
    const fields = line.split('|');
    assert.equal(fields.length, 2, `wordsTest line ${i + 1}: ${line}`);
    out.push({ line: i + 1, input: fields[0].trim(), env: new Map(env), expected: fields[1].replace(/^ +/, '').split(',') });
  });
  return out;
}

const ENV_VAR_ENV: Env = new Map([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['NULL', ''],
]);
const envVarVectors = loadEnvVarTest();
const wordsVectors = loadWordsTest();

test(`shell conformance: ${envVarVectors.length} envVarTest, ${wordsVectors.length} wordsTest`, () => {
  assert.ok(envVarVectors.length >= 228 && wordsVectors.length >= 24, 'corpus is incomplete');
  const failures: string[] = [];
  for (const v of envVarVectors) {
    let got: string;
    try {
      got = processWord(v.input, ENV_VAR_ENV);
    } catch (e) {
      assert.ok(e instanceof ShellExpansionError, String(e));
      got = 'error';
    }
    if (got !== v.expected) failures.push(`envVarTest:${v.line} ${JSON.stringify(v.input)} → ${JSON.stringify(got)}, want ${JSON.stringify(v.expected)}`);
  }
  for (const v of wordsVectors) {
    let got: string[];
    try {
      got = processWords(v.input, v.env);
    } catch (e) {
      assert.ok(e instanceof ShellExpansionError, String(e));
      got = ['error'];
    }
    if (JSON.stringify(got) !== JSON.stringify(v.expected)) failures.push(`wordsTest:${v.line} ${JSON.stringify(v.input)} → ${JSON.stringify(got)}, want ${JSON.stringify(v.expected)}`);
  }
  assert.deepEqual(failures, []);
});

const env = (o: Record<string, string>): Env => new Map(Object.entries(o));
const word = (w: string, o: Record<string, string> = {}) => processWord(w, env(o));
const reason = (w: string, o: Record<string, string> = {}) => {
  try {
    processWord(w, env(o));
  } catch (e) {
    assert.ok(e instanceof ShellExpansionError);
    return e.reason;
  }
  assert.fail(`${w} should fail`);
};

describe('pattern removal and substitution', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['${F#*/}', { F: 'a/b/c' }, 'b/c'],
    ['${F##*/}', { F: 'a/b/c' }, 'c'],
    ['${F%/*}', { F: 'a/b/c' }, 'a/b'],
    ['${F%%/*}', { F: 'a/b/c' }, 'a'],
    ['${F#?}', { F: 'abc' }, 'bc'],
    ['${F%.tar.gz}', { F: 'x.tar.gz' }, 'x'],
    ['${F%.tar.gz}', { F: 'x.tar.bz2' }, 'x.tar.bz2'],
    ['${F#x}', { F: 'abc' }, 'abc'],
    ['${F#*x*y}', { F: 'xxyy' }, 'y'],
    ['${F##*x}', { F: 'xxyy' }, 'yy'],
    ['${F#}', { F: 'xxyy' }, 'xxyy'],
    ['${F%%\\**}', { F: 'xx**' }, 'xx'],
    ['${F%%\\**\\*}', { F: 'a***yy*' }, 'a'],
    ['${F#()[]{\\}^$.\\*\\?|\\\\}', { F: '()[]{}^$.*?|\\x' }, 'x'],
    ['${F#$P}', { F: 'xxyy', P: 'x' }, 'xyy'],
    ['${F#*}', { F: 'xxyy' }, 'xxyy'],
    ['${U#a}', {}, ''],
    ['${F/o/0}', { F: 'foo' }, 'f0o'],
    ['${F//o/0}', { F: 'foo' }, 'f00'],
    ['${F//o}x', { F: 'foo' }, 'error'],
    ['${F///}', { F: 'foo' }, 'foo'],
    ['${F//*/y}', { F: 'abc' }, 'y'],
    ['${F/$N/.} - ${F//$N/.}', { F: '/foo*/*/*.txt', N: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${F/$N/$R} - ${F//$N/$R}', { F: '/a/foo/b/c.txt', N: '/?/', R: '/' }, '/foo/b/c.txt - /foo/c.txt'],
    ['${F/$N/ww}', { F: 'xxyy', N: '' }, 'wwxxyy'],
    ['${F//\\//\\/}', { F: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ["${F//o/'$0'}", { F: 'foo' }, 'foo'],
    ["${F//o/'$$'}", { F: 'foo' }, 'f$$'],
    ['${F//[ab]/x}', { F: 'a[ab]b' }, 'axb'],
    ['${F//é/e}', { F: 'café é' }, 'cafe e'],
    ['${F%?}', { F: 'ab👽' }, 'ab'],
  ];
  for (const [w, vars, want] of cases) {
    it(`${w} with ${JSON.stringify(vars)} → ${want}`, () => {
      let got: string;
      try {
        got = word(w, vars);
      } catch (e) {
        assert.ok(e instanceof ShellExpansionError, String(e));
        got = 'error';
      }
      assert.equal(got, want);
    });
  }

  it('rejects bad escapes and `:#`/`:%` with BuildKit messages', () => {
    assert.equal(reason('${F#\\x}', { F: 'a' }), "invalid pattern (\\x) in substitution: invalid escape '\\x'");
    assert.equal(reason('${F#$P}', { F: 'a', P: 'a\\' }), "invalid pattern (a\\) in substitution: invalid escape '\\\uFFFD'");
    assert.equal(reason('${F:#a}', { F: 'a' }), 'unsupported modifier (:#) in substitution');
    assert.equal(reason('${F:%a}', { F: 'a' }), 'unsupported modifier (:%) in substitution');
    assert.equal(reason('${F/a'), "syntax error: missing '/' in ${}");
    assert.equal(reason('${F/a/b'), "syntax error: missing '}'");
  });
});

describe('error messages', () => {
  it('${VAR?message} and ${VAR:?message}', () => {
    assert.equal(reason('${V?}'), 'V: is not allowed to be unset');
    assert.equal(reason('${V:?}'), 'V: is not allowed to be unset');
    assert.equal(reason('${V:?}', { V: '' }), 'V: is not allowed to be empty');
    assert.equal(reason('${V:?message here$A}', { A: 'x' }), 'V: message herex');
    assert.equal(reason('${V?need it}', {}), 'V: need it');
    assert.equal(word('${V?need it}', { V: '' }), '');
    assert.equal(word('${V:?need it}', { V: 'plain' }), 'plain');
  });

  it('wraps the reason with the quoted word, as BuildKit does', () => {
    assert.throws(() => word('a${V:?}\t"'), { message: 'failed to process "a${V:?}\\t\\"": V: is not allowed to be unset' });
    assert.throws(() => word('${X:=1}'), { message: 'failed to process "${X:=1}": unsupported modifier (:=) in substitution' });
    assert.equal(reason('${}'), 'syntax error: bad substitution');
    assert.equal(reason('${PWD'), 'unsupported modifier (\uFFFD) in substitution');
    assert.equal(reason('${a:-b'), "syntax error: missing '}'");
    assert.equal(reason('"abc'), 'unexpected end of statement while looking for matching double-quote');
    assert.equal(reason("'abc"), 'unexpected end of statement while looking for matching single-quote');
  });

  it('errors are BerthError kind invalid', () => {
    assert.throws(() => word('${}'), (e: unknown) => e instanceof ShellExpansionError && e.kind === 'invalid');
  });
});

describe('used and unset names', () => {
  it('records what was looked up', () => {
    const r = expandWithInfo('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc} $FOO', env({ FOO: 'xxx', BAR: '' }));
    assert.equal(r.value, 'xxx  ccc xxx');
    assert.deepEqual([...r.used].sort(), ['BAR', 'FOO']);
    assert.deepEqual([...r.unset], ['BAZ']);
  });

  it('records names inside defaults, patterns and replacements', () => {
    const r = expandWithInfo('${A:-$B}${C#$D}${E/$F/$G}', env({ B: 'b', C: 'cc', E: 'e' }));
    assert.equal(r.value, 'bcce');
    assert.deepEqual([...r.used].sort(), ['B', 'C', 'E']);
    assert.deepEqual([...r.unset].sort(), ['A', 'D', 'F', 'G']);
  });

  it('quoted and escaped dollars look nothing up', () => {
    const r = expandWithInfo("'$A' \\$B $", env({}));
    assert.equal(r.value, '$A $B $');
    assert.equal(r.used.size + r.unset.size, 0);
  });

  it('a platform filename, as BuildKit tests it', () => {
    const w = 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz';
    assert.equal(word(w, { VERSION: 'v1', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' }), 'something-v1.linux-arm-v7.tar.gz');
    assert.equal(word(w, { VERSION: 'v1', TARGETOS: 'linux', TARGETARCH: 'arm64', TARGETVARIANT: '' }), 'something-v1.linux-arm64.tar.gz');
  });
});

describe('backtick escape', () => {
  const bt = (w: string, o: Record<string, string> = {}) => processWord(w, env(o), '`');
  it('escapes with ` and leaves \\ alone', () => {
    assert.equal(bt('C:\\path\\$X', { X: 'x' }), 'C:\\path\\x');
    assert.equal(bt('`$X', { X: 'x' }), '$X');
    assert.equal(bt('a` b'), 'a b');
    assert.equal(bt('"a`"b"'), 'a"b');
    assert.equal(bt('"a``b"'), 'a`b');
    assert.equal(bt('"a`xb"'), 'a`xb');
    assert.equal(bt('"a\\"b'), 'a\\b', 'backslash does not escape a quote');
    assert.equal(bt('end`'), 'end');
    assert.deepEqual(processWords('a` b c', env({}), '`'), ['a b', 'c']);
  });

  it('keeps the escape in patterns (BuildKit converts only \\ escapes there)', () => {
    assert.equal(bt('${F%`}}', { F: 'a`}' }), 'a');
    assert.equal(bt('${F%`}}', { F: 'a}' }), 'a}');
  });
});

describe('word splitting', () => {
  const words = (w: string, o: Record<string, string> = {}) => processWords(w, env(o));
  it('empty quotes and empty variables make no word', () => {
    assert.deepEqual(words('""'), []);
    assert.deepEqual(words("'' a"), ['a']);
    assert.deepEqual(words('$E b', { E: '' }), ['b']);
    assert.deepEqual(words('a${E:-x y}b'), ['ax', 'yb']);
    assert.deepEqual(words('a"${E:-x y}"b'), ['ax yb']);
  });
  it('splits on Go white space, not on U+FEFF', () => {
    assert.deepEqual(words('a\u0085b\u3000c'), ['a', 'b', 'c']);
    assert.deepEqual(words('a\uFEFFb'), ['a\uFEFFb']);
  });
});
