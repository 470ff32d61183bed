/**
 * Human-readable durations and sizes exactly as Docker prints them (github.com/docker/go-units):
 * the daemon uses them for `ps` status text, the CLI for its tables.
 */

/** go-units HumanDuration: "Less than a second", "About a minute", "3 hours", … */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  // Hours are rounded, unlike the smaller units.
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]];
}

/** Go's %.<p>g: p significant digits, trailing zeros dropped. */
function gFormat(n: number, precision: number): string {
  return String(Number(n.toPrecision(precision)));
}

/** go-units HumanSizeWithPrecision (decimal units); `docker images` uses precision 3: "2.14MB". */
export function humanSize(bytes: number, precision = 4): string {
  const [n, unit] = scaled(bytes, 1000, DECIMAL);
  return `${gFormat(n, precision)}${unit}`;
}

/** go-units BytesSize (binary units), as `docker info` prints memory: "23.47GiB". */
export function bytesSize(bytes: number): string {
  const [n, unit] = scaled(bytes, 1024, BINARY);
  return `${gFormat(n, 4)}${unit}`;
}
