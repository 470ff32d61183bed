/**
 * IPv6 for networks with --ipv6, as pure functions over 128-bit numbers (bigint): the subnet the
 * user gives or a ULA /64 derived from the network's id (RFC 4193: fd00::/8 and a 40-bit
 * global id, here taken from the id's hash instead of a random draw), the gateway on ::1, and a
 * container's address as the subnet plus the host part of its IPv4 address on the same network.
 * The IPv4 address is handed out once (network-store.ts), so the IPv6 one is too, with no second
 * record to keep in step.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { invalid } from '../errors';

export interface Cidr6 {
  base: bigint;
  bits: number;
}

const ALL = (1n << 128n) - 1n;

export function parseIp6(s: string): bigint {
  if (!isIPv6(s) || s.includes('.') || s.includes('%')) throw invalid(`invalid IPv6 address: ${s}`);
  const halves = s.split('::');
  const groups = (x: string | undefined) => (x ? x.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = [...head, ...Array(halves.length === 2 ? 8 - head.length - tail.length : 0).fill('0'), ...tail];
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The shortest form: the longest run of zero groups (two or more) becomes "::" (RFC 5952). */
export function formatIp6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt((7 - i) * 16)) & 0xffffn));
  let best = -1;
  let len = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len && j - i >= 2) [best, len] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + len).join(':')}`;
}

function mask6(bits: number): bigint {
  return bits === 0 ? 0n : (ALL << BigInt(128 - bits)) & ALL;
}

/** "fd00:1::/64"; host bits must be zero, as Docker requires. At most a /120: room for containers. */
export function parseCidr6(s: string): Cidr6 {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m || Number(m[2]) > 120) throw invalid(`invalid subnet ${s}: not an IPv6 CIDR address with a prefix length of at most 120`);
  const ip = parseIp6(m[1]!);
  const bits = Number(m[2]);
  const base = ip & mask6(bits);
  if (base !== ip) throw invalid(`invalid subnet ${s} : it should be ${formatIp6(base)}/${bits}`);
  return { base, bits };
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIp6(c.base)}/${c.bits}`;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const bits = Math.min(a.bits, b.bits);
  return (a.base & mask6(bits)) === (b.base & mask6(bits));
}

/** A ULA /64 for the network with this id: fd, 40 bits of its hash, subnet 0. */
export function ulaFor(networkId: string): Cidr6 {
  const h = createHash('sha256').update(networkId).digest();
  const globalId = h.readUIntBE(0, 5);
  return { base: (0xfdn << 120n) | (BigInt(globalId) << 80n), bits: 64 };
}

/** The container's address: the subnet plus `hostPart` (its IPv4 address's bits after the IPv4 prefix). */
export function addressFor(c: Cidr6, hostPart: number): string {
  const room = 128 - c.bits;
  if (room < 32 && BigInt(hostPart) >= 1n << BigInt(room)) throw invalid(`IPv6 subnet ${formatCidr6(c)} is too small for this network's IPv4 addresses`);
  return formatIp6(c.base + BigInt(hostPart));
}
