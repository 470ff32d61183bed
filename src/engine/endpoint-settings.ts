/**
 * A container's endpoint settings as Docker checks them at create and at `network connect`:
 * the network mode and NetworkingConfig resolved to networks by name, static addresses inside
 * the subnet, aliases and static addresses only on user-defined networks, MAC addresses.
 */
import { BerthError, invalid } from '../errors';
import type { EndpointConfig } from './container-model';
import { contains, parseCidr, parseIp } from './ipam';
import type { NetworkRecord, NetworkStore } from './network-store';

const CONFLICT = 'conflicting options: cannot attach both user-defined and non-user-defined network-modes';

/**
 * The endpoints a new container asks for (HostConfig.NetworkMode, NetworkingConfig), checked
 * and keyed by network name, and the normalized mode. `findContainer` checks container:<ref>.
 */
export function endpointsForCreate(
  store: NetworkStore, mode: string, requested: Record<string, EndpointConfig> | undefined, findContainer: (ref: string) => unknown,
): { mode: string; networks: Record<string, EndpointConfig> } {
  const m = mode === '' || mode === 'default' ? 'bridge' : mode;
  // docker 28 keys the endpoint of the default mode "default"; it is the default network's.
  if (requested && 'default' in requested && (mode === '' || mode === 'default')) {
    const { default: dflt, ...rest } = requested;
    requested = { ...rest, bridge: { ...dflt, ...rest.bridge } };
  }
  if (m === 'host' || m === 'none' || m.startsWith('container:')) {
    if (m.startsWith('container:')) findContainer(m.slice('container:'.length));
    if (Object.keys(requested ?? {}).some((k) => k !== m)) throw invalid(CONFLICT);
    if (m === 'host' || m === 'none') return { mode: m, networks: { [m]: { NetworkID: store.get(m).id } } };
    return { mode: m, networks: {} };
  }
  const out: Record<string, EndpointConfig> = {};
  const first = store.get(m);
  const entries = Object.entries(requested ?? {});
  const own = entries.find(([k]) => k === m || k === first.name || k === first.id);
  out[first.name] = endpointConfig(first, own?.[1]);
  for (const [k, cfg] of entries) {
    if (own && k === own[0]) continue;
    const n = store.get(k);
    if (n.spec.driver !== 'bridge') throw invalid(CONFLICT);
    out[n.name] = endpointConfig(n, cfg);
  }
  return { mode: first.name === 'bridge' ? 'bridge' : m, networks: out };
}

/** One endpoint's settings on `n`, checked, with Docker's empty values filled in. */
export function endpointConfig(n: NetworkRecord, cfg: EndpointConfig | undefined): EndpointConfig {
  if (n.spec.driver !== 'bridge') throw invalid(`container cannot be connected to network ${n.name}`);
  const ip = cfg?.IPAMConfig?.IPv4Address;
  if (n.name === 'bridge') {
    if (ip) throw invalid('user specified IP address is supported on user defined networks only');
    if (cfg?.Aliases?.length) throw invalid('network-scoped alias is supported only for containers in user defined networks');
  }
  if (cfg?.IPAMConfig?.IPv6Address) {
    throw new BerthError('not-implemented', 'a static IPv6 address (--ip6) is not supported by berth: a container\'s IPv6 address follows its IPv4 one');
  }
  if (ip && !subnetHas(n.spec.ipam[0]!.subnet, ip)) {
    throw invalid(`invalid config for network ${n.name}: invalid endpoint settings:\nno configured subnet contains IP address ${ip}`);
  }
  if (cfg?.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(cfg.MacAddress)) throw invalid(`invalid MAC address: ${cfg.MacAddress}`);
  return {
    IPAMConfig: cfg?.IPAMConfig && Object.keys(cfg.IPAMConfig).length ? cfg.IPAMConfig : null,
    Links: cfg?.Links?.length ? cfg.Links : null,
    Aliases: cfg?.Aliases?.length ? cfg.Aliases : null,
    MacAddress: cfg?.MacAddress ?? '',
    DriverOpts: cfg?.DriverOpts ?? null,
    NetworkID: n.id,
  };
}

function subnetHas(subnet: string, ip: string): boolean {
  try {
    return contains(parseCidr(subnet), parseIp(ip));
  } catch {
    return false;
  }
}
