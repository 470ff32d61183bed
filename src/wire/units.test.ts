import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, formatFloatF, formatFloatG, humanDuration, humanSize } from './units';

describe('strconv float formatting', () => {
  it('formats floats with strconv rounding (half to even on exact ties)', () => {
    assert.equal(formatFloatG(1.125, 3), '1.12');
    assert.equal(formatFloatG(1.375, 3), '1.38');
    assert.equal(formatFloatG(999.5, 3), '1e+03');
    assert.equal(formatFloatG(77.9, 3), '77.9');
    assert.equal(formatFloatG(0.0001234, 2), '0.00012');
    assert.equal(formatFloatG(0.00001234, 2), '1.2e-05');
    assert.equal(formatFloatG(-2.5, 1), '-2');
    assert.equal(formatFloatF(2.5, 0), '2');
    assert.equal(formatFloatF(3.5, 0), '4');
    assert.equal(formatFloatF(3.14159, 2), '3.14');
    assert.equal(formatFloatF(9.999, 2), '10.00');
    assert.equal(formatFloatF(0.006, 2), '0.01');
    assert.equal(formatFloatF(0.0004, 2), '0.00');
    assert.equal(formatFloatF(0, 3), '0.000');
    assert.equal(formatFloatF(-1.5, 1), '-1.5');
  });
});

describe('go-units', () => {
  it('humanDuration follows go-units thresholds', () => {
    const S = 1000;
    const M = 60 * S;
    const H = 60 * M;
    const D = 24 * H;
    const cases: [number, string][] = [
      [-5 * S, 'Less than a second'],
      [0, 'Less than a second'],
      [999, 'Less than a second'],
      [S, '1 second'],
      [1999, '1 second'],
      [2 * S, '2 seconds'],
      [59 * S + 999, '59 seconds'],
      [M, 'About a minute'],
      [2 * M - 1, 'About a minute'],
      [2 * M, '2 minutes'],
      [H - 1, '59 minutes'],
      [H, 'About an hour'],
      [1.5 * H - 1, 'About an hour'],
      [1.5 * H, '2 hours'],
      [47 * H + 29 * M, '47 hours'],
      [47.5 * H, '2 days'],
      [13 * D, '13 days'],
      [14 * D, '2 weeks'],
      [59 * D, '8 weeks'],
      [60 * D, '2 months'],
      [729 * D, '24 months'],
      [730 * D, '2 years'],
      [3650 * D, '10 years'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  });

  it('humanSize uses decimal units and 3 significant digits (docker images)', () => {
    const cases: [number, string][] = [
      [0, '0B'],
      [999, '999B'],
      [1000, '1kB'],
      [1500, '1.5kB'],
      [1125, '1.12kB'],
      [2140160, '2.14MB'],
      [4.26e6, '4.26MB'],
      [77.9e6, '77.9MB'],
      [999500, '1e+03kB'],
      [1e12, '1TB'],
      [1.5e27, '1.5e+03YB'],
    ];
    for (const [n, want] of cases) assert.equal(humanSize(n, 3), want, String(n));
    assert.equal(humanSize(2140160, 4), '2.14MB');
    assert.equal(humanSize(999500, 4), '999.5kB');
  });

  it('humanSize defaults to HumanSize precision 4 (docker system df)', () => {
    assert.equal(humanSize(1125), '1.125kB');
    assert.equal(humanSize(999500), '999.5kB');
    assert.equal(humanSize(1234567), '1.235MB');
    assert.equal(humanSize(2140160), '2.14MB');
    assert.equal(humanSize(1.5e27), '1500YB');
  });

  it('bytesSize uses binary units and 4 significant digits (docker info)', () => {
    assert.equal(bytesSize(0), '0B');
    assert.equal(bytesSize(1023), '1023B');
    assert.equal(bytesSize(1024), '1KiB');
    assert.equal(bytesSize(1536), '1.5KiB');
    assert.equal(bytesSize(1048576), '1MiB');
    assert.equal(bytesSize(23.47 * 2 ** 30), '23.47GiB');
  });
});
