/**
 * Watching a running container: GET /containers/{id}/top and GET /containers/{id}/stats.
 */
import type { Engine } from '../../engine/engine';
import { StatsService } from '../../engine/stats';
import { containerTop } from '../../engine/top';
import { type Ctx, qbool, sendJson } from '../context';
import type { Route } from '../server';

export function containerObserveRoutes(engine: Engine): Route[] {
  const stats = new StatsService(engine.containers);
  return [
    {
      method: 'GET', path: '/containers/{id}/top',
      handler: async (ctx) => sendJson(ctx, 200, await containerTop(engine.containers, engine.events, ctx.params.id, ctx.query.get('ps_args') ?? '')),
    },
    { method: 'GET', path: '/containers/{id}/stats', handler: (ctx) => streamStats(ctx, stats) },
  ];
}

async function streamStats(ctx: Ctx, stats: StatsService): Promise<void> {
  // Docker's default is to stream.
  const stream = qbool(ctx, 'stream', true);
  const oneShot = qbool(ctx, 'one-shot');
  const abort = new AbortController();
  const samples = stats.samples(ctx.params.id, { stream, oneShot, signal: abort.signal });
  const first = await samples.next(); // a 404 for an unknown container, before the headers
  const res = ctx.res!;
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (!first.done) res.write(JSON.stringify(first.value) + '\n');
  for await (const s of samples) {
    if (!res.write(JSON.stringify(s) + '\n')) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    if (abort.signal.aborted) break;
  }
  res.end();
}
