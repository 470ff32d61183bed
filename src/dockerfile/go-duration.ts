/** Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "1.5h", "-2us"); throws Go's messages. */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3, // micro sign
  '\u03bcs': 1e3, // Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const MAX_NS = 2 ** 63 - 1;

export function parseGoDuration(orig: string): number {
  const invalid = () => new Error(`time: invalid duration "${orig}"`);
  let s = orig;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole = '', frac] = [m[1], m[2]];
    if (whole === '' && (frac === undefined || frac === '')) throw invalid();
    s = s.slice(m[0].length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (unit === '') throw new Error(`time: missing unit in duration "${orig}"`);
    const scale = Object.hasOwn(UNIT_NS, unit) ? UNIT_NS[unit] : undefined;
    if (scale === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${orig}"`);
    s = s.slice(unit.length);
    total += Number(whole || '0') * scale + (frac ? Number(`0.${frac}`) * scale : 0);
    if (total > MAX_NS) throw invalid();
  }
  return sign * Math.floor(total);
}
