/**
 * `network create`'s IPAM flags grouped per subnet, as the docker 28 CLI does before it sends
 * them: each --ip-range, --gateway and --aux-address goes to the --subnet that contains it.
 * Containment follows Go's net package (ParseCIDR, IPNet.Contains), so an IPv4 address never
 * falls in an IPv6 subnet and IPv4-mapped IPv6 addresses count as IPv4.
 */
import { isIP } from 'node:net';

export interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IpamOptions {
  subnets: string[];
  ipRanges: string[];
  gateways: string[];
  /** --aux-address name=ip, in the order given. */
  auxAddresses: [string, string][];
}

/** An address as Go's IP.To4 would leave it: 4 bytes for IPv4 (mapped or not), else 16. */
function ipBytes(s: string): number[] | undefined {
  const kind = isIP(s);
  if (kind === 4) return s.split('.').map(Number);
  if (kind !== 6 || s.includes('%')) return undefined;
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const dbl = s.indexOf('::');
  const left = groups(dbl < 0 ? s : s.slice(0, dbl));
  const right = dbl < 0 ? [] : groups(s.slice(dbl + 2));
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

interface Cidr {
  ip: number[];
  bits: number;
  /** The address length the prefix counts in: 4 for an IPv4 CIDR, 16 for IPv6. */
  len: number;
}

/** Go's net.ParseCIDR, with its error text. */
function parseCidr(s: string): Cidr {
  const fail = () => new Error(`invalid CIDR address: ${s}`);
  const slash = s.indexOf('/');
  if (slash < 0) throw fail();
  const addr = s.slice(0, slash);
  const mask = s.slice(slash + 1);
  const ip = ipBytes(addr);
  if (!ip || !/^[0-9]+$/.test(mask)) throw fail();
  const len = isIP(addr) === 4 ? 4 : 16;
  const bits = Number(mask);
  if (bits > len * 8) throw fail();
  return { ip, bits, len };
}

/** IPNet.Contains: the network number of `net` and `ip` agree under the mask. */
function contains(net: Cidr, ip: number[] | undefined): boolean {
  if (!ip) return false;
  // A mapped IPv6 network compares as IPv4, with the low 32 bits of its mask.
  const bits = net.len === 16 && net.ip.length === 4 ? Math.max(0, net.bits - 96) : net.bits;
  if (ip.length !== net.ip.length) return false;
  for (let i = 0; i < ip.length; i++) {
    const m = bits >= (i + 1) * 8 ? 0xff : bits <= i * 8 ? 0 : (0xff << (8 - (bits - i * 8))) & 0xff;
    if ((ip[i]! & m) !== (net.ip[i]! & m)) return false;
  }
  return true;
}

/** The CLI's subnetMatches: whether `data` (an address or a CIDR) lies in `subnet`. */
export function subnetMatches(subnet: string, data: string): boolean {
  let net: Cidr;
  try {
    net = parseCidr(subnet);
  } catch (e) {
    throw new Error(`invalid subnet: ${(e as Error).message}`);
  }
  const ip = data.includes('/') ? parseCidr(data).ip : ipBytes(data);
  return contains(net, ip);
}

/**
 * createIPAMConfig of the docker CLI: one config per subnet (in the order given; Docker's own
 * order is its map's, i.e. random), with the range, gateway and aux addresses inside it.
 */
export function ipamConfigs(o: IpamOptions): IpamConfig[] {
  if (o.subnets.length < o.ipRanges.length || o.subnets.length < o.gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const bySubnet = new Map<string, IpamConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of o.subnets) {
    for (const k of bySubnet.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    bySubnet.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  for (const r of o.ipRanges) {
    let match = false;
    for (const s of o.subnets) {
      parseCidr(r);
      if (!subnetMatches(s, r)) continue;
      const cfg = bySubnet.get(s)!;
      if (cfg.IPRange) throw new Error(`cannot configure multiple ranges (${r}, ${cfg.IPRange}) on the same subnet (${s})`);
      cfg.IPRange = r;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for range ${r}`);
  }
  for (const g of o.gateways) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, g)) continue;
      const cfg = bySubnet.get(s)!;
      if (cfg.Gateway) throw new Error(`cannot configure multiple gateways (${g}, ${cfg.Gateway}) for the same subnet (${s})`);
      cfg.Gateway = g;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for gateway ${g}`);
  }
  for (const [key, aa] of o.auxAddresses) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, aa)) continue;
      bySubnet.get(s)!.AuxiliaryAddresses[key] = aa;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${aa}`);
  }
  // Go's encoding/json leaves out the empty aux map (omitempty), and writes fields in this order.
  return [...bySubnet.values()].map(({ Subnet, IPRange, Gateway, AuxiliaryAddresses }) => ({
    Subnet,
    ...(IPRange ? { IPRange } : {}),
    ...(Gateway ? { Gateway } : {}),
    ...(Object.keys(AuxiliaryAddresses).length ? { AuxiliaryAddresses } : {}),
  }));
}
