/**
 * Exec endpoints: create (POST /containers/{id}/exec), start (hijacked like attach, or detached),
 * resize, inspect.
 */
import type { Duplex } from 'node:stream';
import { invalid, messageOf } from '../../errors';
import type { Engine } from '../../engine/engine';
import type { ExecCreateRequest } from '../../engine/exec';
import { versionAtLeast } from '../../wire/api-version';
import { DEFAULT_DETACH_KEYS, DetachScanner } from '../../wire/detach-keys';
import { frames, StreamId } from '../../wire/stdcopy';
import { type Ctx, qint, readJson, sendJson, sendStatus } from '../context';
import type { Route } from '../server';

interface ExecStartRequest {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** Most a slow client may fall behind before it is cut off (the process never waits for it). */
const MAX_BACKLOG = 16 << 20;

export function execRoutes(engine: Engine): Route[] {
  const x = engine.execs;
  return [
    {
      method: 'POST', path: '/containers/{id}/exec',
      handler: async (ctx) => {
        const body = await readJson<ExecCreateRequest>(ctx);
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('No exec command specified');
        sendJson(ctx, 201, { Id: x.create(ctx.params.id, body) });
      },
    },
    { method: 'POST', path: '/exec/{id}/start', handler: (ctx) => start(ctx, engine) },
    {
      method: 'POST', path: '/exec/{id}/resize',
      handler: (ctx) => {
        const h = qint(ctx, 'h') ?? 0;
        const w = qint(ctx, 'w') ?? 0;
        x.resize(ctx.params.id, h, w);
        sendStatus(ctx, 200);
      },
    },
    { method: 'GET', path: '/exec/{id}/json', handler: (ctx) => sendJson(ctx, 200, x.inspect(ctx.params.id)) },
  ];
}

async function start(ctx: Ctx, engine: Engine): Promise<void> {
  const x = engine.execs;
  const id = ctx.params.id;
  // An upgraded request's body is not parsed by the HTTP server: it is read off the connection.
  const upgraded = ctx.res === undefined;
  let body = upgraded ? {} : ((await readJson<ExecStartRequest>(ctx)) ?? {});
  x.checkStartable(id);
  if (body.Detach) {
    await x.startDetached(id, startOptions(body));
    sendStatus(ctx, 200);
    return;
  }
  const info = x.describe(id);
  const tentativeTty = info.tty;
  const type = (t: boolean) => (t || !versionAtLeast(ctx.version, '1.42') ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  let sock: Duplex;
  if (upgraded) {
    sock = ctx.hijack(type(tentativeTty));
    body = parseBody(await readPrefix(sock, Number(ctx.req.headers['content-length'] ?? 0)));
  } else {
    sock = ctx.hijack(type(body.Tty ?? tentativeTty));
  }
  const opts = startOptions(body);
  const tty = opts.tty ?? info.tty;
  const send = (stream: StreamId, data: Buffer) => {
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength > MAX_BACKLOG) {
      sock.destroy();
      return;
    }
    for (const b of tty ? [data] : frames(stream, data)) sock.write(b);
  };
  let handle;
  try {
    handle = await x.startAttached(id, opts, {
      ...(info.stdout ? { stdout: (d: Buffer) => send(StreamId.Stdout, d) } : {}),
      ...(info.stderr ? { stderr: (d: Buffer) => send(tty ? StreamId.Stdout : StreamId.Stderr, d) } : {}),
      end: () => sock.end(),
    });
  } catch (e) {
    // Headers are gone: Docker writes the failure into the stream, where the CLI prints it.
    send(StreamId.Stdout, Buffer.from(`${messageOf(e)}\r\n`));
    sock.end();
    return;
  }
  const h = handle;
  sock.on('close', () => h.detach());
  if (!info.stdin) {
    sock.resume();
    return;
  }
  // Docker watches for the detach keys only with a TTY; piped input passes through untouched.
  const scanner = tty ? new DetachScanner(info.detachKeys ?? DEFAULT_DETACH_KEYS) : null;
  let detached = false;
  sock.on('data', (d: Buffer) => {
    if (detached) return;
    if (!scanner) return h.writeStdin(d);
    const { forward, detached: hit } = scanner.push(d);
    if (forward.length > 0) h.writeStdin(forward);
    if (hit) {
      detached = true;
      h.detach();
      sock.end();
    }
  });
  // The client has no more input. As in Docker, a TTY session keeps its stdin open.
  sock.on('end', () => {
    if (!detached && !tty) h.closeStdin();
  });
  // Paused while the body was read: an explicit pause outlasts new 'data' listeners.
  sock.resume();
}

function startOptions(body: ExecStartRequest) {
  return { ...(body.Tty !== undefined && body.Tty !== null ? { tty: body.Tty === true } : {}), consoleSize: body.ConsoleSize ?? null };
}

function parseBody(raw: Buffer): ExecStartRequest {
  if (raw.length === 0) return {};
  try {
    const v = JSON.parse(raw.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as ExecStartRequest) : {};
  } catch {
    return {};
  }
}

const MAX_START_BODY = 64 << 10;

/** Reads the first `n` bytes of a hijacked connection (the request body); the rest stays unread. */
function readPrefix(sock: Duplex, n: number): Promise<Buffer> {
  if (!(n > 0) || n > MAX_START_BODY) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = () => {
      sock.off('data', onData);
      sock.off('end', done);
      sock.off('close', done);
      sock.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) sock.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= n) done();
    };
    sock.on('data', onData);
    sock.on('end', done);
    sock.on('close', done);
  });
}
