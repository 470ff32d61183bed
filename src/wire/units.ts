/**
 * Human-readable durations and sizes exactly as Docker prints them (github.com/docker/go-units):
 * the daemon uses them for `ps` status text, the CLI for its tables.
 *
 * go-units sizes are fmt's %g, and strconv rounds the exact binary value half to even
 * ("1.12kB" for 1125 bytes, where toPrecision says "1.13"), so Go's float formatting lives
 * here too; the CLI's template printf reuses it because src/wire must not import from src/cli.
 */

/** go-units HumanDuration: seconds and minutes truncate, hours round, days etc. from rounded hours. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  const minutes = Math.trunc(ms / 60_000);
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`; // years use unrounded hours
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function customSize(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  for (; size >= base && i < units.length - 1; i++) size /= base;
  return formatFloatG(size, precision) + units[i];
}

/**
 * go-units HumanSizeWithPrecision (decimal units); the default 4 is go-units HumanSize
 * (docker system df), while docker images/ps pass 3 ("77.9MB"). Being Go's %g it can
 * print "1e+03kB".
 */
export function humanSize(bytes: number, precision = 4): string {
  return customSize(bytes, 1000, DECIMAL, precision);
}

/** go-units BytesSize (binary units, %.4g), as docker info prints "Total Memory: 23.47GiB". */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 1024, BINARY, 4);
}

// ---------------------------------------------------------------- strconv float formatting

type Decimal = { digits: string; point: number }; // value = 0.digits × 10^point

/** Exact decimal expansion of a positive finite double, so rounding can match strconv. */
function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (biased ? 1n << 52n : 0n);
  const e2 = (biased || 1) - 1075;
  const n = (e2 >= 0 ? mant << BigInt(e2) : mant * 5n ** BigInt(-e2)).toString();
  return { digits: n.replace(/0+$/, ''), point: e2 >= 0 ? n.length : n.length + e2 };
}

/** Keeps `keep` leading digits; exact ties round half to even, as strconv does. */
function roundDecimal(d: Decimal, keep: number): Decimal {
  if (keep < 0) return { digits: '', point: d.point };
  if (d.digits.length <= keep) return d;
  let head = d.digits.slice(0, keep);
  const rest = d.digits.slice(keep);
  let point = d.point;
  if (rest[0]! > '5' || (rest[0] === '5' && (rest.length > 1 || Number(head[keep - 1] ?? 0) % 2 === 1))) {
    const inc = (BigInt('0' + head) + 1n).toString();
    if (inc.length > head.length) point++;
    head = inc.length > head.length ? inc.slice(0, Math.max(keep, 1)) : inc.padStart(head.length, '0');
  }
  return { digits: head.replace(/0+$/, ''), point };
}

/** strconv's %g layout: exponent form when exp < -4 or exp >= eprec; trailing zeros dropped. */
function layoutG({ digits, point }: Decimal, eprec: number): string {
  const exp = point - 1;
  if (digits === '') return '0';
  if (exp < -4 || exp >= eprec) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (point <= 0) return '0.' + '0'.repeat(-point) + digits;
  return point >= digits.length ? digits.padEnd(point, '0') : `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** fmt's %.<prec>g; without prec, the shortest form %v prints for a float64. */
export function formatFloatG(x: number, prec?: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (x === 0) return sign + '0';
  if (prec === undefined) {
    const [m, e] = Math.abs(x).toExponential().split('e');
    return sign + layoutG({ digits: m!.replace('.', ''), point: Number(e) + 1 }, 6);
  }
  const p = Math.max(prec, 1);
  return sign + layoutG(roundDecimal(exactDecimal(Math.abs(x)), p), p);
}

/** fmt's %.<prec>f. */
export function formatFloatF(x: number, prec: number): string {
  if (!Number.isFinite(x)) return formatFloatG(x);
  const d = x === 0 ? { digits: '', point: 0 } : exactDecimal(Math.abs(x));
  const r = roundDecimal(d, d.point + prec);
  const all = r.point >= 0 ? r.digits.padEnd(r.point + prec, '0') : '0'.repeat(-r.point) + r.digits.padEnd(prec + r.point, '0');
  const int = r.point > 0 ? all.slice(0, r.point) : '0';
  const frac = all.slice(Math.max(r.point, 0)).padEnd(prec, '0').slice(0, prec);
  return (x < 0 || Object.is(x, -0) ? '-' : '') + int + (prec > 0 ? '.' + frac : '');
}

// ---------------------------------------------------------------- parsing sizes

const SIZE_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const BINARY_MULT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const DECIMAL_MULT: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

function parseSize(s: string, mult: Record<string, number>): number {
  const m = SIZE_RE.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  // The pattern lets "1.2.3" through; Go's ParseFloat then refuses it.
  if (!/^\d+(\.\d+)?$/.test(m[1]!)) throw new Error(`invalid size: '${s}'`);
  const n = Number(m[1]);
  return Math.trunc(n * (m[2] ? mult[m[2].toLowerCase()]! : 1));
}

/** go-units RAMInBytes: "32m" = 32 MiB (binary multiples whatever the suffix). Docker's --memory, --shm-size. */
export function ramInBytes(s: string): number {
  return parseSize(s, BINARY_MULT);
}

/** go-units FromHumanSize: "1kB" = 1000 (decimal multiples). */
export function fromHumanSize(s: string): number {
  return parseSize(s, DECIMAL_MULT);
}
