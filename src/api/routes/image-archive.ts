/**
 * docker save (GET /images/get?names=…, GET /images/{name}/get) and docker load
 * (POST /images/load). A save answers 404 before its first byte for a missing image and cuts
 * the connection on a failure mid-way (a truncated tar must not pass for a whole one). A load
 * reads the whole archive before it answers, so a bad archive is a 400; its progress and
 * "Loaded image" lines are a JSON-message stream.
 */
import type { ProgressSink } from '../../distribution/progress';
import type { Engine } from '../../engine/engine';
import { type Ctx, drainRequest, qbool } from '../context';
import type { Route } from '../server';
import { ProgressStream } from './distribution';

export function imageArchiveRoutes(engine: Engine): Route[] {
  return [
    { method: 'GET', path: '/images/get', handler: (ctx) => save(ctx, engine, ctx.query.getAll('names')) },
    { method: 'GET', path: '/images/{name*}/get', handler: (ctx) => save(ctx, engine, [ctx.params.name]) },
    { method: 'POST', path: '/images/load', handler: (ctx) => load(ctx, engine) },
  ];
}

async function save(ctx: Ctx, engine: Engine, names: string[]): Promise<void> {
  const plan = engine.imageArchive.planSave(names);
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  // A client that goes away stops the reads, even while a layer's size is being counted.
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  try {
    for await (const chunk of engine.imageArchive.save(plan, gone.signal)) {
      if (res.destroyed) return;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
  } catch (e) {
    if (gone.signal.aborted) return; // nobody left to tell
    throw e; // the server cuts the connection: the archive must not look complete
  }
  res.end();
}

async function load(ctx: Ctx, engine: Engine): Promise<void> {
  const out = new ProgressStream(ctx);
  // quiet drops the progress bars only; the "Loaded image" lines always go out.
  const sink: ProgressSink = qbool(ctx, 'quiet') ? (m) => { if (m.stream !== undefined) out.sink(m); } : out.sink;
  try {
    await out.run(async () => {
      await engine.imageArchive.load(ctx.req, sink);
    });
  } catch (e) {
    await drainRequest(ctx);
    throw e;
  }
}
