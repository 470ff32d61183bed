import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpolate, interpolateTree } from './interpolate';
import { parseYaml } from './yaml-tree';

const vars: Record<string, string> = { SET: 'value', EMPTY: '', NUM: '42', OTHER: 'other' };
const lookup = (n: string) => (n in vars ? vars[n] : undefined);
const i = (s: string) => interpolate(s, lookup);

describe('interpolate', () => {
  it('substitutes $VAR and ${VAR}', () => {
    assert.equal(i('$SET'), 'value');
    assert.equal(i('${SET}'), 'value');
    assert.equal(i('a-$SET-b'), 'a-value-b');
    assert.equal(i('${SET}x$NUM'), 'valuex42');
    assert.equal(i('$SET.txt'), 'value.txt'); // a name stops at the first non-name character
    assert.equal(i('no variables'), 'no variables');
  });

  it('substitutes an unset variable by the empty string and reports it', () => {
    const unset: string[] = [];
    assert.equal(interpolate('[$NOPE][${NOPE2}]', lookup, { onUnset: (n) => unset.push(n) }), '[][]');
    assert.deepEqual(unset, ['NOPE', 'NOPE2']);
  });

  it(':- and - defaults', () => {
    assert.equal(i('${NOPE:-def}'), 'def');
    assert.equal(i('${EMPTY:-def}'), 'def');
    assert.equal(i('${SET:-def}'), 'value');
    assert.equal(i('${NOPE-def}'), 'def');
    assert.equal(i('${EMPTY-def}'), '');
    assert.equal(i('${SET-def}'), 'value');
    assert.equal(i('${NOPE:-}'), '');
    assert.equal(i('${NOPE:-a b:c/d}'), 'a b:c/d');
  });

  it(':+ and + alternatives', () => {
    assert.equal(i('${SET:+alt}'), 'alt');
    assert.equal(i('${EMPTY:+alt}'), '');
    assert.equal(i('${NOPE:+alt}'), '');
    assert.equal(i('${SET+alt}'), 'alt');
    assert.equal(i('${EMPTY+alt}'), 'alt');
    assert.equal(i('${NOPE+alt}'), '');
  });

  it(':? and ? require a value', () => {
    assert.equal(i('${SET:?err}'), 'value');
    assert.equal(i('${EMPTY?err}'), '');
    assert.throws(() => i('${NOPE:?please set it}'), { message: 'required variable NOPE is missing a value: please set it' });
    assert.throws(() => i('${EMPTY:?must not be empty}'), { message: 'required variable EMPTY is missing a value: must not be empty' });
    assert.throws(() => i('${NOPE?}'), { message: 'required variable NOPE is missing a value' });
    assert.throws(() => i('${NOPE?$OTHER here}'), { message: 'required variable NOPE is missing a value: other here' });
  });

  it('nests in defaults, evaluated only when used', () => {
    assert.equal(i('${NOPE:-${SET}}'), 'value');
    assert.equal(i('${NOPE:-${NOPE2:-deep}}'), 'deep');
    assert.equal(i('${NOPE:-pre-$NUM-${OTHER}-post}'), 'pre-42-other-post');
    assert.equal(i('${SET:-${NOPE:?never evaluated}}'), 'value');
    assert.throws(() => i('${NOPE:-${NOPE2:?inner}}'), /required variable NOPE2/);
  });

  it('$$ is a literal dollar, and a $ that starts nothing stays', () => {
    assert.equal(i('$$SET'), '$SET');
    assert.equal(i('$${SET}'), '${SET}');
    assert.equal(i('cost: 5$'), 'cost: 5$');
    assert.equal(i('$1 and $ and $-'), '$1 and $ and $-');
    assert.equal(i('${NOPE:-$$literal}'), '$literal');
    assert.equal(i('a$$$SET'), 'a$value');
  });

  it('rejects malformed substitutions', () => {
    assert.throws(() => i('${SET'), /invalid interpolation format.*unterminated/);
    assert.throws(() => i('${}'), /invalid interpolation format/);
    assert.throws(() => i('${1ABC}'), /invalid interpolation format/);
    assert.throws(() => i('${SET/a/b}'), /invalid interpolation format.*unsupported modifier/);
  });
});

describe('interpolateTree', () => {
  it('interpolates values, not keys, and leaves x-* fragments alone', () => {
    const tree = parseYaml('x-frag: ${NOPE:?unused}\nservices:\n  $SET:\n    image: img:$NUM\n    command: [a, "${OTHER}"]\n    scale: 3\n', 'c.yaml');
    interpolateTree(tree, lookup);
    assert.deepEqual(JSON.parse(JSON.stringify(tree)), {
      'x-frag': '${NOPE:?unused}',
      services: { $SET: { image: 'img:42', command: ['a', 'other'], scale: 3 } },
    });
  });

  it('names the file, line and key path of a missing required variable', () => {
    const tree = parseYaml('services:\n  web:\n    image: nginx\n    environment:\n      - FOO=${FOO:?FOO is needed}\n', 'compose.yaml');
    assert.throws(() => interpolateTree(tree, lookup), {
      message: 'compose.yaml:5: services.web.environment[0]: required variable FOO is missing a value: FOO is needed',
    });
  });
});
