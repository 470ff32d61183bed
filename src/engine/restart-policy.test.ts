import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextDelay, shouldRestart, validateRestartPolicy } from './restart-policy';

const exit = (exitCode: number, restartCount = 0, manuallyStopped = false) => ({ exitCode, restartCount, manuallyStopped, ranMs: 50 });

test('no and the empty name never restart', () => {
  assert.equal(shouldRestart({ Name: 'no', MaximumRetryCount: 0 }, exit(1)), false);
  assert.equal(shouldRestart({ Name: '', MaximumRetryCount: 0 }, exit(1)), false);
});

test('always restarts on any exit, unless-stopped not after a manual stop', () => {
  assert.equal(shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, exit(0)), true);
  assert.equal(shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, exit(0, 5, true)), true);
  assert.equal(shouldRestart({ Name: 'unless-stopped', MaximumRetryCount: 0 }, exit(0)), true);
  assert.equal(shouldRestart({ Name: 'unless-stopped', MaximumRetryCount: 0 }, exit(137, 0, true)), false);
});

test('on-failure restarts only failures, up to the maximum', () => {
  const p = { Name: 'on-failure', MaximumRetryCount: 3 } as const;
  assert.equal(shouldRestart(p, exit(0)), false);
  assert.equal(shouldRestart(p, exit(1, 0)), true);
  assert.equal(shouldRestart(p, exit(1, 2)), true);
  assert.equal(shouldRestart(p, exit(1, 3)), false);
  assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 0 }, exit(1, 1000)), true, '0 means no limit');
});

test('the back-off doubles from 100 ms to a minute and resets after a 10 s run', () => {
  let d = 0;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) seen.push((d = nextDelay(d, 10)));
  assert.deepEqual(seen.slice(0, 4), [100, 200, 400, 800]);
  assert.equal(seen[11], 60_000);
  assert.equal(nextDelay(60_000, 10_000), 100);
});

test('validation uses Docker\'s messages', () => {
  assert.deepEqual(validateRestartPolicy(undefined, false), { Name: 'no', MaximumRetryCount: 0 });
  assert.throws(() => validateRestartPolicy({ Name: 'sometimes' }, false), /unknown policy 'sometimes'/);
  assert.throws(() => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 1 }, false), /maximum retry count can only be used with 'on-failure'/);
  assert.throws(() => validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: -1 }, false), /cannot be negative/);
  assert.throws(() => validateRestartPolicy({ Name: 'always' }, true), /AutoRemove/);
  assert.deepEqual(validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }, false), { Name: 'on-failure', MaximumRetryCount: 3 });
});
