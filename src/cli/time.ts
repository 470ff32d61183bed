/**
 * Time in the docker CLI's forms: Go's time.String for CREATED AT columns, and the values
 * `--since`/`--until` accept (RFC 3339 dates, Unix timestamps, relative durations like 10m).
 */

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Go's time.Time.String() in UTC: "2026-11-27 18:00:00 +0000 UTC". */
export function goTime(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000 UTC`;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("1h30m", "10s", "1.5h"); undefined when it is not one. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return s === '0' ? 0 : undefined;
  let total = 0;
  for (const part of s.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNIT_MS[part[2]];
  }
  return m[1] === '-' ? -total : total;
}

/**
 * What the daemon expects for since/until: seconds since the epoch as "sec.nanos". Accepts a
 * Unix timestamp, an RFC 3339 date (or date-time), or a duration meaning "that long ago".
 */
export function timestampArg(value: string, now = Date.now(), flag = 'since'): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const dur = parseGoDuration(value);
  if (dur !== undefined) return ((now - dur) / 1000).toFixed(9);
  const t = Date.parse(value);
  if (!Number.isNaN(t)) return (t / 1000).toFixed(9);
  throw new Error(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`);
}

/** Go's time.Unix(sec, 0).Format(time.RFC3339) in the local zone: "2025-01-02T03:04:05Z" or "…+01:00". */
export function rfc3339Local(d: Date): string {
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}
