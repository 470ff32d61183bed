/**
 * Image endpoints: import (POST /images/create?fromSrc=-), list, inspect, tag, remove.
 */
import { BerthError, invalid } from '../../errors';
import type { Engine } from '../../engine/engine';
import type { ImageConfig } from '../../engine/image-config';
import type { ImageRecord } from '../../engine/images';
import { decompress } from '../../store/compression';
import { versionAtLeast } from '../../wire/api-version';
import { type Ctx, drainRequest, matchLabels, parseFilters, qbool, sendJson, sendStatus } from '../context';
import type { Route } from '../server';
import { pullImage } from './distribution';
import { parseUntil } from './containers';

export function imageRoutes(engine: Engine): Route[] {
  return [
    { method: 'POST', path: '/images/create', handler: (ctx) => createImage(ctx, engine) },
    { method: 'GET', path: '/images/json', handler: (ctx) => listImages(ctx, engine) },
    { method: 'GET', path: '/images/{name*}/json', handler: (ctx) => sendJson(ctx, 200, inspectImage(ctx, engine, engine.images.resolve(ctx.params.name))) },
    {
      method: 'POST',
      path: '/images/{name*}/tag',
      handler: (ctx) => {
        const repo = ctx.query.get('repo');
        if (!repo) throw invalid('repository name must have at least one component');
        engine.images.tag(ctx.params.name, repo, ctx.query.get('tag') || undefined);
        sendStatus(ctx, 201);
      },
    },
    { method: 'GET', path: '/images/{name*}/history', handler: (ctx) => sendJson(ctx, 200, engine.images.history(ctx.params.name)) },
    {
      method: 'POST', path: '/images/prune',
      handler: (ctx) => {
        const f = parseFilters(ctx, ['dangling', 'label', 'label!', 'until']);
        const all = (f.get('dangling') ?? []).some((v) => v === 'false' || v === '0');
        const until = f.get('until')?.map(parseUntil);
        const { deleted, reclaimed } = engine.images.prune(all, (id) => {
          const rec = engine.images.get(id)!;
          const labels = labelsOf(engine.images.config(id));
          if (until && !until.every((t) => Date.parse(rec.created) < t)) return false;
          if (!matchLabels(labels, f.get('label'))) return false;
          return !(f.get('label!') ?? []).some((l) => matchLabels(labels, [l]));
        });
        engine.gc();
        engine.events.emit('image', 'prune', '', { reclaimed: String(reclaimed) });
        sendJson(ctx, 200, { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
      },
    },
    {
      method: 'DELETE',
      path: '/images/{name*}',
      handler: (ctx) => sendJson(ctx, 200, engine.images.remove(ctx.params.name, { force: qbool(ctx, 'force'), noprune: qbool(ctx, 'noprune') })),
    },
  ];
}

async function createImage(ctx: Ctx, engine: Engine): Promise<void> {
  const fromSrc = ctx.query.get('fromSrc');
  const fromImage = ctx.query.get('fromImage');
  if (fromImage) return pullImage(ctx, engine, fromImage);
  if (fromSrc !== '-') {
    if (fromSrc) throw new BerthError('not-implemented', 'importing from a URL is not implemented; send the tar in the request body (fromSrc=-)');
    throw invalid('fromImage or fromSrc is required');
  }
  let id: string;
  try {
    id = await engine.images.import(decompress(ctx.req), {
      repo: ctx.query.get('repo') || undefined,
      tag: ctx.query.get('tag') || undefined,
      message: ctx.query.get('message') || undefined,
      changes: ctx.query.getAll('changes'),
    });
  } catch (e) {
    await drainRequest(ctx);
    throw e;
  }
  ctx.res!.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res!.end(JSON.stringify({ status: id }) + '\r\n');
}


function labelsOf(cfg: ImageConfig): Record<string, string> {
  return cfg.config?.Labels ?? {};
}

function createdSeconds(cfg: ImageConfig, rec: ImageRecord): number {
  return Math.floor(Date.parse(cfg.created ?? rec.created) / 1000);
}

function listImages(ctx: Ctx, engine: Engine): void {
  const filters = parseFilters(ctx, ['dangling', 'reference', 'label', 'before', 'since', 'until']);
  const modern = versionAtLeast(ctx.version, '1.44');
  const refs = filters.get('reference');
  const out = [];
  const bound = (key: 'before' | 'since') => {
    const v = filters.get(key)?.[0];
    return v ? createdSeconds(engine.images.config(engine.images.resolve(v).id), engine.images.resolve(v)) : undefined;
  };
  const before = bound('before');
  const since = bound('since');
  for (const rec of engine.images.list()) {
    const cfg = engine.images.config(rec.id);
    let tags = engine.images.tagsOf(rec.id);
    const dangling = filters.get('dangling')?.[0];
    if (dangling !== undefined && (dangling === 'true' || dangling === '1') !== (tags.length === 0)) continue;
    if (refs) {
      tags = tags.filter((t) => refs.some((r) => referenceMatches(r, t)));
      if (tags.length === 0) continue;
    }
    if (!matchLabels(labelsOf(cfg), filters.get('label'))) continue;
    const created = createdSeconds(cfg, rec);
    if (before !== undefined && created >= before) continue;
    if (since !== undefined && created <= since) continue;
    out.push({
      Id: rec.id,
      ParentId: '',
      RepoTags: tags.length > 0 || modern ? tags : ['<none>:<none>'],
      RepoDigests: engine.images.repoDigestsOf(rec.id),
      Created: created,
      Size: rec.size,
      SharedSize: -1,
      ...(modern ? {} : { VirtualSize: rec.size }),
      Labels: labelsOf(cfg),
      Containers: -1,
    });
  }
  sendJson(ctx, 200, out);
}

/** `reference` filter: a glob on the familiar name, with or without the tag. */
function referenceMatches(pattern: string, tag: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  const repo = tag.slice(0, tag.lastIndexOf(':'));
  return re.test(tag) || re.test(repo);
}

const EMPTY_RUN_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false,
  OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null,
  OnBuild: null, Labels: null,
};

function inspectImage(ctx: Ctx, engine: Engine, rec: ImageRecord) {
  const cfg = engine.images.config(rec.id);
  const modern = versionAtLeast(ctx.version, '1.44');
  return {
    Id: rec.id,
    RepoTags: engine.images.tagsOf(rec.id),
    RepoDigests: engine.images.repoDigestsOf(rec.id),
    Parent: '',
    Comment: cfg.comment ?? '',
    Created: cfg.created ?? rec.created,
    DockerVersion: '',
    Author: cfg.author ?? '',
    Config: { ...EMPTY_RUN_CONFIG, ...(cfg.config ?? {}) },
    Architecture: cfg.architecture,
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Os: cfg.os,
    Size: rec.size,
    ...(modern ? {} : { VirtualSize: rec.size, Container: '' }),
    // Docker drops it from 1.44 on, but docker-compose 1.29 reads it whenever it recreates a
    // container (and breaks against Docker 25+ for that): kept at every version, an extra field
    // any other client ignores.
    ContainerConfig: EMPTY_RUN_CONFIG,
    GraphDriver: { Name: 'overlay2', Data: null },
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    Metadata: { LastTagTime: rec.created },
  };
}
