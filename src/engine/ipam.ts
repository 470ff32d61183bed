/**
 * IPv4 address management as Docker's default IPAM does it, as pure functions: subnets given
 * by the user or carved from the default pools (172.17–31.0.0/16, then 192.168.x.0/20), the
 * gateway on the first host address, and container addresses handed out in order after the
 * last one given (so a released address is not handed out again at once), never the network,
 * gateway or broadcast address. The network store (network-store.ts) keeps what is taken.
 */
import { invalid } from '../errors';

/** An IPv4 prefix: its first address as an unsigned 32-bit number, and its length. */
export interface Cidr {
  base: number;
  bits: number;
}

/** Docker's local-scope default pools (libnetwork ipamutils): each split into blocks of `size`. */
export const DEFAULT_POOLS: { pool: string; size: number }[] = [
  { pool: '172.17.0.0/16', size: 16 }, { pool: '172.18.0.0/16', size: 16 }, { pool: '172.19.0.0/16', size: 16 },
  { pool: '172.20.0.0/14', size: 16 }, { pool: '172.24.0.0/14', size: 16 }, { pool: '172.28.0.0/14', size: 16 },
  { pool: '192.168.0.0/16', size: 20 },
];

export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const parts = m ? m.slice(1).map(Number) : [];
  if (parts.length !== 4 || parts.some((p) => p > 255)) throw invalid(`invalid IP address: ${s}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** "10.1.0.0/16"; host bits must be zero, as Docker requires of --subnet and --ip-range. */
export function parseCidr(s: string, what = 'subnet'): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) throw invalid(`invalid ${what} ${s}: not a CIDR address`);
  const ip = parseIp(m[1]!);
  const bits = Number(m[2]);
  const base = (ip & mask(bits)) >>> 0;
  if (base !== ip) throw invalid(`invalid ${what} ${s} : it should be ${formatIp(base)}/${bits}`);
  return { base, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.bits)) >>> 0) === c.base;
}

export function within(inner: Cidr, outer: Cidr): boolean {
  return inner.bits >= outer.bits && contains(outer, inner.base);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/**
 * The daemon's --default-address-pool values ("base=10.10.0.0/16,size=24"), checked: the block
 * size must be at least the base's prefix length.
 */
export function parseAddressPool(spec: string): { pool: string; size: number } {
  const kv = Object.fromEntries(spec.split(',').map((p) => p.split('=', 2) as [string, string]));
  const base = kv.base;
  const bits = Number(kv.size);
  if (!base || !Number.isInteger(bits) || bits < 1 || bits > 32) throw invalid(`invalid default address pool "${spec}": want base=<CIDR>,size=<prefix length>`);
  const c = parseCidr(base, 'default address pool');
  if (bits < c.bits) throw invalid(`invalid default address pool "${spec}": size /${bits} is larger than the base /${c.bits}`);
  return { pool: base, size: bits };
}

/** The first block of `pools` (Docker's defaults unless given) that overlaps none of `used`; null when every one is taken. */
export function pickSubnet(used: Cidr[], pools: { pool: string; size: number }[] = DEFAULT_POOLS): Cidr | null {
  for (const { pool, size: bits } of pools) {
    const p = parseCidr(pool);
    for (let base = p.base; contains(p, base); base = (base + size({ base, bits })) >>> 0) {
      const candidate = { base, bits };
      if (!used.some((u) => overlaps(u, candidate))) return candidate;
      if (base + size(candidate) > 0xffffffff) break;
    }
  }
  return null;
}

/** The addresses a subnet can give to hosts: all but the network and broadcast ones (a /31 or /32 gives all). */
export function hostRange(c: Cidr): { first: number; last: number } {
  if (c.bits >= 31) return { first: c.base, last: (c.base + size(c) - 1) >>> 0 };
  return { first: c.base + 1, last: (c.base + size(c) - 2) >>> 0 };
}

/**
 * The next address to hand out in `pool` (the subnet, or the --ip-range inside it) after
 * `after`, wrapping around once; `taken` holds every address already in use (the gateway
 * among them). Null when the pool is exhausted.
 */
export function nextFree(subnet: Cidr, pool: Cidr, taken: Set<number>, after: number): number | null {
  const hosts = hostRange(subnet);
  const first = Math.max(hosts.first, pool.base);
  const last = Math.min(hosts.last, pool.base + size(pool) - 1);
  if (first > last) return null;
  const start = after >= first && after < last ? after + 1 : first;
  for (let i = 0, ip = start; i <= last - first; i++, ip = ip === last ? first : ip + 1) {
    if (!taken.has(ip)) return ip;
  }
  return null;
}
