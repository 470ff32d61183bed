/**
 * What the host's own network looks like, read from the kernel and /etc: its IPv4 routes (a new
 * network's subnet must not overlap them), whether it has IPv6, and its resolvers.
 */
import * as fs from 'node:fs';

/** An IPv4 prefix as the IPAM functions take it (engine/ipam.ts). */
export interface RoutePrefix {
  base: number;
  bits: number;
}

/** IPv4 routes of the host but the default route, from /proc/net/route (fields in host byte order). */
export function hostRoutes(): RoutePrefix[] {
  try {
    return fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).flatMap((line) => {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) return [];
      const le = (h: string) => Buffer.from(h, 'hex').readUInt32LE(0);
      const mask = le(f[7]!);
      if (mask === 0) return [];
      const bits = 32 - Math.log2((~mask >>> 0) + 1);
      return Number.isInteger(bits) ? [{ base: le(f[1]!) >>> 0, bits }] : [];
    });
  } catch {
    return [];
  }
}

/** Whether the host has IPv6 at all (a kernel booted with ipv6.disable=1 has no if_inet6). */
export function hostHasIpv6(): boolean {
  return fs.existsSync('/proc/net/if_inet6');
}

/** The host's resolvers that mean something from a container (not loopback ones). */
export function hostNameservers(): string[] {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8').split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((ip): ip is string => !!ip && !ip.startsWith('127.') && ip !== '::1');
  } catch {
    return [];
  }
}
