/**
 * A container's filesystem: archive (HEAD stat, GET out, PUT in: docker cp), export, changes
 * (docker diff) and POST /commit.
 */
import type { Readable } from 'node:stream';
import { invalid } from '../../errors';
import type { ContainerConfig } from '../../engine/container-model';
import type { Engine } from '../../engine/engine';
import { decompress } from '../../store/compression';
import type { PathStat, TarProcess } from '../../store/container-path';
import { type Ctx, drainRequest, qbool, readJson, sendJson } from '../context';
import type { Route } from '../server';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

export function containerFsRoutes(engine: Engine): Route[] {
  const fs = engine.containerFs;
  return [
    {
      method: 'HEAD',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const stat = await fs.stat(ctx.params.id, pathOf(ctx));
        ctx.res!.writeHead(200, { 'Content-Type': 'application/json', [STAT_HEADER]: encodeStat(stat) });
        ctx.res!.end();
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const { stat, tar } = await fs.archive(ctx.params.id, pathOf(ctx));
        await sendTar(ctx, tar, { [STAT_HEADER]: encodeStat(stat) });
      },
    },
    {
      method: 'PUT',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const path = pathOf(ctx);
        try {
          await fs.extract(ctx.params.id, path, decompress(ctx.req), {
            noOverwriteDirNonDir: qbool(ctx, 'noOverwriteDirNonDir'),
            copyUIDGID: qbool(ctx, 'copyUIDGID'),
          });
        } catch (e) {
          await drainRequest(ctx);
          throw e;
        }
        ctx.res!.writeHead(200, { 'Content-Length': 0 });
        ctx.res!.end();
      },
    },
    { method: 'GET', path: '/containers/{id}/export', handler: async (ctx) => sendTar(ctx, await fs.export(ctx.params.id), {}) },
    {
      method: 'GET',
      path: '/containers/{id}/changes',
      // Go encodes an empty list of changes as null.
      handler: (ctx) => {
        const list = fs.changes(ctx.params.id);
        sendJson(ctx, 200, list.length > 0 ? list : null);
      },
    },
    {
      method: 'POST',
      path: '/commit',
      handler: async (ctx) => {
        const config = await readJson<Partial<ContainerConfig> | null>(ctx);
        const q = ctx.query;
        const id = await fs.commit(q.get('container') ?? '', {
          repo: q.get('repo') || undefined,
          tag: q.get('tag') || undefined,
          comment: q.get('comment') || undefined,
          author: q.get('author') || undefined,
          // Docker pauses by default (API 1.13 and up): only an explicit false skips it.
          pause: q.get('pause') === null || q.get('pause') === '' ? true : qbool(ctx, 'pause'),
          changes: q.getAll('changes'),
          config: config ?? undefined,
        });
        sendJson(ctx, 201, { Id: id });
      },
    },
  ];
}

function pathOf(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw invalid('path cannot be empty');
  return p;
}

function encodeStat(s: PathStat): string {
  return Buffer.from(JSON.stringify({ name: s.name, size: s.size, mode: s.mode, mtime: s.mtime, linkTarget: s.linkTarget })).toString('base64');
}

/**
 * Streams a tar with backpressure; a client that goes away stops tar. The response ends only
 * once tar exited cleanly, so a failure mid-way cuts the connection instead of passing for a
 * complete (but truncated) archive.
 */
async function sendTar(ctx: Ctx, tar: TarProcess, headers: Record<string, string>): Promise<void> {
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  res.on('close', () => { if (!res.writableEnded) tar.kill(); });
  (tar.stream as Readable).pipe(res, { end: false });
  try {
    await tar.done;
    res.end();
  } catch {
    res.destroy();
  }
}

