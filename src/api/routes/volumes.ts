/**
 * Volume endpoints: create, list (with filters), inspect, remove, prune, in Docker's shapes.
 */
import { invalid } from '../../errors';
import type { Engine } from '../../engine/engine';
import type { VolumeRecord } from '../../engine/volume-store';
import { type Ctx, type Filters, matchLabels, parseFilters, qbool, readJson, sendJson, sendStatus } from '../context';
import type { Route } from '../server';

export function volumeRoutes(engine: Engine): Route[] {
  const vols = engine.volumes;
  return [
    {
      method: 'POST', path: '/volumes/create',
      handler: async (ctx) => {
        const body = (await readJson<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null }>(ctx)) ?? {};
        if (typeof body !== 'object') throw invalid('invalid JSON: a volume create body is an object');
        const v = vols.ensure(body.Name || undefined, {
          anonymous: false, ...(body.Driver ? { driver: body.Driver } : {}), ...(body.DriverOpts ? { options: body.DriverOpts } : {}), ...(body.Labels ? { labels: body.Labels } : {}),
        });
        sendJson(ctx, 201, vols.view(v));
      },
    },
    { method: 'GET', path: '/volumes', handler: (ctx) => sendJson(ctx, 200, { Volumes: listed(engine, ctx), Warnings: null }) },
    { method: 'GET', path: '/volumes/{name}', handler: (ctx) => sendJson(ctx, 200, vols.view(vols.store.get(ctx.params.name))) },
    {
      method: 'DELETE', path: '/volumes/{name}',
      handler: (ctx) => {
        vols.remove(ctx.params.name, { force: qbool(ctx, 'force') });
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/volumes/prune',
      handler: (ctx) => {
        const f = parseFilters(ctx, ['label', 'label!', 'all']);
        const all = (f.get('all') ?? []).some((v) => v === 'true' || v === '1');
        const removed = vols.prune((v) => matchLabels(v.labels, f.get('label')) && !(f.get('label!') ?? []).some((l) => matchLabels(v.labels, [l])), all);
        engine.events.emit('volume', 'prune', '', { reclaimed: '0' });
        sendJson(ctx, 200, { VolumesDeleted: removed, SpaceReclaimed: 0 });
      },
    },
  ];
}

function matches(engine: Engine, v: VolumeRecord, f: Filters): boolean {
  const any = (key: string, test: (value: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  return any('name', (n) => v.name.includes(n))
    && any('driver', (d) => d === v.driver)
    && any('dangling', (d) => (d === 'true' || d === '1') === (engine.volumes.usersOf(v.name).length === 0))
    && matchLabels(v.labels, f.get('label'));
}

function listed(engine: Engine, ctx: Ctx) {
  const f = parseFilters(ctx, ['name', 'driver', 'dangling', 'label']);
  return engine.volumes.store.list().filter((v) => matches(engine, v, f)).map((v) => engine.volumes.view(v));
}
