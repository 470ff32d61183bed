/**
 * Docker's port specs as `run -p`, `--expose` and `port` read them (go-connections' nat package
 * as the docker 28 CLI uses it): `[ip:][hostPort:]containerPort[/proto]`, ranges on either side,
 * bracketed IPv6 host addresses. The error texts are Docker's; scripts match on them.
 */
import { isIP } from 'node:net';

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** "80/tcp" → its bindings, in the order given; a Map keeps the order the specs came in. */
export type PortMap = Map<string, PortBinding[]>;

/** Go's strconv.ParseUint(s, 10, 16): digits only, at most 65535. */
export function parseUint16(s: string): number {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 0xffff) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** nat.ParsePortRange: "80" or "8000-8010" (a third part, "1-2-3", is ignored, as in Go). */
export function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  if (!ports.includes('-')) {
    const n = parseUint16(ports);
    return [n, n];
  }
  const parts = ports.split('-');
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (end < start) throw new Error(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: "80/udp" → ['udp', '80']; no protocol means tcp; no port means neither. */
export function splitProtoPort(raw: string): [proto: string, port: string] {
  const slash = raw.indexOf('/');
  const port = slash < 0 ? raw : raw.slice(0, slash);
  const proto = slash < 0 ? '' : raw.slice(slash + 1);
  if (port === '') return ['', ''];
  return [proto === '' ? 'tcp' : proto, port];
}

/** Go's net.ParseIP: dotted IPv4 (no leading zeros) or IPv6 without a zone. */
export function isGoIP(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

/** The bracket stripping net.SplitHostPort(ip + ":") does for "[::1]", with its errors. */
function unbracket(ip: string): string {
  const hostport = `${ip}:`;
  const fail = (why: string) => new Error(`invalid IP address ${ip}: address ${hostport}: ${why}`);
  const end = hostport.indexOf(']');
  const last = hostport.length - 1;
  if (end < 0) throw fail("missing ']' in address");
  if (end + 1 !== last) throw fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
  if (hostport.indexOf('[', 1) >= 0) throw fail("unexpected '[' in address");
  if (hostport.indexOf(']', end + 1) >= 0) throw fail("unexpected ']' in address");
  return hostport.slice(1, end);
}

/** nat's splitParts: the last two colon-separated parts are the ports, the rest is the IP. */
function splitParts(raw: string): [ip: string, hostPort: string, containerPort: string] {
  const parts = raw.split(':');
  const n = parts.length;
  if (n === 1) return ['', '', parts[0]!];
  if (n === 2) return ['', parts[0]!, parts[1]!];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

/** nat.ParsePortSpec: one spec → one mapping per container port of its range. */
export function parsePortSpec(raw: string): { port: string; binding: PortBinding }[] {
  let [ip, hostPort, containerPort] = splitParts(raw);
  let proto: string;
  [proto, containerPort] = splitProtoPort(containerPort);
  proto = proto.toLowerCase();
  // The order of these checks is nat's: an empty container port fails as a protocol first.
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new Error(`invalid proto: ${proto}`);
  if (ip !== '' && ip[0] === '[') ip = unbracket(ip);
  if (ip !== '' && !isGoIP(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);

  let start: number, end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0, hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new Error(`invalid hostPort: ${hostPort}`);
    }
    // A host range with a single container port is the range to pick a free port from.
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  const out: { port: string; binding: PortBinding }[] = [];
  const count = end - start + 1;
  for (let i = 0; i < count; i++) {
    let hp = '';
    if (hostPort !== '') {
      hp = String(hostStart + i);
      if (count === 1 && hostStart !== hostEnd) hp += `-${hostEnd}`;
    }
    out.push({ port: `${start + i}/${proto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/**
 * The docker CLI's convertToStandardNotation: `-p published=8080,target=80,protocol=udp` (the
 * service syntax) becomes "8080:80/udp"; anything without "=" is kept as is.
 */
export function standardNotation(spec: string): string {
  if (!spec.includes('=')) return spec;
  const params: Record<string, string> = { protocol: 'tcp' };
  for (const param of spec.split(',')) {
    const eq = param.indexOf('=');
    if (eq <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
    params[param.slice(0, eq)] = param.slice(eq + 1);
  }
  return `${params.published ?? ''}:${params.target ?? ''}/${params.protocol}`;
}

/** nat.ParsePortSpecs over `-p` values: the exposed ports and the bindings of each. */
export function parsePortSpecs(specs: readonly string[]): { exposed: Set<string>; bindings: PortMap } {
  const exposed = new Set<string>();
  const bindings: PortMap = new Map();
  for (const spec of specs.map(standardNotation)) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed.add(port);
      bindings.set(port, [...(bindings.get(port) ?? []), binding]);
    }
  }
  return { exposed, bindings };
}

/** `--expose 80`, `--expose 7000-7010/udp`: the ports it adds (a protocol is not checked, as in Docker). */
export function parseExpose(value: string): string[] {
  if (value.includes(':')) throw new Error(`invalid port format for --expose: ${value}`);
  const [proto, port] = splitProtoPort(value);
  let start: number, end: number;
  try {
    [start, end] = parsePortRange(port);
  } catch (e) {
    throw new Error(`invalid range format for --expose: ${value}, error: ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Go's net.JoinHostPort: IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/**
 * fvbommel/sortorder's NaturalLess, which docker uses to sort `port` lines and network names:
 * runs of digits compare as numbers, digits sort before other bytes, bytes compare as UTF-8.
 */
export function naturalLess(a: string, b: string): boolean {
  const s1 = Buffer.from(a, 'utf8');
  const s2 = Buffer.from(b, 'utf8');
  let i = 0, j = 0;
  while (i < s1.length && j < s2.length) {
    const d1 = isDigit(s1[i]!), d2 = isDigit(s2[j]!);
    if (d1 !== d2) return d1;
    if (!d1) {
      if (s1[i] !== s2[j]) return s1[i]! < s2[j]!;
      i++;
      j++;
      continue;
    }
    while (i < s1.length && s1[i] === 0x30) i++;
    while (j < s2.length && s2[j] === 0x30) j++;
    const nz1 = i, nz2 = j;
    while (i < s1.length && isDigit(s1[i]!)) i++;
    while (j < s2.length && isDigit(s2[j]!)) j++;
    if (i - nz1 !== j - nz2) return i - nz1 < j - nz2;
    const n1 = s1.subarray(nz1, i).toString('latin1'), n2 = s2.subarray(nz2, j).toString('latin1');
    if (n1 !== n2) return n1 < n2;
    if (nz1 !== nz2) return nz1 < nz2;
  }
  return s1.length < s2.length;
}

/** A comparator for Array.prototype.sort from naturalLess. */
export function naturalCompare(a: string, b: string): number {
  return naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0;
}
