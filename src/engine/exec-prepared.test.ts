import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeExecSession } from '../runtime/native-exec';
import { PreparedExecs } from './exec-prepared';

function fakeSession(): NativeExecSession & { calledOff: number } {
  const s = { calledOff: 0, callOff: () => void s.calledOff++, release: () => {} };
  return s as unknown as NativeExecSession & { calledOff: number };
}

describe('prepared exec sessions', () => {
  it('are handed out once, for the container run they were made for', () => {
    const p = new PreparedExecs();
    const a = fakeSession();
    p.hold('e1', a, 'run-1');
    assert.equal(p.has('e1'), true);
    assert.equal(p.take('e1', 'run-1'), a);
    assert.equal(p.has('e1'), false);
    assert.equal(p.take('e1', 'run-1'), undefined);
    assert.equal(a.calledOff, 0);
  });

  it('one made for an earlier run (a restart meanwhile) or a stopped container is called off', () => {
    const p = new PreparedExecs();
    const stale = fakeSession();
    const stopped = fakeSession();
    p.hold('e1', stale, 'run-1');
    p.hold('e2', stopped, 'run-1');
    assert.equal(p.take('e1', 'run-2'), undefined);
    assert.equal(p.take('e2', undefined), undefined);
    assert.deepEqual([stale.calledOff, stopped.calledOff], [1, 1]);
  });

  it('callOff ends a waiting session; an unknown id is nothing', () => {
    const p = new PreparedExecs();
    const s = fakeSession();
    p.hold('e1', s, 'run-1');
    p.callOff('e1');
    p.callOff('e1');
    p.callOff('nope');
    assert.equal(s.calledOff, 1);
    assert.equal(p.has('e1'), false);
  });
});
