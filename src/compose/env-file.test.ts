import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvFile } from './env-file';

describe('parseEnvFile', () => {
  it('reads KEY=VAL lines, comments, blanks and export', () => {
    const text = '# comment\n\nA=1\n  B = two \nexport C=3\nD=\nE=x=y\n';
    assert.deepEqual(parseEnvFile(text), { A: '1', B: 'two', C: '3', D: '', E: 'x=y' });
  });

  it('handles quotes as the spec describes', () => {
    const text = [
      `Q1="VAL # not a comment"`,
      `Q2="VAL" # comment`,
      `Q3='$OTHER'`,
      `Q4='Let\\'s go!'`,
      `Q5="{\\"hello\\": \\"json\\"}"`,
      `Q6="some\\tvalue"`,
      `Q7='some\\tvalue'`,
      `Q8=some\\tvalue`,
      `Q9=VAL # comment`,
      `Q10=VAL# not a comment`,
      `Q11="line1`,
      `line2"`,
    ].join('\n');
    assert.deepEqual(parseEnvFile(text), {
      Q1: 'VAL # not a comment',
      Q2: 'VAL',
      Q3: '$OTHER',
      Q4: "Let's go!",
      Q5: '{"hello": "json"}',
      Q6: 'some\tvalue',
      Q7: 'some\\tvalue',
      Q8: 'some\\tvalue',
      Q9: 'VAL',
      Q10: 'VAL# not a comment',
      Q11: 'line1\nline2',
    });
  });

  it('interpolates unquoted and double-quoted values against earlier lines, then the lookup', () => {
    const text = 'A=a\nB=${A}-$OUT\nC="${A:-x}\\$A"\nD=\'${A}\'\nE=${MISSING:-dflt}\n';
    const vars = parseEnvFile(text, { lookup: (n) => (n === 'OUT' ? 'out' : n === 'A' ? 'outer-a' : undefined) });
    assert.deepEqual(vars, { A: 'a', B: 'a-out', C: 'a$A', D: '${A}', E: 'dflt' });
  });

  it('takes a bare VAR from the lookup, or leaves it unset', () => {
    const vars = parseEnvFile('HOMEY\nNOPE\n', { lookup: (n) => (n === 'HOMEY' ? '/home/x' : undefined) });
    assert.deepEqual(vars, { HOMEY: '/home/x' });
  });

  it('raw format keeps values as written', () => {
    assert.deepEqual(parseEnvFile('A="q $X" # c\nB=$$\n', { format: 'raw' }), { A: '"q $X" # c', B: '$$' });
  });

  it('reports the line of bad input', () => {
    assert.throws(() => parseEnvFile('A=1\nB C=2\n', { name: '.env' }), { message: '.env:2: invalid variable name "B C"' });
    assert.throws(() => parseEnvFile('A="open\n', { name: '.env' }), { message: '.env:1: unterminated double quote' });
    assert.throws(() => parseEnvFile('A=${B:?need B}\n', { name: 'x.env' }), { message: 'x.env:1: required variable B is missing a value: need B' });
  });
});
