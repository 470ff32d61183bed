/**
 * The embedded DNS's view of the containers (dns-server.ts asks, this answers): on a
 * user-defined network a container resolves the others on that network by container name,
 * network alias and short id, and its other queries go to its --dns servers, the daemon's, or
 * the host's. The asker is known by its source address; the default bridge has no DNS of its own.
 */
import { hostNameservers } from '../runtime/host-net';
import type { ContainerRecord } from './container-model';
import type { DnsResolver } from './dns-server';
import type { LiveEndpoint } from './networks';

/** What the view reads: the live endpoints, the records, the networks' names. */
export interface DnsSource {
  live(): Iterable<[string, Map<string, LiveEndpoint>]>;
  record(id: string): ContainerRecord | undefined;
  networkName(id: string): string;
  /** User-defined networks only: the default bridge has no embedded DNS. */
  hasDns(networkId: string): boolean;
  /** The daemon's --dns. */
  daemonDns: string[];
}

export class ContainerDns implements DnsResolver {
  constructor(private readonly src: DnsSource) {}

  lookup(asker: string, name: string, type: 'A' | 'AAAA'): string[] | null {
    const net = this.networkOf(asker);
    if (!net) return null;
    let found = false;
    const out: string[] = [];
    for (const [id, endpoints] of this.src.live()) {
      const ep = endpoints.get(net);
      const r = ep && this.src.record(id);
      if (!ep || !r) continue;
      const cfg = Object.values(r.spec.Networks ?? {}).find((e) => e.NetworkID === net);
      if (![r.name, id.slice(0, 12), ...(cfg?.Aliases ?? [])].some((n) => n.toLowerCase() === name)) continue;
      found = true;
      const addr = type === 'A' ? ep.ip : ep.ip6;
      if (addr) out.push(addr);
    }
    return found ? out : null;
  }

  /** PTR: "<container>.<network>" for an address on the asker's network. */
  reverse(asker: string, ip: string): string | null {
    const net = this.networkOf(asker);
    if (!net) return null;
    for (const [id, endpoints] of this.src.live()) {
      const ep = endpoints.get(net);
      if (ep?.ip !== ip && ep?.ip6 !== ip) continue;
      const r = this.src.record(id);
      if (r) return `${r.name}.${this.src.networkName(net)}`;
    }
    return null;
  }

  /** Where `asker`'s other queries go: its --dns servers, else the daemon's, else the host's. */
  upstreams(asker: string): string[] {
    for (const [id, endpoints] of this.src.live()) {
      if (![...endpoints.values()].some((e) => e.ip === asker || e.ip6 === asker)) continue;
      const dns = (this.src.record(id)?.spec.HostConfig.Dns as string[] | undefined) ?? [];
      if (dns.length) return dns;
      break;
    }
    return this.src.daemonDns.length ? this.src.daemonDns : hostNameservers();
  }

  private networkOf(ip: string): string | undefined {
    for (const [, endpoints] of this.src.live()) {
      for (const ep of endpoints.values()) if ((ep.ip === ip || ep.ip6 === ip) && this.src.hasDns(ep.networkId)) return ep.networkId;
    }
    return undefined;
  }
}
