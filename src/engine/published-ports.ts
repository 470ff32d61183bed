/**
 * Published ports of a container's endpoint: the host ports bound (port-reservations.ts) and the
 * iptables rules that carry the traffic (network-rules.ts), for a start and again after a daemon
 * restart. A port published on every address is on [::] too, on the same number, as Docker
 * publishes it: DNAT'ed when the container has IPv6, and proxied by berthd for TCP where NAT
 * cannot go ([::1], a container without IPv6).
 */
import { BerthError } from '../errors';
import type { Rule } from '../runtime/iptables';
import { hostHasIpv6 } from '../runtime/host-net';
import type { ContainerRecord } from './container-model';
import type { LiveEndpoint } from './networks';
import { portRules, portRules6 } from './network-rules';
import { type Bindings, type PortMap, publishedPorts, publishedRequests } from './port-bindings';
import { type Proto, PortReservations } from './port-reservations';

export interface Published {
  ports: PortMap;
  rules: Rule[];
  rules6: Rule[];
}

export class PublishedPorts {
  private readonly reservations = new PortReservations();

  /**
   * Binds the host ports `r` asks for (PortBindings, -P) for its endpoint `ep` on `bridge`;
   * the map inspect shows and the rules to add. `ep` undefined: no network to publish on.
   */
  async publish(r: ContainerRecord, ep: LiveEndpoint | undefined, bridge: string): Promise<Published> {
    const hc = r.spec.HostConfig as { PortBindings?: Bindings | null; PublishAllPorts?: boolean };
    const { requested, ports } = publishedRequests(hc.PortBindings ?? {}, hc.PublishAllPorts === true, r.spec.Config.ExposedPorts ?? {});
    const out: Published = { ports, rules: [], rules6: [] };
    if (!ep) return out;
    const failed = (e: unknown) => new BerthError((e as BerthError).kind ?? 'internal', `driver failed programming external connectivity on endpoint ${r.name} (${ep.hostIf}): ${(e as Error).message}`);
    try {
      for (const q of requested) {
        const port = await this.reservations.reserve(r.id, q.proto, q.hostIp, q.first, q.last);
        (ports[q.key] ??= []).push({ HostIp: q.hostIp || '0.0.0.0', HostPort: String(port) });
        const m = { proto: q.proto, hostIp: q.hostIp, hostPort: port, containerIp: ep.ip, containerPort: q.containerPort };
        out.rules.push(...portRules(bridge, m));
        if (q.hostIp || !hostHasIpv6() || !(await this.reserve6(r.id, q.proto, port, ep, q.containerPort))) continue;
        ports[q.key]!.push({ HostIp: '::', HostPort: String(port) });
        if (ep.ip6) out.rules6.push(...portRules6(bridge, { ...m, containerIp: ep.ip6 }));
      }
    } catch (e) {
      this.release(r.id);
      throw failed(e);
    }
    return out;
  }

  /** After a daemon restart: the host ports of a running container bound again, and its rules. */
  async adopt(id: string, ports: PortMap, ep: LiveEndpoint, bridge: string, warn: (e: unknown) => void): Promise<Omit<Published, 'ports'>> {
    const out = { rules: [] as Rule[], rules6: [] as Rule[] };
    for (const m of publishedPorts(ports)) {
      if (m.hostIp === '::') {
        await this.reserve6(id, m.proto, m.hostPort, ep, m.containerPort).catch(warn);
        if (ep.ip6) out.rules6.push(...portRules6(bridge, { ...m, hostIp: '', containerIp: ep.ip6 }));
        continue;
      }
      await this.reservations.reserve(id, m.proto, m.hostIp, m.hostPort).catch(warn);
      out.rules.push(...portRules(bridge, { ...m, containerIp: ep.ip }));
    }
    return out;
  }

  release(id: string): void {
    this.reservations.release(id);
  }

  /**
   * [::]:port: DNAT'ed to the container's IPv6 address when it has one (by the caller's rules),
   * and for TCP a proxy for what DNAT cannot take. False when there is nothing to bind (UDP to
   * a container without IPv6).
   */
  private async reserve6(owner: string, proto: Proto, port: number, ep: LiveEndpoint, containerPort: number): Promise<boolean> {
    if (proto !== 'tcp' && !ep.ip6) return false;
    const proxyTo = proto === 'tcp' ? { host: ep.ip6 ?? ep.ip, port: containerPort } : undefined;
    await this.reservations.reserve(owner, proto, '::', port, port, proxyTo);
    return true;
  }
}
