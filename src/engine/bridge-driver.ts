/**
 * The kernel side of bridge networks: the Linux bridge with its gateway address, a container's
 * veth endpoint into the namespace berthd made for it, and the iptables rules of both, each
 * tagged with its owner so teardown is exact. State lives in the database (network-store.ts);
 * everything here can be rebuilt from it, and each step is idempotent where a restart may
 * repeat it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Iptables, Rule } from '../runtime/iptables';
import { Netlink } from '../runtime/netlink';
import { CHAINS, HEADS, JUMPS } from './network-rules';

export interface EndpointWiring {
  /** The container's network namespace (bind-mounted by netns.ts). */
  nsPath: string;
  bridge: string;
  hostIf: string;
  /** Its name inside: eth0, eth1… */
  ifname: string;
  /** "172.18.0.2/16" */
  address: string;
  /** "fd12::2/64" on a network with --ipv6 */
  address6?: string;
  /** The IPv6 default route's next hop, as `gateway`. */
  gateway6?: string | null;
  mac: string;
  /** The default route's next hop; null for internal networks and for a second network. */
  gateway: string | null;
  mtu: number;
}

/** The host end of a container's veth on a network: short (15 bytes at most) and the same after a restart. */
export function hostIfName(containerId: string, networkId: string): string {
  return `bth${createHash('sha256').update(`${containerId}/${networkId}`).digest('hex').slice(0, 12)}`;
}

/** Docker's MAC for an address it generates: 02:42 and the IPv4 address. */
export function macFor(ip: string): string {
  return ['02', '42', ...ip.split('.').map((n) => Number(n).toString(16).padStart(2, '0'))].join(':');
}

export class BridgeDriver {
  private host: Netlink | undefined;
  private ipv6Ready = false;

  constructor(
    private readonly ipt: Iptables | undefined,
    private readonly ipt6: Iptables | undefined,
    private readonly log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  private nl(): Netlink {
    this.host ??= Netlink.open();
    return this.host;
  }

  /** Forwarding on, berth's chains and the jumps into them (shared by every berth daemon of the host). */
  async setUp(): Promise<void> {
    const forwarding = '/proc/sys/net/ipv4/ip_forward';
    const wasOff = fs.readFileSync(forwarding, 'utf8').trim() === '0';
    if (wasOff) fs.writeFileSync(forwarding, '1');
    if (!this.ipt) return;
    await this.ipt.ensure(CHAINS, JUMPS, HEADS);
    // As Docker: a host that did not forward before berth turned it on forwards only what berth's rules accept.
    if (wasOff) await this.ipt.restore([{ table: 'filter', line: ':FORWARD DROP [0:0]' }]);
  }

  /** IPv6 forwarding and berth's ip6tables chains, the first time a network with --ipv6 is set up. */
  private async setUp6(): Promise<void> {
    if (this.ipv6Ready) return;
    const forwarding = '/proc/sys/net/ipv6/conf/all/forwarding';
    const wasOff = fs.readFileSync(forwarding, 'utf8').trim() === '0';
    if (wasOff) fs.writeFileSync(forwarding, '1');
    if (this.ipt6) {
      await this.ipt6.ensure(CHAINS, JUMPS, HEADS);
      if (wasOff) await this.ipt6.restore([{ table: 'filter', line: ':FORWARD DROP [0:0]' }]);
    }
    this.ipv6Ready = true;
  }

  /** The bridge, its gateway address ("172.17.0.1/16", and an IPv6 one) and route_localnet; what exists is kept. */
  async ensureBridge(name: string, gatewayCidr: string, gateway6Cidr?: string): Promise<void> {
    const nl = this.nl();
    if ((await nl.index(name)) === undefined) await nl.createBridge(name);
    // A fixed address, as Docker gives its bridges: without one the bridge takes its lowest
    // port's, which changes as containers come and go, and the containers that cached the old
    // one lose the gateway (the embedded DNS, the way out) until their ARP entry expires.
    await nl.setMac(name, macFor(gatewayCidr.split('/')[0]!));
    await nl.addAddress(name, gatewayCidr, true);
    if (gateway6Cidr) {
      await this.setUp6();
      await nl.addAddress(name, gateway6Cidr, true);
    }
    await nl.up(name);
    // Locally made packets to 127.0.0.1:<published port> are DNAT'ed onto this bridge.
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  }

  async deleteBridge(name: string): Promise<void> {
    await this.nl().deleteLink(name);
  }

  /** The veth pair, the container's side made inside its namespace and configured there. */
  async wire(w: EndpointWiring): Promise<void> {
    const nl = this.nl();
    await nl.deleteLink(w.hostIf); // a leftover of a crash
    await nl.createVeth(w.hostIf, w.ifname, w.bridge, { peerNs: w.nsPath, peerMac: w.mac, mtu: w.mtu });
    await nl.up(w.hostIf);
    const inner = Netlink.in(w.nsPath);
    try {
      await inner.addAddress(w.ifname, w.address);
      if (w.address6) await inner.addAddress(w.ifname, w.address6);
      await inner.up(w.ifname);
      if (w.gateway) await inner.defaultRoute(w.gateway, w.ifname);
      if (w.gateway6) await inner.defaultRoute(w.gateway6, w.ifname);
    } finally {
      inner.close();
    }
  }

  /** Loopback of a namespace berthd made (runc brings it up only in namespaces it makes). */
  async loopbackUp(nsPath: string): Promise<void> {
    const inner = Netlink.in(nsPath);
    try {
      await inner.up('lo');
    } finally {
      inner.close();
    }
  }

  /** Deletes the host end (its peer goes with it); false if it was gone. */
  async unwire(hostIf: string): Promise<boolean> {
    return this.nl().deleteLink(hostIf);
  }

  async addRules(owner: string, rules: Rule[], rules6: Rule[] = []): Promise<void> {
    if (this.ipt && rules.length > 0) await this.ipt.add(owner, rules);
    if (this.ipt6 && rules6.length > 0) await this.ipt6.add(owner, rules6);
  }

  /** Removes `owner`'s rules (and its ip6tables ones with `v6`). */
  async removeRules(owner: string, v6 = false): Promise<void> {
    if (!this.ipt) return;
    const n = await this.ipt.removeOwned(owner);
    const n6 = v6 && this.ipt6 ? await this.ipt6.removeOwned(owner) : 0;
    this.log('debug', 'iptables rules removed', { owner, n, n6 });
  }

  /** A daemon start: `owner`'s rules become exactly `desired`, per family, one batch each. */
  async replaceRules(owner: string, desired: { owner: string; rules: Rule[] }[], desired6: { owner: string; rules: Rule[] }[]): Promise<void> {
    if (this.ipt) await this.ipt.replaceOwned(owner, desired);
    if (!this.ipt6) return;
    if (desired6.length > 0) {
      await this.setUp6();
      await this.ipt6.replaceOwned(owner, desired6);
    } else {
      // Only stale ones to drop (a crash's); a host without ip6tables has none.
      await this.ipt6.replaceOwned(owner, []).catch((e) => this.log('debug', 'no ip6tables rules checked', { error: String(e) }));
    }
  }

  close(): void {
    this.host?.close();
    this.host = undefined;
  }
}
