import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../errors';
import { cleanPath, IgnoreMatcher, parseDockerignore } from './ignore';

const matcher = (lines: string[]) => new IgnoreMatcher(parseDockerignore(lines.join('\n')));

// [.dockerignore lines, path relative to the context, excluded?]
const CASES: [string[], string, boolean][] = [
  [['*.go'], 'main.go', true],
  [['*.go'], 'cmd/main.go', false], // `*` stops at `/`: root only
  [['**/*.go'], 'cmd/main.go', true],
  [['**/*.go'], 'main.go', true],
  [['foo'], 'foo', true],
  [['foo'], 'foo/bar/baz', true], // everything beneath a matched directory
  [['foo'], 'a/foo', false], // the whole relative path, not the base name
  [['**/foo'], 'a/b/foo', true],
  [['**/foo'], 'foo', true],
  [['**/foo'], 'a/foo/x', true],
  [['**/foo'], 'afoo', false],
  [['**file'], 'dir/xfile', true], // leading `**` is a plain suffix test
  [['foo/**'], 'foo', false],
  [['foo/**'], 'foo/x', true],
  [['foo/**'], 'foo/x/y', true],
  [['a**/*.txt'], 'a/dir/file.txt', true],
  [['**/dir2/*'], 'dir/dir2/file', true],
  [['**/**/*.txt2'], 'dir/dir/file.txt', false],
  [['**'], 'any/deep/path', true],
  [['foo/'], 'foo/x', true], // cleaned: no "directories only"
  [['/foo'], 'foo', true],
  [['./foo'], 'foo', true],
  [['foo/../bar'], 'bar', true],
  [['\tfoo  '], 'foo', true],
  [['# comment'], '# comment', false],
  [[' # not a comment'], '# not a comment', true],
  [['*', '!README.md'], 'README.md', false],
  [['*', '!README.md'], 'main.go', true],
  [['docs', '!docs/README.md'], 'docs/README.md', false],
  [['docs', '!docs/README.md'], 'docs/other.md', true],
  [['docs/*', '!docs/README.md'], 'docs/README.md', false],
  [['!docs/README.md', 'docs'], 'docs/README.md', true], // the last match wins
  [['*.md', '!README*.md', 'README-secret.md'], 'README-secret.md', true],
  [['*.md', '!README*.md', 'README-secret.md'], 'README-public.md', false],
  [['*', '! foo'], 'foo', false],
  [['*', '!sub', 'sub/*.tmp'], 'sub/a.tmp', true],
  [['*', '!sub', 'sub/*.tmp'], 'sub/a.go', false],
  [['**', '!keep'], 'keep/x/y', false], // an exception also covers what is beneath it
  [['.*'], '.git', true],
  [['.*'], '.git/HEAD', true],
  [['.*'], 'a/.git', false],
  [['**/.foo'], 'bar.foo', false],
  [['a?c'], 'abc', true],
  [['a?c'], 'a/c', false],
  [['a[b-d]e'], 'ace', true],
  [['a[b-d]e'], 'aae', false],
  [['a[^b-d]e'], 'aze', true],
  [['[\\]a]'], ']', true],
  [['[x\\-]'], '-', true],
  [['a[/]b'], 'a/b', true], // a class may match the separator, as in Docker
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'axb', false],
  [['a\\\\'], 'a\\', true],
  [['abc.def'], 'abcXdef', false],
  [['a(b)c/d+e'], 'a(b)c/d+e', true],
  [['a.|)$(}+{bc'], 'a.|)$(}+{bc', true],
  [['a^b'], 'a^b', true],
  [['a?b'], 'a☺b', true],
  [['ü*'], 'über', true],
  [['*'], '.', false], // the context root itself is never excluded
];

describe('.dockerignore matching', () => {
  for (const [lines, path, want] of CASES) {
    it(`${JSON.stringify(lines)} ${want ? 'excludes' : 'keeps'} ${path}`, () => {
      assert.equal(matcher(lines).ignores(path, false), want);
    });
  }

  it('takes raw pattern strings as patternmatcher.New does', () => {
    const m = new IgnoreMatcher(['  node_modules ', '', '!node_modules/keep']);
    assert.equal(m.ignores('node_modules/x', true), true);
    assert.equal(m.ignores('node_modules/keep/a', false), false);
    assert.equal(m.hasExceptions, true);
  });

  it('reports bad patterns with Go\'s message', () => {
    for (const bad of ['[', 'a[', '[^bc', '[]a]', '[-x]', '[x-]', '[a-b-c]', '\\', 'x/\\', '[Local-Only]']) {
      assert.throws(() => matcher([bad]), (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && e.message === 'syntax error in pattern', bad);
    }
    assert.throws(() => matcher(['!']), { message: 'illegal exclusion pattern: "!"' });
  });
});

describe('parseDockerignore', () => {
  it('reads the file as ignorefile.ReadAll does', () => {
    const text = '\uFEFF# top\r\n/abs/path/\r\n\r\n  \n!  ./keep/../kept \n#x\n  #y\n/\n';
    assert.deepEqual(parseDockerignore(text).patterns, [
      { pattern: 'abs/path', negate: false },
      { pattern: 'kept', negate: true },
      { pattern: '#y', negate: false },
      { pattern: '/', negate: false },
    ]);
  });
});

describe('mayReinclude', () => {
  it('is false without exceptions', () => {
    assert.equal(matcher(['node_modules']).mayReinclude('node_modules'), false);
  });

  it('follows literal and glob segments', () => {
    const m = matcher(['docs', 'vendor', '!docs/README.md', '!*/keep.txt']);
    assert.equal(m.mayReinclude('docs'), true);
    assert.equal(m.mayReinclude('vendor'), true); // */keep.txt
    assert.equal(m.mayReinclude('vendor/sub'), false);
    assert.equal(matcher(['*', '!src/**/*.go']).mayReinclude('src/a/b'), true);
    assert.equal(matcher(['*', '!src/**/*.go']).mayReinclude('vendor'), false);
  });

  it('is true beneath a directory an exception names', () => {
    assert.equal(matcher(['a', '!a']).mayReinclude('a/b/c'), true);
  });

  it('lets a walker find a re-included file', () => {
    const m = matcher(['*', '!src/keep/*.ts', 'src/keep/*.test.ts']);
    const tree = ['src', 'src/keep', 'src/keep/a.ts', 'src/keep/a.test.ts', 'src/other', 'src/other/b.ts', 'top.ts'];
    const sent = tree.filter((p) => !m.ignores(p, !p.endsWith('.ts')));
    assert.deepEqual(sent, ['src/keep/a.ts']);
    assert.equal(m.mayReinclude('src'), true);
    assert.equal(m.mayReinclude('src/other'), false);
  });
});

describe('cleanPath (Go path.Clean)', () => {
  it('cleans', () => {
    const cases: [string, string][] = [['', '.'], ['a//b/', 'a/b'], ['./a/./b/..', 'a'], ['../../a', '../../a'], ['/../a', '/a'], ['/', '/'], ['a/..', '.']];
    for (const [input, want] of cases) assert.equal(cleanPath(input), want, input);
  });
});
