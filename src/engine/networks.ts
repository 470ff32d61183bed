/**
 * Networks as Docker has them: the predefined `bridge`, `host` and `none`, user-defined bridge
 * networks, and each container's endpoints on them. A container with a network of its own gets
 * a namespace berthd makes before `runc create` (runtime/netns.ts); its veth endpoints, address,
 * routes and published ports are wired while conmon and runc work, and undone at its exit.
 *
 * The database holds what must survive (networks, addresses handed out: network-store.ts); the
 * bundle's network.json holds what a start chose (interface names, host ports), so a restarted
 * daemon adopts running containers exactly, rebuilds every rule of its own and drops the rest.
 *
 * Longer than most files on purpose: every change to the live endpoints (prepare, release,
 * connect, disconnect, adoption) is here, so their ordering against the kernel can be read in one
 * place. What does not touch that state lives beside it: endpoint-settings.ts (checks),
 * published-ports.ts, container-dns.ts, bridge-driver.ts (the kernel), network-store.ts.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError, conflict, invalid } from '../errors';
import { Iptables } from '../runtime/iptables';
import { NetnsDir } from '../runtime/netns';
import { BridgeDriver, type EndpointWiring, hostIfName, macFor } from './bridge-driver';
import { hostnameOf } from './container-bundle';
import { addressFor, parseCidr6 } from './ipam6';
import type { ContainerRecord, EndpointConfig } from './container-model';
import { formatCidr, parseAddressPool, parseCidr, parseIp } from './ipam';
import { ContainerDns } from './container-dns';
import { endpointConfig, endpointsForCreate } from './endpoint-settings';
import { hostRoutes } from '../runtime/host-net';
import { type NetworkRecord, type NetworkRequest, NetworkStore } from './network-store';
import { networkRules, networkRules6 } from './network-rules';
import type { Rule } from '../runtime/iptables';
import { type PortMap, publishedPorts } from './port-bindings';
import { PublishedPorts } from './published-ports';
import type { Db } from '../store/db';

export type { EndpointConfig };

/** An endpoint of a running container. */
export interface LiveEndpoint {
  networkId: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  /** On a network with --ipv6. */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac: string;
  hostIf: string;
  ifname: string;
}

interface Attachment {
  /** The namespace berthd made for the container (null: host, none, container:<id>). */
  nsPath: string | null;
  endpoints: Map<string, LiveEndpoint>;
  ports: PortMap;
  /** The network whose rules carry this container's published ports (none: no rules to remove). */
  rulesOn?: string;
  /** Whether some of them are ip6tables rules. */
  rules6?: boolean;
  /** The wiring under way (or done); teardown waits for it. */
  ready: Promise<void>;
}

/** What a start needs from the network side. */
export interface PreparedNetwork {
  oci: { path: string } | 'host' | undefined;
  /** /etc/hosts lines beyond the loopback ones (the container's own address, links). */
  hosts: string[];
  /** The nameserver to write in resolv.conf instead of the host's (the embedded DNS). */
  nameserver?: string;
  /** The daemon's --dns, for containers not behind the embedded DNS. */
  dns?: string[];
  ready: Promise<void>;
}

export interface ContainerAccess {
  find(ref: string): { id: string; r: ContainerRecord; running: boolean };
  saveSpec(id: string): void;
  /** Drops a runtime prepared ahead of start, which has the old networks wired. */
  unprepare(ref: string): Promise<void>;
}

export interface NetworkServiceConfig {
  db: Db;
  execRoot: string;
  dataRoot: string;
  /** Names this daemon's iptables rules (`berth:<tag>:…`). */
  tag: string;
  /** The default bridge's interface (-b/--bridge); 'none' for no default bridge network. */
  bridge: string;
  /** --bip: the default bridge's gateway address with its prefix. */
  bip?: string;
  /** --default-address-pool ("base=10.10.0.0/16,size=24"): where subnets are picked. */
  addressPools?: string[];
  iptables?: Iptables;
  /** The daemon's --dns: containers' resolvers instead of the host's. */
  dns: string[];
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export const DEFAULT_MTU = 1500;
/** When veths of a released container that its namespace did not take along are deleted. */
const VETH_CHECK_MS = 3000;
const PREDEFINED = new Set(['bridge', 'host', 'none']);

export class NetworkService {
  readonly store: NetworkStore;
  private readonly driver: BridgeDriver;
  private readonly netns: NetnsDir;
  readonly ports = new PublishedPorts();
  private readonly live = new Map<string, Attachment>();
  containers: ContainerAccess | undefined;
  /** Told when a user network's gateway comes and goes (the embedded DNS listens there). */
  onGateway: ((gateway: string, up: boolean) => Promise<void>) | undefined;

  constructor(private readonly c: NetworkServiceConfig) {
    const pools = (c.addressPools ?? []).map(parseAddressPool);
    this.store = new NetworkStore(c.db, hostRoutes, pools.length ? pools : undefined);
    this.driver = new BridgeDriver(c.iptables, c.iptables ? new Iptables('ip6tables') : undefined, c.log);
    this.netns = new NetnsDir(join(c.execRoot, 'netns'));
  }

  // ---- networks --------------------------------------------------------------------------

  bridgeOf(n: NetworkRecord): string {
    return n.spec.options['com.docker.network.bridge.name'] || `br-${n.id.slice(0, 12)}`;
  }

  private owner(networkId: string, containerId?: string): string {
    return `berth:${this.c.tag}:${networkId.slice(0, 12)}${containerId ? `:${containerId.slice(0, 12)}` : ''}`;
  }

  isDefaultBridge(n: NetworkRecord): boolean {
    return n.name === 'bridge';
  }

  /** The predefined networks, made on first start; the default bridge follows -b and --bip. */
  private async ensurePredefined(inUse: (networkId: string) => boolean): Promise<void> {
    const current = this.store.list().find((n) => this.isDefaultBridge(n));
    if (current && !this.matchesConfig(current)) {
      // -b or --bip changed since the default bridge was made: made again, as Docker does at
      // each start, unless running containers are on it (then it stays, and says so).
      if (inUse(current.id)) {
        this.c.log('warn', 'the default bridge keeps its old settings while containers run on it', { bridge: this.bridgeOf(current), subnet: current.spec.ipam[0]?.subnet });
      } else {
        this.store.remove(current.id);
        await this.tearDownNetwork(current);
      }
    }
    const names = new Set(this.store.list().map((n) => n.name));
    if (!names.has('none')) this.store.create('none', { driver: 'null' });
    if (!names.has('host')) this.store.create('host', { driver: 'host' });
    if (!names.has('bridge') && this.c.bridge !== 'none') {
      let ipam: NetworkRequest['ipam'] = [];
      if (this.c.bip) {
        const m = /^([^/]+)\/(\d+)$/.exec(this.c.bip);
        if (!m) throw invalid(`invalid --bip ${this.c.bip}: it must be an address with a prefix length`);
        const len = Number(m[2]);
        const base = (parseIp(m[1]!) & (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0)) >>> 0;
        ipam = [{ subnet: formatCidr({ base, bits: len }), gateway: m[1] }];
      }
      this.store.create('bridge', {
        driver: 'bridge', ipam,
        options: {
          'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': this.c.bridge, 'com.docker.network.driver.mtu': String(DEFAULT_MTU),
        },
      });
    }
  }

  /** Whether the default bridge's record is what -b and --bip ask for now. */
  private matchesConfig(n: NetworkRecord): boolean {
    if (this.c.bridge === 'none') return false;
    if (this.bridgeOf(n) !== this.c.bridge) return false;
    if (!this.c.bip) return true;
    const ipam = n.spec.ipam[0];
    return ipam !== undefined && `${ipam.gateway}/${parseCidr(ipam.subnet).bits}` === this.c.bip;
  }

  private bridgeNet(n: NetworkRecord) {
    const o = n.spec.options;
    return {
      bridge: this.bridgeOf(n), subnet: n.spec.ipam[0]!.subnet, internal: n.spec.internal,
      icc: o['com.docker.network.bridge.enable_icc'] !== 'false', masquerade: o['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
    };
  }

  private bridgeRules(n: NetworkRecord) {
    return networkRules(this.bridgeNet(n));
  }

  private bridgeRules6(n: NetworkRecord) {
    return n.spec.ipv6 ? networkRules6({ ...this.bridgeNet(n), subnet6: n.spec.ipv6.subnet }) : [];
  }

  private async setUpNetwork(n: NetworkRecord): Promise<void> {
    const ipam = n.spec.ipam[0]!;
    const v6 = n.spec.ipv6;
    await this.driver.ensureBridge(this.bridgeOf(n), `${ipam.gateway}/${parseCidr(ipam.subnet).bits}`, v6 ? `${v6.gateway}/${parseCidr6(v6.subnet).bits}` : undefined);
    if (!this.isDefaultBridge(n)) await this.onGateway?.(ipam.gateway, true);
  }

  /** Docker's POST /networks/create. */
  async create(name: string, req: NetworkRequest): Promise<NetworkRecord> {
    if (!name) throw invalid('network name is required');
    if (PREDEFINED.has(name)) throw new BerthError('forbidden', `${name} is a pre-defined network and cannot be created`);
    if (req.driver && req.driver !== 'bridge') throw new BerthError('not-found', `could not find plugin ${req.driver} in v1 plugin registry: plugin not found`);
    const bridge = req.options?.['com.docker.network.bridge.name'];
    if (bridge !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw invalid(`invalid bridge name ${bridge}: at most 15 letters, digits, '_', '.' or '-'`);
    if (bridge && this.store.list().some((n) => this.bridgeOf(n) === bridge)) throw conflict(`bridge name ${bridge} is already used by another network`);
    const n = this.store.create(name, { ...req, driver: 'bridge' });
    try {
      await this.setUpNetwork(n);
      await this.driver.addRules(this.owner(n.id), this.bridgeRules(n), this.bridgeRules6(n));
    } catch (e) {
      await this.tearDownNetwork(n).catch(() => {});
      this.store.remove(n.id);
      throw e;
    }
    return n;
  }

  private async tearDownNetwork(n: NetworkRecord): Promise<void> {
    if (n.spec.driver !== 'bridge') return;
    if (!this.isDefaultBridge(n)) await this.onGateway?.(n.spec.ipam[0]!.gateway, false);
    await this.driver.removeRules(this.owner(n.id), n.spec.ipv6 !== undefined);
    await this.driver.deleteBridge(this.bridgeOf(n));
  }

  async remove(ref: string): Promise<NetworkRecord> {
    const n = this.store.get(ref);
    if (PREDEFINED.has(n.name)) throw new BerthError('forbidden', `${n.name} is a pre-defined network and cannot be removed`);
    const users = this.endpointsOn(n.id);
    if (users.length > 0) throw new BerthError('forbidden', `error while removing network: network ${n.name} has active endpoints (${users.map((u) => u.name).join(', ')})`);
    this.store.remove(n.id);
    await this.tearDownNetwork(n);
    return n;
  }

  /**
   * Containers with an endpoint on the network now (running ones): as in Docker, a stopped
   * container does not hold its networks, and its next start fails if one is gone.
   */
  endpointsOn(networkId: string): { id: string; name: string }[] {
    const out: { id: string; name: string }[] = [];
    for (const [id, att] of this.live) {
      if (att.endpoints.has(networkId)) out.push({ id, name: this.tryRecord(id)?.name ?? id.slice(0, 12) });
    }
    return out;
  }

  // ---- daemon start ----------------------------------------------------------------------

  /**
   * Makes the kernel match the records: bridges of every network, this daemon's rules rebuilt
   * (those of networks and containers that are gone dropped), running containers adopted
   * (ports bound again), namespaces and veths of stopped ones removed.
   */
  async init(records: ContainerRecord[], running: (id: string) => boolean): Promise<void> {
    await this.driver.setUp();
    // Addresses are held by running containers only (those of a crash's dead ones go back).
    this.store.releaseUnless((owner) => running(owner));
    const inUse = (networkId: string) => records.some((r) => running(r.id) && Object.values(r.spec.Networks ?? {}).some((e) => e.NetworkID === networkId));
    await this.ensurePredefined(inUse);
    const desired: { owner: string; rules: Rule[] }[] = [];
    const desired6: typeof desired = [];
    for (const n of this.store.list()) {
      if (n.spec.driver !== 'bridge') continue;
      await this.setUpNetwork(n);
      desired.push({ owner: this.owner(n.id), rules: this.bridgeRules(n) });
      if (n.spec.ipv6) desired6.push({ owner: this.owner(n.id), rules: this.bridgeRules6(n) });
    }
    const keepNs = new Set<string>();
    for (const r of records) {
      const saved = running(r.id) ? this.readSaved(r.id) : undefined;
      if (saved) {
        keepNs.add(r.id);
        const att: Attachment = { nsPath: saved.nsPath, endpoints: new Map(saved.endpoints.map((e) => [e.networkId, e])), ports: saved.ports, ready: Promise.resolve() };
        this.live.set(r.id, att);
        const ep = this.portEndpoint(att);
        if (ep && publishedPorts(saved.ports).length > 0) {
          const again = (e: unknown) => this.c.log('warn', 'could not bind a published port again', { id: r.id, error: String(e) });
          const { rules, rules6 } = await this.ports.adopt(r.id, saved.ports, ep, this.bridgeOf(this.store.get(ep.networkId)), again);
          desired.push({ owner: this.owner(ep.networkId, r.id), rules });
          if (rules6.length) desired6.push({ owner: this.owner(ep.networkId, r.id), rules: rules6 });
          att.rulesOn = ep.networkId;
          att.rules6 = rules6.length > 0;
        }
        continue;
      }
      for (const e of Object.values(r.spec.Networks ?? {})) if (e.NetworkID) await this.driver.unwire(hostIfName(r.id, e.NetworkID)).catch(() => false);
    }
    for (const id of this.netns.list()) if (!keepNs.has(id)) this.netns.remove(id);
    if (this.c.iptables) await this.driver.replaceRules(`berth:${this.c.tag}`, desired, desired6);
  }

  // ---- containers ------------------------------------------------------------------------

  /**
   * The synchronous part of a start: the namespace, the addresses (so /etc/hosts can name them),
   * and the wiring started in the background (`ready`). Undone by release() whatever happens.
   */
  prepare(r: ContainerRecord, otherPid: (ref: string) => { id: string; pid: number }): PreparedNetwork {
    const mode = r.spec.HostConfig.NetworkMode;
    if (mode === 'host') return { oci: 'host', hosts: [], ready: Promise.resolve() };
    if (mode === 'none') return { oci: undefined, hosts: [], ready: Promise.resolve() };
    if (mode.startsWith('container:')) {
      const other = otherPid(mode.slice('container:'.length));
      const path = this.live.get(other.id)?.nsPath ?? `/proc/${other.pid}/ns/net`;
      return { oci: { path }, hosts: [], ready: Promise.resolve() };
    }
    const nsPath = this.netns.create(r.id);
    const att: Attachment = { nsPath, endpoints: new Map(), ports: {}, ready: Promise.resolve() };
    this.live.set(r.id, att);
    try {
      let i = 0;
      for (const cfg of Object.values(r.spec.Networks ?? {})) {
        const n = this.store.get(cfg.NetworkID!);
        const ip = this.store.allocate(n.id, r.id, cfg.IPAMConfig?.IPv4Address || undefined);
        att.endpoints.set(n.id, this.endpoint(n, r.id, ip, cfg.MacAddress, `eth${i++}`));
      }
    } catch (e) {
      void this.release(r.id);
      throw e;
    }
    att.ready = this.wire(r, att);
    const first = [...att.endpoints.values()][0];
    const userNet = first && !this.isDefaultBridge(this.store.get(first.networkId));
    return {
      oci: { path: nsPath },
      hosts: [...(first ? [`${first.ip}\t${hostnameOf(r)}`] : []), ...this.linkHosts(r)],
      ...(userNet ? { nameserver: first.gateway } : this.c.dns.length ? { dns: this.c.dns } : {}),
      ready: att.ready,
    };
  }

  private endpoint(n: NetworkRecord, containerId: string, ip: string, mac: string | undefined, ifname: string): LiveEndpoint {
    const ipam = n.spec.ipam[0]!;
    const subnet = parseCidr(ipam.subnet);
    const v6 = n.spec.ipv6;
    return {
      networkId: n.id, ip, prefixLen: subnet.bits, gateway: ipam.gateway, mac: mac || macFor(ip), hostIf: hostIfName(containerId, n.id), ifname,
      ...(v6 ? { ip6: addressFor(parseCidr6(v6.subnet), parseIp(ip) - subnet.base), prefixLen6: parseCidr6(v6.subnet).bits, gateway6: v6.gateway } : {}),
    };
  }

  private wiring(att: Attachment, n: NetworkRecord, ep: LiveEndpoint, routed: boolean): EndpointWiring {
    return {
      nsPath: att.nsPath!, bridge: this.bridgeOf(n), hostIf: ep.hostIf, ifname: ep.ifname, address: `${ep.ip}/${ep.prefixLen}`, mac: ep.mac,
      gateway: routed ? ep.gateway : null, mtu: DEFAULT_MTU,
      ...(ep.ip6 ? { address6: `${ep.ip6}/${ep.prefixLen6}`, gateway6: routed ? ep.gateway6! : null } : {}),
    };
  }

  private async wire(r: ContainerRecord, att: Attachment): Promise<void> {
    await this.driver.loopbackUp(att.nsPath!);
    let routed = false;
    for (const ep of att.endpoints.values()) {
      const n = this.store.get(ep.networkId);
      const route = !routed && !n.spec.internal;
      if (route) routed = true;
      await this.driver.wire(this.wiring(att, n, ep, route));
    }
    await this.publish(r, att);
    this.writeSaved(r.id, att);
  }

  /** The endpoint published ports lead to: the first on a network with a way out. */
  private portEndpoint(att: Attachment): LiveEndpoint | undefined {
    return [...att.endpoints.values()].find((e) => !this.store.get(e.networkId).spec.internal);
  }

  private async publish(r: ContainerRecord, att: Attachment): Promise<void> {
    const ep = this.portEndpoint(att);
    const n = ep && this.store.get(ep.networkId);
    const { ports, rules, rules6 } = await this.ports.publish(r, ep, n ? this.bridgeOf(n) : '');
    att.ports = ports;
    if (!n || rules.length + rules6.length === 0) return;
    await this.driver.addRules(this.owner(n.id, r.id), rules, rules6);
    att.rulesOn = n.id;
    att.rules6 = rules6.length > 0;
  }

  /** Undoes prepare(): ports, rules, veths, the namespace, the addresses. Safe to repeat. */
  async release(id: string): Promise<void> {
    const att = this.live.get(id);
    if (!att) {
      this.store.release(id);
      return;
    }
    await att.ready.catch(() => {});
    this.live.delete(id);
    this.ports.release(id);
    if (att.rulesOn) await this.driver.removeRules(this.owner(att.rulesOn, id), att.rules6).catch((e) => this.c.log('warn', 'removing port rules failed', { id, error: String(e) }));
    const hostIfs = [...att.endpoints.values()].map((ep) => ep.hostIf);
    if (att.nsPath) {
      // The kernel deletes the veths with the namespace, in its own worker. Deleting one through
      // rtnetlink waits for the network's RCU grace period inside sendmsg, on berthd's only thread
      // (17–33 ms here, with every request held up meanwhile). A namespace something still pins
      // leaves its veth: that is checked later and deleted then.
      this.netns.remove(id);
      if (hostIfs.length) setTimeout(() => void this.sweepVeths(id, hostIfs), VETH_CHECK_MS).unref();
    } else {
      for (const hostIf of hostIfs) await this.driver.unwire(hostIf).catch((e) => this.c.log('warn', 'removing a veth failed', { id, error: String(e) }));
    }
    this.store.release(id);
    fs.rmSync(this.savedPath(id), { force: true });
  }

  /** Deletes veths of a released container that outlived its namespace (not if it runs again). */
  private async sweepVeths(id: string, hostIfs: string[]): Promise<void> {
    if (this.live.has(id)) return;
    for (const hostIf of hostIfs) {
      const deleted = await this.driver.unwire(hostIf).catch(() => false);
      if (deleted) this.c.log('warn', 'a veth outlived its namespace and was deleted', { id, hostIf });
    }
  }

  // ---- connect / disconnect --------------------------------------------------------------

  async connect(netRef: string, containerRef: string, cfg: EndpointConfig | undefined): Promise<void> {
    const n = this.store.get(netRef);
    const c = this.containers!.find(containerRef);
    const mode = c.r.spec.HostConfig.NetworkMode;
    if (n.spec.driver !== 'bridge' || mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      throw new BerthError('forbidden', `container cannot be disconnected from host network or connected to host network`);
    }
    const nets = (c.r.spec.Networks ??= {});
    if (Object.values(nets).some((e) => e.NetworkID === n.id)) throw new BerthError('forbidden', `endpoint with name ${c.r.name} already exists in network ${n.name}`);
    const ep = endpointConfig(n, cfg);
    if (!c.running) await this.containers!.unprepare(c.id);
    const att = this.live.get(c.id);
    if (c.running && att?.nsPath) {
      const ip = this.store.allocate(n.id, c.id, ep.IPAMConfig?.IPv4Address || undefined);
      const used = new Set([...att.endpoints.values()].map((e) => e.ifname));
      let i = 0;
      while (used.has(`eth${i}`)) i++;
      const live = this.endpoint(n, c.id, ip, ep.MacAddress, `eth${i}`);
      try {
        await this.driver.wire(this.wiring(att, n, live, false));
      } catch (e) {
        await this.driver.unwire(live.hostIf).catch(() => false);
        this.store.release(c.id, n.id);
        throw e;
      }
      att.endpoints.set(n.id, live);
      this.writeSaved(c.id, att);
    }
    nets[n.name] = ep;
    this.containers!.saveSpec(c.id);
  }

  async disconnect(netRef: string, containerRef: string, force: boolean): Promise<void> {
    const n = this.store.get(netRef);
    let c;
    try {
      c = this.containers!.find(containerRef);
    } catch (e) {
      if (force) return;
      throw e;
    }
    const nets = c.r.spec.Networks ?? {};
    const name = Object.keys(nets).find((k) => nets[k]!.NetworkID === n.id);
    if (n.spec.driver !== 'bridge') throw new BerthError('forbidden', 'container cannot be disconnected from host network or connected to host network');
    if (!name) throw new BerthError('forbidden', `container ${c.id} is not connected to network ${n.name}`);
    if (!c.running) await this.containers!.unprepare(c.id);
    const att = this.live.get(c.id);
    const live = att?.endpoints.get(n.id);
    if (att && live) {
      if (att.rulesOn === n.id) {
        await this.driver.removeRules(this.owner(n.id, c.id), att.rules6);
        att.rulesOn = undefined;
      }
      await this.driver.unwire(live.hostIf);
      att.endpoints.delete(n.id);
      this.writeSaved(c.id, att);
    }
    this.store.release(c.id, n.id);
    delete nets[name];
    this.containers!.saveSpec(c.id);
  }

  // ---- what clients see ------------------------------------------------------------------

  endpointOf(containerId: string, networkId: string): LiveEndpoint | undefined {
    return this.live.get(containerId)?.endpoints.get(networkId);
  }

  portsOf(containerId: string): PortMap | undefined {
    return this.live.get(containerId)?.ports;
  }

  /** --add-host's host-gateway: the default bridge's gateway address. */
  hostGateway(): string | undefined {
    return this.store.list().find((n) => this.isDefaultBridge(n))?.spec.ipam[0]?.gateway;
  }

  sandboxKey(containerId: string): string {
    return this.live.get(containerId)?.nsPath ?? '';
  }

  /**
   * The embedded DNS's view (container-dns.ts): running containers' endpoints on user-defined
   * networks, their records and the daemon's --dns.
   */
  dnsView(): ContainerDns {
    return new ContainerDns({
      live: () => [...this.live].map(([id, att]) => [id, att.endpoints] as [string, Map<string, LiveEndpoint>]),
      record: (id) => this.tryRecord(id),
      networkName: (id) => this.store.get(id).name,
      hasDns: (id) => !this.isDefaultBridge(this.store.get(id)),
      daemonDns: this.c.dns,
    });
  }

  /** The endpoints a new container asks for, checked (endpoint-settings.ts). */
  endpointsForCreate(mode: string, requested: Record<string, EndpointConfig> | undefined): { mode: string; networks: Record<string, EndpointConfig> } {
    return endpointsForCreate(this.store, mode, requested, (ref) => this.containers?.find(ref));
  }

  private tryRecord(id: string): ContainerRecord | undefined {
    try {
      return this.containers?.find(id).r;
    } catch {
      return undefined;
    }
  }

  /** /etc/hosts lines for --link targets on the default bridge: "ip alias name". */
  private linkHosts(r: ContainerRecord): string[] {
    const out: string[] = [];
    for (const l of (r.spec.HostConfig.Links as string[] | null | undefined) ?? []) {
      const [target, alias] = l.replace(/^\//, '').split(':');
      const t = this.tryRecord(target!);
      if (!t) continue;
      const ep = [...(this.live.get(t.id)?.endpoints.values() ?? [])][0];
      if (!ep) continue;
      const a = (alias ?? target!).split('/').pop()!;
      out.push(`${ep.ip}\t${[...new Set([a, t.id.slice(0, 12), t.name])].join(' ')}`);
    }
    return out;
  }

  // ---- what a start chose, kept for a restart --------------------------------------------

  private savedPath(id: string): string {
    return join(this.c.dataRoot, 'containers', id, 'network.json');
  }

  private writeSaved(id: string, att: Attachment): void {
    const tmp = `${this.savedPath(id)}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ nsPath: att.nsPath, endpoints: [...att.endpoints.values()], ports: att.ports }));
    fs.renameSync(tmp, this.savedPath(id));
  }

  private readSaved(id: string): { nsPath: string | null; endpoints: LiveEndpoint[]; ports: PortMap } | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.savedPath(id), 'utf8'));
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.driver.close();
  }
}
