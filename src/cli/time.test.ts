import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goTime, parseGoDuration, timestampArg } from './time';

describe('goTime', () => {
  it("formats like Go's time.Time.String() in UTC", () => {
    assert.equal(goTime(new Date(Date.UTC(2026, 10, 27, 18, 0, 0))), '2026-11-27 18:00:00 +0000 UTC');
    assert.equal(goTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '2026-01-02 03:04:05 +0000 UTC');
  });

  it('zero-pads month, day and clock fields', () => {
    assert.equal(goTime(new Date(Date.UTC(2026, 8, 9, 0, 0, 9))), '2026-09-09 00:00:09 +0000 UTC');
    assert.equal(goTime(new Date(0)), '1970-01-01 00:00:00 +0000 UTC');
  });

  it(
    'pads the year to four digits, as Go does (the zero time is 0001-01-01)',
    () => {
      assert.equal(goTime(new Date('0001-01-01T00:00:00Z')), '0001-01-01 00:00:00 +0000 UTC');
      assert.equal(goTime(new Date(Date.UTC(999, 8, 9, 0, 0, 9))), '0999-09-09 00:00:09 +0000 UTC');
    },
  );

  it('uses UTC regardless of the local time zone', () => {
    // 23:30 UTC on Dec 31 stays in that day and year.
    assert.equal(goTime(new Date('2025-12-31T23:30:00Z')), '2025-12-31 23:30:00 +0000 UTC');
  });
});

describe('parseGoDuration', () => {
  const H = 3_600_000;
  it('parses single and combined units', () => {
    assert.equal(parseGoDuration('10s'), 10_000);
    assert.equal(parseGoDuration('1h30m'), 1.5 * H);
    assert.equal(parseGoDuration('2h45m30s'), 2 * H + 45 * 60_000 + 30_000);
    assert.equal(parseGoDuration('500ms'), 500);
    assert.equal(parseGoDuration('1m'), 60_000);
  });

  it('accepts fractions', () => {
    assert.equal(parseGoDuration('1.5h'), 1.5 * H);
    assert.equal(parseGoDuration('.5s'), 500);
    assert.equal(parseGoDuration('1.s'), 1000);
  });

  it('accepts sub-millisecond units', () => {
    assert.equal(parseGoDuration('1500us'), 1.5);
    assert.equal(parseGoDuration('1500µs'), 1.5);
    assert.equal(parseGoDuration('2000000ns'), 2);
  });

  it('accepts a sign', () => {
    assert.equal(parseGoDuration('-1h'), -H);
    assert.equal(parseGoDuration('+10m'), 600_000);
  });

  it('accepts a bare "0" and no other unitless number', () => {
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('1h30'), undefined);
  });

  it('returns undefined for junk', () => {
    for (const s of ['', 'abc', '1d', '10 s', 'h', '1hh', '1.2.3s', '2026-01-01', 'ms']) {
      assert.equal(parseGoDuration(s), undefined, JSON.stringify(s));
    }
  });
});

describe('timestampArg', () => {
  const NOW = Date.UTC(2026, 10, 27, 18, 0, 0); // 1795802400 s

  it('passes Unix timestamps through unchanged', () => {
    assert.equal(timestampArg('1700000000', NOW), '1700000000');
    assert.equal(timestampArg('1700000000.123456789', NOW), '1700000000.123456789');
    assert.equal(timestampArg('0', NOW), '0');
  });

  it('turns a duration into "now minus duration" in seconds with nanoseconds', () => {
    assert.equal(timestampArg('10m', NOW), '1795801800.000000000');
    assert.equal(timestampArg('1h30m', NOW), '1795797000.000000000');
    assert.equal(timestampArg('1.5s', NOW), '1795802398.500000000');
  });

  it('parses RFC 3339 dates and date-times', () => {
    assert.equal(timestampArg('2026-11-27T17:00:00Z', NOW), '1795798800.000000000');
    assert.equal(timestampArg('2026-11-27T18:00:00+01:00', NOW), '1795798800.000000000');
    assert.equal(timestampArg('2026-11-27T17:00:00.25Z', NOW), '1795798800.250000000');
    assert.equal(timestampArg('2026-11-27', NOW), '1795737600.000000000');
  });

  it('rejects junk with the docker CLI message', () => {
    for (const v of ['yesterday', 'abc', '10x']) {
      assert.throws(
        () => timestampArg(v, NOW),
        (e: unknown) => e instanceof Error && e.message === `invalid value for "since": failed to parse value as time or duration: "${v}"`,
      );
    }
  });
});
