/**
 * GET /system/df: what images, containers and volumes take on disk, as `docker system df` reads
 * it. Sizes of writable layers and volumes are counted by walking them (lstat, no following of
 * symlinks), so the call costs what the data does; `type=` limits it to the kinds asked for.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BuildCache } from '../../builder/cache';
import type { Engine } from '../../engine/engine';
import { type Ctx, sendJson } from '../context';
import type { Route } from '../server';
import { statusText } from './containers';

/** Bytes of regular files under `dir` (hard links counted once per walk). */
export function diskUsage(dir: string): number {
  let total = 0;
  const seen = new Set<string>();
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          const st = fs.lstatSync(p, { bigint: true });
          const key = `${st.dev}:${st.ino}`;
          if (st.nlink > 1n) {
            if (seen.has(key)) continue;
            seen.add(key);
          }
          total += Number(st.size);
        } catch {
          // gone meanwhile
        }
      }
    }
  };
  walk(dir);
  return total;
}

export function systemDfRoutes(engine: Engine): Route[] {
  return [{ method: 'GET', path: '/system/df', handler: (ctx) => sendJson(ctx, 200, systemDf(ctx, engine)) }];
}

function systemDf(ctx: Ctx, engine: Engine) {
  const types = ctx.query.getAll('type');
  const want = (t: string) => types.length === 0 || types.includes(t);
  const containers = engine.containers.list();
  const images = want('image') ? engine.images.list().map((rec) => ({
    Id: rec.id, ParentId: '', RepoTags: engine.images.tagsOf(rec.id), RepoDigests: engine.images.repoDigestsOf(rec.id),
    Created: Math.floor(Date.parse(rec.created) / 1000), Size: rec.size, SharedSize: 0, Labels: engine.images.config(rec.id).config?.Labels ?? {},
    Containers: containers.filter((c) => c.imageId === rec.id).length,
  })) : [];
  const layersSize = want('image') ? engine.images.list().reduce((n, rec) => n + rec.size, 0) : 0;
  const ctrs = want('container') ? containers.map((r) => ({
    Id: r.id, Names: [`/${r.name}`], Image: r.spec.Config.Image, ImageID: r.imageId, Command: [r.spec.Path, ...r.spec.Args].join(' '),
    Created: Math.floor(Date.parse(r.created) / 1000), State: r.state.Status, Status: statusText(r), Labels: r.spec.Config.Labels,
    SizeRw: diskUsage(join(engine.config.dataRoot, 'snapshots', r.id, 'diff')), SizeRootFs: engine.images.get(r.imageId)?.size ?? 0,
    Mounts: [], Ports: [], HostConfig: { NetworkMode: r.spec.HostConfig.NetworkMode }, NetworkSettings: { Networks: {} },
  })) : [];
  const volumes = want('volume') ? engine.volumes.store.list().map((v) => ({
    ...engine.volumes.view(v),
    UsageData: { Size: diskUsage(engine.volumes.store.dataDir(v.name)), RefCount: engine.volumes.usersOf(v.name).length },
  })) : [];
  // Build cache entries: the bytes each step's own layer added (0 for config-only steps); in
  // use while an image still stands on the entry's layer.
  const usedLayers = new Set(engine.images.list().map((i) => i.topLayer));
  const cache = want('build-cache') ? new BuildCache(engine.db, engine.content).usage().map((c) => ({
    ID: c.id, Parent: '', Type: 'regular', Description: '', InUse: c.layer !== null && usedLayers.has(c.layer), Shared: false,
    Size: c.size, CreatedAt: c.created, LastUsedAt: c.lastUsed, UsageCount: 1,
  })) : [];
  return { LayersSize: layersSize, Images: images, Containers: ctrs, Volumes: volumes, BuildCache: cache };
}
