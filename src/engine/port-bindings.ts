/**
 * Published ports as the API carries them (HostConfig.PortBindings, PublishAllPorts,
 * Config.ExposedPorts, NetworkSettings.Ports), turned into requests for host ports and back.
 * Pure.
 */
import { invalid } from '../errors';
import type { Proto } from './port-reservations';

/** NetworkSettings.Ports: "80/tcp" → the host bindings, or null for exposed but not published. */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

export type Bindings = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

export interface PortRequest {
  key: string;
  proto: Proto;
  containerPort: number;
  hostIp: string;
  /** 0 = the kernel's choice; first < last: any free port in the range. */
  first: number;
  last: number;
}

export function parsePortKey(key: string): { port: number; proto: Proto } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw invalid(`invalid port specification: "${key}"`);
  return { port, proto: (m[2] ?? 'tcp') as Proto };
}

function hostPorts(spec: string | undefined, key: string): { first: number; last: number } {
  if (!spec || spec === '0') return { first: 0, last: 0 };
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(spec);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || last < first) throw invalid(`invalid port specification: "${spec}" (for ${key})`);
  return { first, last };
}

/** What to bind, and the map inspect shows before the host ports are known (exposed ones as null). */
export function publishedRequests(bindings: Bindings, publishAll: boolean, exposed: Record<string, object>): { requested: PortRequest[]; ports: PortMap } {
  const ports: PortMap = {};
  const requested: PortRequest[] = [];
  const keys = new Set([...Object.keys(exposed), ...Object.keys(bindings)]);
  for (const raw of keys) {
    const { port, proto } = parsePortKey(raw);
    const key = `${port}/${proto}`;
    ports[key] = null;
    let list = bindings[raw] ?? [];
    if (list.length === 0 && publishAll && raw in exposed) list = [{ HostIp: '', HostPort: '' }];
    for (const b of list) {
      if (b.HostIp && !/^\d{1,3}(\.\d{1,3}){3}$/.test(b.HostIp)) throw invalid(`invalid host IP ${b.HostIp}: only IPv4 host addresses are supported by berth`);
      requested.push({ key, proto, containerPort: port, hostIp: b.HostIp ?? '', ...hostPorts(b.HostPort, key) });
    }
  }
  return { requested, ports };
}

/** The mappings a saved NetworkSettings.Ports describes. */
export function publishedPorts(ports: PortMap): { proto: Proto; hostIp: string; hostPort: number; containerPort: number }[] {
  return Object.entries(ports).flatMap(([key, list]) => {
    const { port, proto } = parsePortKey(key);
    return (list ?? []).map((b) => ({ proto, hostIp: b.HostIp === '0.0.0.0' ? '' : b.HostIp, hostPort: Number(b.HostPort), containerPort: port }));
  });
}
