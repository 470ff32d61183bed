import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from './detach-keys';

test('parses Docker detach-key specs', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('a,ctrl-b'), [97, 2]);
  assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_'), [0, 27, 28, 29, 30, 31]);
  assert.deepEqual(parseDetachKeys('CTRL-A'), [1]);
  assert.deepEqual(parseDetachKeys('e,x,i,t'), [101, 120, 105, 116]);
});

test('rejects unknown keys with Docker wording', () => {
  assert.throws(() => parseDetachKeys('ctrl-1'), /^Error: Unknown character: 'ctrl-1'$/);
  assert.throws(() => parseDetachKeys('ab'), /Unknown character: 'ab'/);
  assert.throws(() => parseDetachKeys(''), /Unknown character: ''/);
  assert.throws(() => parseDetachKeys('a,,b'), /Unknown character: ''/);
});

test('forwards input without the sequence untouched', () => {
  const s = new DetachScanner(DEFAULT_DETACH_KEYS);
  assert.deepEqual(s.push(Buffer.from('echo hi\n')), { forward: Buffer.from('echo hi\n'), detached: false });
});

test('detects the sequence in one chunk and forwards what came before it', () => {
  const s = new DetachScanner(DEFAULT_DETACH_KEYS);
  const r = s.push(Buffer.from([0x6c, 0x73, 16, 17, 0x78]));
  assert.equal(r.detached, true);
  assert.deepEqual([...r.forward], [0x6c, 0x73]);
});

test('detects the sequence split across chunks, holding the partial match', () => {
  const s = new DetachScanner(DEFAULT_DETACH_KEYS);
  const a = s.push(Buffer.from([0x61, 16]));
  assert.deepEqual([...a.forward], [0x61]);
  assert.equal(a.detached, false);
  const b = s.push(Buffer.from([17]));
  assert.equal(b.detached, true);
  assert.deepEqual([...b.forward], []);
});

test('a broken partial match releases the held bytes in order', () => {
  const s = new DetachScanner(DEFAULT_DETACH_KEYS);
  assert.deepEqual([...s.push(Buffer.from([16])).forward], []);
  const r = s.push(Buffer.from([0x61]));
  assert.equal(r.detached, false);
  assert.deepEqual([...r.forward], [16, 0x61]);
  // ctrl-p ctrl-p ctrl-q: the first ctrl-p is input, the last two detach.
  const t = new DetachScanner(DEFAULT_DETACH_KEYS);
  const u = t.push(Buffer.from([16, 16, 17]));
  assert.equal(u.detached, true);
  assert.deepEqual([...u.forward], [16]);
});

test('longer custom sequences', () => {
  const s = new DetachScanner(parseDetachKeys('e,x,i,t'));
  const r = s.push(Buffer.from('exexit'));
  assert.equal(r.detached, true);
  assert.equal(r.forward.toString(), 'ex');
});
