/**
 * POST /build (the classic builder's API, which the docker CLI uses with DOCKER_BUILDKIT=0 or
 * without buildx, and `berth build`) and POST /build/prune. The body is the context tar; the
 * answer is Docker's JSON-message stream of {"stream": …} lines, {"aux": {"ID": …}}, and an
 * errorDetail (with the failing RUN's exit code as its code) when the build fails.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError, invalid, messageOf } from '../../errors';
import type { Builder, BuildOptions } from '../../builder/builder';
import { BuildContext } from '../../builder/context';
import { type Ctx, parseFilters, qbool, sendJson } from '../context';
import type { Route } from '../server';

export function buildRoutes(builder: Builder): Route[] {
  const tmp = join(builder.engine.config.dataRoot, 'builder', 'tmp');
  // Contexts and copies a daemon that died mid-build left behind.
  fs.rmSync(tmp, { recursive: true, force: true });
  return [
    { method: 'POST', path: '/build', handler: (ctx) => build(ctx, builder, tmp) },
    { method: 'POST', path: '/build/prune', handler: (ctx) => prune(ctx, builder) },
  ];
}

function jsonParam<T>(ctx: Ctx, key: string): T | undefined {
  const v = ctx.query.get(key);
  if (v === null || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw invalid(`invalid ${key} parameter: not JSON`);
  }
}

function options(ctx: Ctx): BuildOptions {
  if (ctx.query.get('remote')) throw new BerthError('not-implemented', 'remote build contexts (URLs, git) are not supported; send the context as a tar');
  const secrets = new Map<string, Buffer>();
  const header = ctx.req.headers['x-berth-build-secrets'];
  if (typeof header === 'string' && header !== '') {
    let doc: Record<string, string>;
    try {
      doc = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Record<string, string>;
    } catch {
      throw invalid('invalid X-Berth-Build-Secrets header: not base64 JSON');
    }
    for (const [id, b64] of Object.entries(doc)) secrets.set(id, Buffer.from(b64, 'base64'));
  }
  const network = ctx.query.get('networkmode') ?? undefined;
  return {
    dockerfile: ctx.query.get('dockerfile') || 'Dockerfile',
    tags: ctx.query.getAll('t').filter(Boolean),
    buildArgs: jsonParam<Record<string, string | null>>(ctx, 'buildargs') ?? {},
    labels: jsonParam<Record<string, string>>(ctx, 'labels') ?? {},
    target: ctx.query.get('target') || undefined,
    noCache: qbool(ctx, 'nocache'),
    cacheFrom: jsonParam<string[]>(ctx, 'cachefrom') ?? [],
    pull: qbool(ctx, 'pull'),
    keepContainers: !qbool(ctx, 'rm', true) && !qbool(ctx, 'forcerm'),
    network: network && network !== 'default' ? network : undefined,
    secrets,
    quiet: qbool(ctx, 'q'),
  };
}

async function build(ctx: Ctx, builder: Builder, tmp: string): Promise<void> {
  const o = options(ctx);
  const res = ctx.res!;
  const dir = join(tmp, `ctx-${randomBytes(8).toString('hex')}`);
  let context: BuildContext;
  try {
    context = await BuildContext.receive(ctx.req, dir, builder.contextBlobs);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const write = (m: unknown) => {
    if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(m) + '\r\n');
  };
  try {
    const id = await builder.build(context, o, { stream: (text) => write({ stream: text }), aux: (aux) => write({ aux }) });
    if (o.quiet) write({ stream: `${id}\n` });
  } catch (e) {
    const message = messageOf(e);
    const code = (e as { exitCode?: number }).exitCode;
    write({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
  } finally {
    context.dispose();
    res.end();
  }
}

async function prune(ctx: Ctx, builder: Builder): Promise<void> {
  const filters = parseFilters(ctx, ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private']);
  const until = filters.get('until')?.[0];
  let before: Date | undefined;
  if (until) {
    const secs = /^\d+$/.test(until) ? Number(until) * 1000 : undefined;
    const dur = /^(\d+)h$/.exec(until);
    before = secs !== undefined ? new Date(secs) : dur ? new Date(Date.now() - Number(dur[1]) * 3600_000) : new Date(until);
    if (Number.isNaN(before.getTime())) throw invalid(`invalid filter 'until=${until}'`);
  }
  const { ids, reclaimed } = builder.cache.prune({ until: before });
  const contextBytes = before ? 0 : builder.contextBlobs.clear();
  const gc = builder.engine.gc();
  sendJson(ctx, 200, { CachesDeleted: ids, SpaceReclaimed: Math.max(reclaimed, gc.bytes) + contextBytes });
}
