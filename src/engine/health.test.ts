import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyResult, HealthMonitor, type HealthState, initialHealth, mergeHealthcheck, probeArgv, timing, validateHealthcheck } from './health';

const result = (ExitCode: number) => ({ Start: 's', End: 'e', ExitCode, Output: '' });

test('probe argv from CMD, CMD-SHELL and NONE', () => {
  assert.deepEqual(probeArgv({ Test: ['CMD', 'true', 'x'] }), ['true', 'x']);
  assert.deepEqual(probeArgv({ Test: ['CMD-SHELL', 'exit 1'] }), ['/bin/sh', '-c', 'exit 1']);
  assert.equal(probeArgv({ Test: ['NONE'] }), null);
  assert.equal(probeArgv(undefined), null);
});

test('the container\'s fields override the image\'s, zero fields inherit', () => {
  const m = mergeHealthcheck({ Test: ['CMD', 'a'], Interval: 5e9, Retries: 4 }, { Test: [], Interval: 1e9 });
  assert.deepEqual(m, { Test: ['CMD', 'a'], Interval: 1e9, Timeout: undefined, StartPeriod: undefined, StartInterval: undefined, Retries: 4 });
  assert.deepEqual(mergeHealthcheck({ Test: ['CMD', 'a'] }, { Test: ['NONE'] })?.Test, ['NONE']);
});

test('defaults are Docker\'s: 30 s interval and timeout, 3 retries', () => {
  assert.deepEqual(timing({}), { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  assert.equal(validateHealthcheck({ Interval: 10 }), 'Interval in Healthcheck cannot be less than 1ms');
  assert.match(validateHealthcheck({ Test: ['SHELL', 'x'] }) ?? '', /unknown healthcheck type/);
});

test('retries consecutive failures make it unhealthy; a success heals it', () => {
  let s: HealthState = initialHealth();
  s = applyResult(s, result(1), 2, false);
  assert.deepEqual([s.Status, s.FailingStreak], ['starting', 1]);
  s = applyResult(s, result(1), 2, false);
  assert.deepEqual([s.Status, s.FailingStreak], ['unhealthy', 2]);
  s = applyResult(s, result(0), 2, false);
  assert.deepEqual([s.Status, s.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 7; i++) s = applyResult(s, result(0), 2, false);
  assert.equal(s.Log.length, 5, 'only the last five results are kept');
});

test('failures in the start period do not count until the first success', () => {
  let s = applyResult(initialHealth(), result(1), 1, true);
  assert.deepEqual([s.Status, s.FailingStreak], ['starting', 0]);
  s = applyResult(s, result(0), 1, true);
  s = applyResult(s, result(1), 1, true);
  assert.deepEqual([s.Status, s.FailingStreak], ['unhealthy', 1]);
});

test('the monitor probes on its interval and reports status changes', async () => {
  const records: [string, boolean][] = [];
  let n = 0;
  const m = new HealthMonitor(['x'], { Interval: 20e6, Retries: 2 }, {
    probe: async () => ({ exitCode: n++ < 1 ? 0 : 1, output: '' }),
    record: (s, changed) => records.push([s.Status, changed]),
    startedAt: () => Date.now(),
  }, initialHealth());
  m.start();
  const deadline = Date.now() + 5000;
  while (records.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  m.stop();
  assert.deepEqual(records.slice(0, 3), [['healthy', true], ['healthy', false], ['unhealthy', true]]);
});
