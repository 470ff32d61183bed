/**
 * Host ports of published container ports, held by berthd with a bound socket for as long as
 * the mapping exists. IPv4 traffic never reaches these sockets (DNAT in nat PREROUTING/OUTPUT
 * sends it to the container first); they reserve the port, so a host program cannot take it from
 * under the container, one that holds it already makes the publish fail with a clear error, and
 * an ephemeral host port (`-p 80`) is the kernel's choice.
 *
 * The IPv6 socket ([::]:port) is also the one proxy berth has, inside berthd: IPv6 has no
 * route_localnet, so [::1] cannot be DNAT'ed, and a container without IPv6 cannot be reached by
 * NAT from IPv6 at all. TCP connections that arrive on it are piped to the container. No process
 * per port, unlike docker-proxy.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { BerthError } from '../errors';

export type Proto = 'tcp' | 'udp' | 'sctp';

interface Held {
  owner: string;
  close: () => void;
}

export class PortReservations {
  private readonly held = new Map<string, Held>();

  /**
   * Binds `hostIp`:`port` for `owner` (any port of [first, last] when a range is given; the
   * kernel's choice for 0). Returns the port bound.
   */
  async reserve(owner: string, proto: Proto, hostIp: string, first: number, last = first, proxyTo?: { host: string; port: number }): Promise<number> {
    if (proto === 'sctp') throw new BerthError('not-implemented', 'publishing SCTP ports is not supported by berth');
    const ip = hostIp || '0.0.0.0';
    let lastError: Error | undefined;
    for (let port = first; port <= last; port++) {
      const held = port === 0 ? undefined : this.holder(proto, ip, port);
      if (held) {
        lastError = new BerthError('conflict', `Bind for ${ip}:${port} failed: port is already allocated`);
        continue;
      }
      try {
        const bound = proto === 'tcp' ? await bindTcp(ip, port, proxyTo) : await bindUdp(ip, port);
        this.held.set(key(proto, ip, bound.port), { owner, close: bound.close });
        return bound.port;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') lastError = new BerthError('conflict', `failed to bind host port for ${ip}:${port}/${proto}: address already in use`);
        else if (code === 'EADDRNOTAVAIL') throw new BerthError('invalid', `failed to bind host port for ${ip}:${port}/${proto}: cannot assign requested address`);
        else throw e;
      }
    }
    throw lastError ?? new BerthError('conflict', `no free host port in ${first}-${last}`);
  }

  /** Closes every socket `owner` holds. */
  release(owner: string): void {
    for (const [k, h] of this.held) {
      if (h.owner !== owner) continue;
      h.close();
      this.held.delete(k);
    }
  }

  /** A wildcard bind and a specific one on the same port conflict, as the kernel has it (per family). */
  private holder(proto: Proto, ip: string, port: number): Held | undefined {
    const v6 = ip.includes(':');
    const any = v6 ? '::' : '0.0.0.0';
    if (ip === any) return [...this.held.entries()].find(([k]) => k.startsWith(`${proto}/`) && k.endsWith(`:${port}`) && isV6Key(k) === v6)?.[1];
    return this.held.get(key(proto, ip, port)) ?? this.held.get(key(proto, any, port));
  }
}

function key(proto: Proto, ip: string, port: number): string {
  return `${proto}/${ip}:${port}`;
}

function isV6Key(k: string): boolean {
  return k.split(':').length > 2;
}

function bindTcp(ip: string, port: number, proxyTo?: { host: string; port: number }): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const open = new Set<net.Socket>();
    const server = net.createServer((client) => {
      if (!proxyTo) return client.destroy();
      const upstream = net.connect({ host: proxyTo.host, port: proxyTo.port });
      for (const s of [client, upstream]) {
        open.add(s);
        s.on('close', () => open.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.once('error', reject);
    // Without a proxy, backlog 1: nothing is ever accepted there (DNAT sees the traffic first).
    server.listen({ host: ip, port, backlog: proxyTo ? 511 : 1, exclusive: true, ...(ip === '::' ? { ipv6Only: true } : {}) }, () => {
      server.removeListener('error', reject);
      server.on('error', () => {});
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          server.close();
          for (const s of open) s.destroy();
        },
      });
    });
    server.unref();
  });
}

function bindUdp(ip: string, port: number): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', reuseAddr: false, ...(ip === '::' ? { ipv6Only: true } : {}) });
    sock.once('error', reject);
    sock.bind({ address: ip, port, exclusive: true }, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      // Datagrams DNAT missed (none expected) are dropped unread.
      sock.on('message', () => {});
      resolve({ port: sock.address().port, close: () => sock.close() });
    });
    sock.unref();
  });
}
