/**
 * Network endpoints: list, inspect, create, remove, connect, disconnect, prune, in Docker's shapes.
 */
import { BerthError, invalid } from '../../errors';
import type { Engine } from '../../engine/engine';
import type { EndpointConfig } from '../../engine/container-model';
import type { NetworkRecord } from '../../engine/network-store';
import { type Ctx, type Filters, matchLabels, parseFilters, readJson, sendJson, sendStatus } from '../context';
import type { Route } from '../server';
import { parseUntil } from './containers';

interface CreateBody {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean | null;
  ConfigOnly?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export function networkRoutes(engine: Engine): Route[] {
  const nets = engine.networks;
  return [
    { method: 'GET', path: '/networks', handler: (ctx) => sendJson(ctx, 200, listed(engine, ctx)) },
    { method: 'GET', path: '/networks/{id}', handler: (ctx) => sendJson(ctx, 200, networkView(engine, nets.store.get(ctx.params.id), true)) },
    { method: 'POST', path: '/networks/create', handler: (ctx) => create(ctx, engine) },
    {
      method: 'DELETE', path: '/networks/{id}',
      handler: async (ctx) => {
        const n = await nets.remove(ctx.params.id);
        engine.events.emit('network', 'destroy', n.id, { name: n.name, type: n.spec.driver });
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/networks/{id}/connect',
      handler: async (ctx) => {
        const body = (await readJson<{ Container?: string; EndpointConfig?: EndpointConfig | null }>(ctx)) ?? {};
        if (!body.Container) throw invalid('no container specified');
        const n = nets.store.get(ctx.params.id);
        await nets.connect(n.id, body.Container, body.EndpointConfig ?? undefined);
        engine.events.emit('network', 'connect', n.id, { container: engine.containers.get(body.Container).id, name: n.name, type: n.spec.driver });
        sendStatus(ctx, 200);
      },
    },
    {
      method: 'POST', path: '/networks/{id}/disconnect',
      handler: async (ctx) => {
        const body = (await readJson<{ Container?: string; Force?: boolean }>(ctx)) ?? {};
        if (!body.Container) throw invalid('no container specified');
        const n = nets.store.get(ctx.params.id);
        await nets.disconnect(n.id, body.Container, body.Force === true);
        engine.events.emit('network', 'disconnect', n.id, { container: body.Container, name: n.name, type: n.spec.driver });
        sendStatus(ctx, 200);
      },
    },
    { method: 'POST', path: '/networks/prune', handler: (ctx) => prune(ctx, engine) },
  ];
}

async function create(ctx: Ctx, engine: Engine): Promise<void> {
  const body = await readJson<CreateBody>(ctx);
  if (!body || typeof body !== 'object') throw invalid('invalid JSON: a network create body is an object');
  const name = body.Name ?? '';
  if (body.ConfigOnly || body.Ingress) throw new BerthError('not-implemented', 'config-only and ingress networks are not supported by berth');
  if (body.IPAM?.Driver && body.IPAM.Driver !== 'default') throw new BerthError('not-found', `could not find plugin ${body.IPAM.Driver} in v1 plugin registry: plugin not found`);
  const configs = body.IPAM?.Config ?? [];
  for (const c of configs) {
    if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length) throw new BerthError('not-implemented', 'auxiliary addresses are not supported by berth');
  }
  const v6 = configs.filter((c) => c.Subnet?.includes(':'));
  if (v6.length > 1) throw invalid('only one IPv6 subnet per network is supported');
  if (v6.length && !body.EnableIPv6) throw invalid('an IPv6 subnet needs IPv6 enabled on the network (--ipv6)');
  if (v6[0]?.IPRange) throw new BerthError('not-implemented', 'an IPv6 ip-range is not supported by berth');
  const driver = body.Driver || 'bridge';
  const n = await engine.networks.create(name, {
    driver: driver as 'bridge',
    internal: body.Internal === true,
    attachable: body.Attachable === true,
    labels: body.Labels ?? {},
    options: body.Options ?? {},
    ...(body.EnableIPv6 ? { ipv6: { ...(v6[0]?.Subnet ? { subnet: v6[0].Subnet } : {}), ...(v6[0]?.Gateway ? { gateway: v6[0].Gateway } : {}) } } : {}),
    ipam: configs.filter((c) => !c.Subnet?.includes(':')).map((c) => ({
      ...(c.Subnet ? { subnet: c.Subnet } : {}), ...(c.Gateway ? { gateway: c.Gateway } : {}), ...(c.IPRange ? { ipRange: c.IPRange } : {}),
    })),
  });
  engine.events.emit('network', 'create', n.id, { name: n.name, type: n.spec.driver });
  sendJson(ctx, 201, { Id: n.id, Warning: '' });
}

const FILTERS = ['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling'];

function matches(engine: Engine, n: NetworkRecord, f: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  const builtin = ['bridge', 'host', 'none'].includes(n.name);
  return any('name', (v) => n.name.includes(v))
    && any('id', (v) => n.id.startsWith(v))
    && any('driver', (v) => driverName(n) === v)
    && any('type', (v) => (v === 'builtin' ? builtin : v === 'custom' ? !builtin : false))
    && any('scope', (v) => v === 'local')
    && any('dangling', (v) => (v === 'true' || v === '1') === (!builtin && engine.networks.endpointsOn(n.id).length === 0))
    && matchLabels(n.spec.labels, f.get('label'));
}

function listed(engine: Engine, ctx: Ctx) {
  const f = parseFilters(ctx, FILTERS);
  return engine.networks.store.list().filter((n) => matches(engine, n, f)).map((n) => networkView(engine, n, false));
}

async function prune(ctx: Ctx, engine: Engine): Promise<void> {
  const f = parseFilters(ctx, ['until', 'label', 'label!']);
  const until = f.get('until')?.[0];
  const before = until ? parseUntil(until) : Infinity;
  const deleted: string[] = [];
  for (const n of engine.networks.store.list()) {
    if (['bridge', 'host', 'none'].includes(n.name)) continue;
    if (Date.parse(n.created) >= before || !matchLabels(n.spec.labels, f.get('label'))) continue;
    if ((f.get('label!') ?? []).some((l) => matchLabels(n.spec.labels, [l]))) continue;
    if (engine.networks.endpointsOn(n.id).length > 0) continue;
    await engine.networks.remove(n.id);
    engine.events.emit('network', 'destroy', n.id, { name: n.name, type: n.spec.driver });
    deleted.push(n.name);
  }
  engine.events.emit('network', 'prune', '', { reclaimed: '0' });
  sendJson(ctx, 200, { NetworksDeleted: deleted });
}

function driverName(n: NetworkRecord): string {
  return n.spec.driver;
}

/** GET /networks/{id} (and, without Containers' contents, GET /networks). */
export function networkView(engine: Engine, n: NetworkRecord, withContainers: boolean) {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const { id, name } of engine.networks.endpointsOn(n.id)) {
      const ep = engine.networks.endpointOf(id, n.id);
      if (!ep) continue;
      containers[id] = { Name: name, EndpointID: ep.hostIf, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${ep.prefixLen}`, IPv6Address: ep.ip6 ? `${ep.ip6}/${ep.prefixLen6}` : '' };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: driverName(n),
    EnableIPv4: n.spec.driver === 'bridge',
    EnableIPv6: n.spec.ipv6 !== undefined,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: [
        ...n.spec.ipam.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, ...(c.ipRange ? { IPRange: c.ipRange } : {}) })),
        ...(n.spec.ipv6 ? [{ Subnet: n.spec.ipv6.subnet, Gateway: n.spec.ipv6.gateway }] : []),
      ],
    },
    Internal: n.spec.internal,
    Attachable: n.spec.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.spec.options,
    Labels: n.spec.labels,
  };
}
