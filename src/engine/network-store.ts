/**
 * Networks and the addresses handed out on them, in berth.db. Every decision that must never be
 * made twice (a subnet for a new network, an address for a container) reads what is taken and
 * records its choice in one SQLite transaction, so two requests can never get the same address
 * and a daemon killed at any point keeps a consistent record. The kernel side (bridges, veths,
 * iptables) follows from these records; it is not kept here.
 */
import type { Db } from '../store/db';
import { BerthError, conflict, invalid, notFound } from '../errors';
import { type Cidr, contains, DEFAULT_POOLS, formatCidr, formatIp, hostRange, nextFree, overlaps, parseCidr, parseIp, pickSubnet, within } from './ipam';
import { addressFor, formatCidr6, formatIp6, overlaps6, parseCidr6, parseIp6, ulaFor } from './ipam6';
import { newId } from './names';

export interface IpamConfig {
  subnet: string;
  gateway: string;
  ipRange?: string;
}

export interface NetworkSpec {
  driver: 'bridge' | 'host' | 'null';
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Empty for host and none. */
  ipam: IpamConfig[];
  /** --ipv6: the IPv6 subnet and gateway (containers' addresses follow their IPv4 ones: ipam6.ts). */
  ipv6?: { subnet: string; gateway: string };
}

export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  spec: NetworkSpec;
}

export interface NetworkRequest {
  driver?: NetworkSpec['driver'];
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** What the user gave (--subnet, --gateway, --ip-range); a subnet is picked when none is. */
  ipam?: { subnet?: string; gateway?: string; ipRange?: string }[];
  /** --ipv6, with the IPv6 --subnet/--gateway if given (else a ULA /64). */
  ipv6?: { subnet?: string; gateway?: string };
}

const GATEWAY = 'gateway';

export class NetworkStore {
  /** `reserved`: subnets in use outside berth (the host's routes), never picked for a network. */
  constructor(
    private readonly db: Db,
    private readonly reserved: () => Cidr[] = () => [],
    /** Where subnets are carved from when none is given (--default-address-pool; Docker's defaults). */
    private readonly pools: { pool: string; size: number }[] = DEFAULT_POOLS,
  ) {}

  create(name: string, req: NetworkRequest = {}, id = newId()): NetworkRecord {
    return this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM networks WHERE name = ?').get(name)) throw conflict(`network with name ${name} already exists`);
      const driver = req.driver ?? 'bridge';
      const ipam = driver === 'bridge' ? this.ipamFor(req.ipam ?? []) : [];
      const ipv6 = driver === 'bridge' && req.ipv6 ? this.ipam6For(id, req.ipv6, ipam[0]!) : undefined;
      const r: NetworkRecord = {
        id, name, created: new Date().toISOString(),
        spec: { driver, internal: req.internal ?? false, attachable: req.attachable ?? false, labels: req.labels ?? {}, options: req.options ?? {}, ipam, ...(ipv6 ? { ipv6 } : {}) },
      };
      this.db.prepare('INSERT INTO networks (id, name, created, spec) VALUES (?, ?, ?, ?)').run(r.id, r.name, r.created, JSON.stringify(r.spec));
      this.cached = undefined;
      for (const c of ipam) this.db.prepare('INSERT INTO network_addresses (network_id, address, owner) VALUES (?, ?, ?)').run(r.id, parseIp(c.gateway), GATEWAY);
      return r;
    })();
  }

  /**
   * The networks, read once and kept: berthd is the only writer, and create and remove drop the
   * copy. (Lookups are on hot paths: each endpoint step, each embedded-DNS query.)
   */
  list(): NetworkRecord[] {
    this.cached ??= (this.db.prepare('SELECT id, name, created, spec FROM networks ORDER BY created, name').all() as Row[]).map(fromRow);
    return [...this.cached];
  }

  private cached: NetworkRecord[] | undefined;

  /** By full id, name, or a unique id prefix, as Docker resolves network references. */
  get(ref: string): NetworkRecord {
    const all = this.list();
    const found = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
    if (found) return found;
    const byPrefix = ref ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalid(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw notFound(`network ${ref} not found`);
  }

  /** Removes a network nothing holds an address on. */
  remove(id: string): void {
    this.db.transaction(() => {
      const n = this.get(id);
      const held = this.db.prepare('SELECT COUNT(*) AS n FROM network_addresses WHERE network_id = ? AND owner != ?').get(n.id, GATEWAY) as { n: number };
      if (held.n > 0) throw new BerthError('forbidden', `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      this.db.prepare('DELETE FROM networks WHERE id = ?').run(n.id);
      this.cached = undefined;
    })();
  }

  /**
   * An address on the network for `owner`: `requested` (--ip) if it is free and inside the
   * subnet, else the next free one after the last handed out. Returned as dotted quad.
   */
  allocate(networkId: string, owner: string, requested?: string): string {
    return this.db.transaction(() => {
      const n = this.get(networkId);
      const c = n.spec.ipam[0];
      if (!c) throw invalid(`network ${n.name} has no IPv4 address pool`);
      const subnet = parseCidr(c.subnet);
      const taken = new Set((this.db.prepare('SELECT address FROM network_addresses WHERE network_id = ?').all(n.id) as { address: number }[]).map((r) => r.address));
      let ip: number;
      if (requested !== undefined) {
        ip = parseIp(requested);
        const hosts = hostRange(subnet);
        if (!contains(subnet, ip) || ip < hosts.first || ip > hosts.last) throw invalid(`requested address ${requested} is out of range of network ${n.name} (${c.subnet})`);
        if (taken.has(ip)) throw new BerthError('forbidden', `Address already in use: ${requested}`);
      } else {
        const last = (this.db.prepare('SELECT last_ip FROM networks WHERE id = ?').get(n.id) as { last_ip: number }).last_ip;
        const next = nextFree(subnet, c.ipRange ? parseCidr(c.ipRange, 'ip-range') : subnet, taken, last);
        if (next === null) throw new BerthError('unavailable', `no available IPv4 addresses on network ${n.name} (${c.ipRange ?? c.subnet})`);
        ip = next;
        this.db.prepare('UPDATE networks SET last_ip = ? WHERE id = ?').run(ip, n.id);
      }
      this.db.prepare('INSERT INTO network_addresses (network_id, address, owner) VALUES (?, ?, ?)').run(n.id, ip, owner);
      return formatIp(ip);
    })();
  }

  /** Gives back every address `owner` holds on the network (all networks without one). */
  release(owner: string, networkId?: string): void {
    if (networkId) this.db.prepare('DELETE FROM network_addresses WHERE owner = ? AND network_id = ?').run(owner, networkId);
    else this.db.prepare('DELETE FROM network_addresses WHERE owner = ?').run(owner);
  }

  /** Gives back the addresses of every container owner `keep` does not vouch for. */
  releaseUnless(keep: (owner: string) => boolean): void {
    const owners = this.db.prepare('SELECT DISTINCT owner FROM network_addresses WHERE owner != ?').all(GATEWAY) as { owner: string }[];
    for (const { owner } of owners) if (!keep(owner)) this.release(owner);
  }

  /** The addresses `owner` holds, by network id. */
  addressesOf(owner: string): Map<string, string> {
    const rows = this.db.prepare('SELECT network_id, address FROM network_addresses WHERE owner = ?').all(owner) as { network_id: string; address: number }[];
    return new Map(rows.map((r) => [r.network_id, formatIp(r.address)]));
  }

  /** The IPv6 side: the subnet given (checked against the others) or a ULA /64; the gateway given or the IPv4 gateway's host part. */
  private ipam6For(id: string, given: NonNullable<NetworkRequest['ipv6']>, v4: IpamConfig): { subnet: string; gateway: string } {
    const subnet = given.subnet ? parseCidr6(given.subnet) : ulaFor(id);
    const used = this.list().flatMap((n) => (n.spec.ipv6 ? [parseCidr6(n.spec.ipv6.subnet)] : []));
    if (used.some((u) => overlaps6(u, subnet))) throw new BerthError('forbidden', 'invalid pool request: Pool overlaps with other one on this address space');
    const v4subnet = parseCidr(v4.subnet);
    let gateway = addressFor(subnet, parseIp(v4.gateway) - v4subnet.base);
    if (given.gateway) {
      const g = parseIp6(given.gateway);
      if (!overlaps6({ base: g, bits: 128 }, subnet)) throw invalid(`no matching subnet for gateway ${given.gateway}`);
      gateway = formatIp6(g);
    }
    return { subnet: formatCidr6(subnet), gateway };
  }

  /** The user's IPAM request made whole: a subnet (checked against every other network's, or picked), a gateway, a range. */
  private ipamFor(given: NonNullable<NetworkRequest['ipam']>): IpamConfig[] {
    if (given.length > 1) throw invalid('only one IPv4 address pool per network is supported');
    const g = given[0] ?? {};
    const used = this.list().flatMap((n) => n.spec.ipam.map((c) => parseCidr(c.subnet)));
    let subnet: Cidr;
    if (g.subnet) {
      subnet = parseCidr(g.subnet);
      if (used.some((u) => overlaps(u, subnet))) throw new BerthError('forbidden', 'invalid pool request: Pool overlaps with other one on this address space');
    } else {
      if (g.gateway || g.ipRange) throw invalid('a gateway or ip-range needs a subnet (--subnet)');
      const picked = pickSubnet([...used, ...this.reserved()], this.pools);
      if (!picked) throw new BerthError('forbidden', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      subnet = picked;
    }
    const hosts = hostRange(subnet);
    let gateway = hosts.first;
    if (g.gateway) {
      gateway = parseIp(g.gateway);
      if (!contains(subnet, gateway) || gateway < hosts.first || gateway > hosts.last) throw invalid(`no matching subnet for gateway ${g.gateway}`);
    }
    if (g.ipRange && !within(parseCidr(g.ipRange, 'ip-range'), subnet)) throw invalid(`no matching subnet for range ${g.ipRange}`);
    return [{ subnet: formatCidr(subnet), gateway: formatIp(gateway), ...(g.ipRange ? { ipRange: g.ipRange } : {}) }];
  }
}

interface Row {
  id: string;
  name: string;
  created: string;
  spec: string;
}

function fromRow(r: Row): NetworkRecord {
  return { id: r.id, name: r.name, created: r.created, spec: JSON.parse(r.spec) as NetworkSpec };
}
