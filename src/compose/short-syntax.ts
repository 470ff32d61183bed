/**
 * The colon-separated short forms of `ports` and `volumes`, parsed into the long forms of the
 * model. Also used by the merge to find the unique key (target) of a short entry.
 */
import type { Port } from './model';

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

interface Range {
  start: number;
  end: number;
}

function parseRange(s: string, what: string, min: number): Range {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new Error(`invalid ${what} ${JSON.stringify(s)}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < min || end > 65535 || end < start) throw new Error(`invalid ${what} ${JSON.stringify(s)}`);
  return { start, end };
}

export function parseProtocol(p: string | undefined): Port['protocol'] {
  const proto = (p === undefined || p === '' ? 'tcp' : p).toLowerCase();
  if (!(PROTOCOLS as readonly string[]).includes(proto)) throw new Error(`invalid protocol ${JSON.stringify(p)} (tcp, udp or sctp)`);
  return proto as Port['protocol'];
}

/**
 * `[[IP:]HOST:]CONTAINER[/PROTO]`, where HOST and CONTAINER are ports or ranges and IP may be
 * IPv6 in brackets (or bare: then the last two fields are the ports). Equal ranges pair up one to
 * one; a host range for one container port is a range to pick a free port from.
 */
export function parsePortShort(spec: string | number): Port[] {
  let s = String(spec).trim();
  let protocol: Port['protocol'] = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = parseProtocol(s.slice(slash + 1));
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  let host = '';
  let container: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') throw new Error(`invalid port ${JSON.stringify(spec)}`);
    hostIp = s.slice(1, close);
    const rest = s.slice(close + 2).split(':');
    if (rest.length !== 2) throw new Error(`invalid port ${JSON.stringify(spec)}`);
    [host, container] = rest;
  } else {
    const parts = s.split(':');
    container = parts[parts.length - 1];
    if (parts.length >= 2) host = parts[parts.length - 2];
    if (parts.length >= 3) hostIp = parts.slice(0, -2).join(':');
  }
  if (hostIp !== undefined && !isIp(hostIp)) throw new Error(`invalid host IP ${JSON.stringify(hostIp)} in port ${JSON.stringify(spec)}`);
  if (hostIp === '') hostIp = undefined;
  const target = parseRange(container, 'container port', 1);
  const published = host === '' ? undefined : parseRange(host, 'host port', 0);
  const count = target.end - target.start + 1;
  const base = (t: number): Port => ({ target: t, protocol, ...(hostIp !== undefined ? { hostIp } : {}) });
  if (!published) return Array.from({ length: count }, (_, i) => base(target.start + i));
  const hostCount = published.end - published.start + 1;
  if (count === 1) {
    const p = published.start === published.end ? String(published.start) : `${published.start}-${published.end}`;
    return [{ ...base(target.start), published: p }];
  }
  if (hostCount !== count) throw new Error(`port ranges of different sizes in ${JSON.stringify(spec)}`);
  return Array.from({ length: count }, (_, i) => ({ ...base(target.start + i), published: String(published.start + i) }));
}

function isIp(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':');
}

export interface ShortVolume {
  /** Absent for an anonymous volume. */
  source?: string;
  /** The source is a host path (starts with `.`, `/` or `~`), not a volume name. */
  isPath: boolean;
  target: string;
  readOnly: boolean;
  nocopy: boolean;
}

const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const VOLUME_MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'copy', 'cached', 'delegated', 'consistent', ...PROPAGATION]);

export function isHostPath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s === '~' || s.startsWith('~/');
}

/** `[SOURCE:]TARGET[:MODE]`, MODE a comma list of ro, rw, z, Z, nocopy and propagation flags. */
export function parseVolumeShort(spec: string): ShortVolume {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new Error(`invalid volume ${JSON.stringify(spec)} (expected [SOURCE:]TARGET[:MODE])`);
  if (parts.length === 1) return { isPath: false, target: parts[0], readOnly: false, nocopy: false };
  const [source, target, mode = ''] = parts;
  const flags = mode === '' ? [] : mode.split(',');
  for (const f of flags) if (!VOLUME_MODES.has(f)) throw new Error(`invalid volume mode ${JSON.stringify(f)} in ${JSON.stringify(spec)}`);
  return { source, isPath: isHostPath(source), target, readOnly: flags.includes('ro'), nocopy: flags.includes('nocopy') };
}
