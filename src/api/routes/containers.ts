/**
 * Container endpoints: create, list, inspect, start, stop, kill, wait, logs, attach, resize, remove.
 */
import * as fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { invalid, messageOf } from '../../errors';
import type { ContainerRecord, CreateRequest } from '../../engine/container-model';
import type { WaitCondition } from '../../engine/containers';
import { updateContainer } from '../../engine/container-update';
import type { UpdateRequest } from '../../engine/host-config';
import type { Engine } from '../../engine/engine';
import type { LogRecord } from '../../runtime/container-log';
import { versionAtLeast } from '../../wire/api-version';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../../wire/detach-keys';
import { frames, StreamId } from '../../wire/stdcopy';
import { humanDuration } from '../../wire/units';
import { type Ctx, matchLabels, parseFilters, qbool, qint, readJson, sendJson, sendStatus } from '../context';
import { inspectContainer, networkSettings } from './container-inspect';
import { inspectMount } from '../../engine/mounts';
import type { Route } from '../server';

export function containerRoutes(engine: Engine): Route[] {
  const c = engine.containers;
  return [
    { method: 'POST', path: '/containers/create', handler: (ctx) => create(ctx, engine) },
    { method: 'GET', path: '/containers/json', handler: (ctx) => list(ctx, engine) },
    { method: 'GET', path: '/containers/{id}/json', handler: (ctx) => sendJson(ctx, 200, inspectContainer(engine, c.get(ctx.params.id), ctx.version)) },
    {
      method: 'POST', path: '/containers/{id}/start',
      handler: async (ctx) => {
        await c.start(ctx.params.id);
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/stop',
      handler: async (ctx) => {
        await c.stop(ctx.params.id, { timeout: qint(ctx, 't'), signal: ctx.query.get('signal') || undefined });
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/kill',
      handler: async (ctx) => {
        await c.kill(ctx.params.id, ctx.query.get('signal') || 'SIGKILL');
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/restart',
      handler: async (ctx) => {
        await c.restart(ctx.params.id, { timeout: qint(ctx, 't'), signal: ctx.query.get('signal') || undefined });
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/pause',
      handler: async (ctx) => {
        await c.pause(ctx.params.id);
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/unpause',
      handler: async (ctx) => {
        await c.unpause(ctx.params.id);
        sendStatus(ctx, 204);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/rename',
      handler: (ctx) => {
        c.rename(ctx.params.id, ctx.query.get('name') ?? '');
        sendStatus(ctx, 204);
      },
    },
    { method: 'POST', path: '/containers/prune', handler: (ctx) => prune(ctx, engine) },
    { method: 'POST', path: '/containers/{id}/wait', handler: (ctx) => wait(ctx, engine) },
    { method: 'GET', path: '/containers/{id}/logs', handler: (ctx) => logs(ctx, engine) },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(ctx, engine) },
    {
      method: 'POST', path: '/containers/{id}/resize',
      handler: (ctx) => {
        resize(engine, c.get(ctx.params.id), qint(ctx, 'h') ?? 0, qint(ctx, 'w') ?? 0);
        sendStatus(ctx, 200);
      },
    },
    {
      method: 'DELETE', path: '/containers/{id}',
      handler: async (ctx) => {
        await c.remove(ctx.params.id, { force: qbool(ctx, 'force'), volumes: qbool(ctx, 'v') });
        sendStatus(ctx, 204);
      },
    },    {
      method: 'POST', path: '/containers/{id}/update',
      handler: async (ctx) => {
        const body = await readJson<UpdateRequest>(ctx);
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('invalid update request: the body must be a JSON object');
        sendJson(ctx, 200, await updateContainer(engine, ctx.params.id, body));
      },
    },
  ];
}

async function create(ctx: Ctx, engine: Engine): Promise<void> {
  const body = await readJson<CreateRequest>(ctx);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('config cannot be empty in order to create a container');
  const warnings: string[] = [];
  const r = engine.containers.create(body, ctx.query.get('name') || undefined, warnings);
  sendJson(ctx, 201, { Id: r.id, Warnings: warnings });
}

/** Docker's Command column: Path and Args, args with spaces in single quotes. */
function commandOf(r: ContainerRecord): string {
  if (r.spec.Args.length === 0) return r.spec.Path;
  return `${r.spec.Path} ${r.spec.Args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

export function statusText(r: ContainerRecord): string {
  const s = r.state;
  const since = (t: string) => humanDuration(Date.now() - Date.parse(t));
  switch (s.Status) {
    case 'running': {
      const h = s.Health?.Status;
      return `Up ${since(s.StartedAt)}${h === 'starting' ? ' (health: starting)' : h ? ` (${h})` : ''}`;
    }
    case 'paused': return `Up ${since(s.StartedAt)} (Paused)`;
    case 'restarting': return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'created': return 'Created';
    case 'exited': return s.FinishedAt.startsWith('0001') ? `Exited (${s.ExitCode})` : `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
  }
}

function list(ctx: Ctx, engine: Engine): void {
  const filters = parseFilters(ctx, ['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume']);
  const all = qbool(ctx, 'all');
  const limit = qint(ctx, 'limit');
  let items = engine.containers.list();
  if (!all && !filters.has('status') && !filters.has('exited')) items = items.filter((r) => r.state.Status === 'running' || r.state.Status === 'paused');
  const f = (k: string) => filters.get(k);
  items = items.filter((r) => {
    if (f('status') && !f('status')!.includes(r.state.Status)) return false;
    if (f('exited') && !(r.state.Status === 'exited' && f('exited')!.includes(String(r.state.ExitCode)))) return false;
    if (f('id') && !f('id')!.some((p) => r.id.startsWith(p))) return false;
    if (f('name') && !f('name')!.some((p) => new RegExp(p.replace(/^\//, '')).test(r.name))) return false;
    if (!matchLabels(r.spec.Config.Labels, f('label'))) return false;
    if (f('health') && !f('health')!.includes(r.state.Health?.Status ?? 'none')) return false;
    if (f('ancestor') && !f('ancestor')!.some((a) => ancestorMatches(engine, a, r))) return false;
    if (f('network') && !f('network')!.some((n) => Object.entries(r.spec.Networks ?? {}).some(([name, e]) => name === n || (e.NetworkID ?? '').startsWith(n)))) return false;
    if (f('publish') && !f('publish')!.some((p) => portMatches(p, portList(engine, r).flatMap((x) => ('PublicPort' in x ? [`${x.PublicPort}/${x.Type}`] : []))))) return false;
    if (f('expose') && !f('expose')!.some((p) => portMatches(p, Object.keys(r.spec.Config.ExposedPorts ?? {}).map((k) => (k.includes('/') ? k : `${k}/tcp`))))) return false;
    return true;
  });
  if (limit !== undefined && limit > 0) items = items.slice(0, limit);
  sendJson(ctx, 200, items.map((r) => summary(engine, r)));
}

/** POST /containers/prune: filters `until` (a timestamp or a Go duration ago) and `label`/`label!`. */
async function prune(ctx: Ctx, engine: Engine): Promise<void> {
  const filters = parseFilters(ctx, ['until', 'label', 'label!']);
  const until = filters.get('until')?.map(parseUntil);
  const notLabels = filters.get('label!');
  const report = await engine.containers.prune((r) => {
    if (until && !until.every((t) => Date.parse(r.created) < t)) return false;
    if (!matchLabels(r.spec.Config.Labels, filters.get('label'))) return false;
    if (notLabels && notLabels.some((l) => matchLabels(r.spec.Config.Labels, [l]))) return false;
    return true;
  });
  sendJson(ctx, 200, { ContainersDeleted: report.ContainersDeleted.length > 0 ? report.ContainersDeleted : null, SpaceReclaimed: report.SpaceReclaimed });
}

/** Docker's `until`: Unix seconds (fractions allowed), RFC 3339, or a Go duration before now. */
export function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(v);
  if (d) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    return Date.now() - Number(d[1]) * unit[d[2]];
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`failed to parse value as time or duration: "${v}"`);
  return t;
}

function ancestorMatches(engine: Engine, ancestor: string, r: ContainerRecord): boolean {
  const img = engine.images.lookup(ancestor);
  return img !== undefined && img.id === r.imageId;
}

function summary(engine: Engine, r: ContainerRecord) {
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: engine.images.get(r.imageId) ? r.spec.Config.Image : r.imageId,
    ImageID: r.imageId,
    Command: commandOf(r),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: portList(engine, r),
    Labels: r.spec.Config.Labels,
    State: r.state.Status,
    Status: statusText(r),
    HostConfig: { NetworkMode: r.spec.HostConfig.NetworkMode },
    NetworkSettings: { Networks: networkSettings(engine, r).Networks },
    Mounts: (r.spec.Mounts ?? []).map(inspectMount),
  };
}

/** Docker's publish/expose filters: "80", "80/udp", or a range "8000-8080[/tcp]" against "port/proto" strings. */
function portMatches(filter: string, ports: string[]): boolean {
  const [range, proto = 'tcp'] = filter.split('/');
  const [lo, hi = lo] = range!.split('-').map(Number);
  if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw invalid(`invalid port filter: ${filter}`);
  return ports.some((p) => {
    const [port, pr] = p.split('/');
    return pr === proto && Number(port) >= lo! && Number(port) <= hi!;
  });
}

/** GET /containers/json's Ports: one entry per host binding, and exposed ports without one. */
function portList(engine: Engine, r: ContainerRecord) {
  const ports = r.state.Status === 'running' ? engine.networks.portsOf(r.id) ?? {} : {};
  return Object.entries(ports).flatMap(([key, list]) => {
    const [port, type] = key.split('/');
    const base = { PrivatePort: Number(port), Type: type };
    return list && list.length ? list.map((b) => ({ IP: b.HostIp, ...base, PublicPort: Number(b.HostPort) })) : [base];
  });
}

async function wait(ctx: Ctx, engine: Engine): Promise<void> {
  const condition = (ctx.query.get('condition') || 'not-running') as WaitCondition;
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: "${condition}"`);
  // Look up first so an unknown container is a 404, not a 200 with an error body.
  engine.containers.get(ctx.params.id);
  const result = engine.containers.wait(ctx.params.id, condition);
  const res = ctx.res!;
  // Docker sends the headers at once: clients start the container only after this answer.
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    res.end(JSON.stringify(await result) + '\n');
  } catch (e) {
    res.end(JSON.stringify({ StatusCode: -1, Error: { Message: messageOf(e) } }) + '\n');
  }
}

function multiplexedType(ctx: Ctx, tty: boolean): string {
  if (tty) return 'application/vnd.docker.raw-stream';
  return versionAtLeast(ctx.version, '1.42') ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
}

/** Writes a log record in Docker's form: framed unless TTY, optionally timestamped. */
function encodeRecord(rec: LogRecord, tty: boolean, timestamps: boolean): Buffer[] {
  const data = timestamps ? Buffer.concat([Buffer.from(`${rec.time} `), rec.data]) : rec.data;
  return tty ? [data] : frames(rec.stream === 'stderr' ? StreamId.Stderr : StreamId.Stdout, data);
}

function parseTime(v: string | null): number | undefined {
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isNaN(n)) throw invalid(`invalid timestamp: ${v}`);
  return n;
}

async function logs(ctx: Ctx, engine: Engine): Promise<void> {
  const stdout = qbool(ctx, 'stdout');
  const stderr = qbool(ctx, 'stderr');
  if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream');
  const tailParam = ctx.query.get('tail');
  const tail = !tailParam || tailParam === 'all' ? undefined : Number(tailParam);
  if (tail !== undefined && Number.isNaN(tail)) throw invalid(`invalid tail: ${tailParam}`);
  const abort = new AbortController();
  const { tty, records } = engine.containers.logs(ctx.params.id, {
    follow: qbool(ctx, 'follow'), tail, since: parseTime(ctx.query.get('since')), until: parseTime(ctx.query.get('until')), signal: abort.signal,
  });
  const timestamps = qbool(ctx, 'timestamps');
  const res = ctx.res!;
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': multiplexedType(ctx, tty) });
  res.flushHeaders();
  for await (const rec of records) {
    if ((rec.stream === 'stdout' && !stdout) || (rec.stream === 'stderr' && !stderr)) continue;
    for (const b of encodeRecord(rec, tty, timestamps)) {
      if (!res.write(b)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    }
    if (abort.signal.aborted) break;
  }
  res.end();
}

/** Most a slow attach client may fall behind before it is cut off (the container never waits for it). */
const MAX_ATTACH_BACKLOG = 16 << 20;

async function attach(ctx: Ctx, engine: Engine): Promise<void> {
  const r = engine.containers.get(ctx.params.id);
  const tty = r.spec.Config.Tty;
  const wantStdin = qbool(ctx, 'stdin');
  const wantStdout = qbool(ctx, 'stdout');
  const wantStderr = qbool(ctx, 'stderr');
  const stream = qbool(ctx, 'stream');
  const detachKeys = parseDetachKeysParam(ctx.query.get('detachKeys'));
  const sock: Duplex = ctx.hijack(multiplexedType(ctx, tty));
  const send = (id: StreamId, data: Buffer) => {
    if (sock.destroyed) return;
    if (sock.writableLength > MAX_ATTACH_BACKLOG) {
      sock.destroy();
      return;
    }
    for (const b of tty ? [data] : frames(id, data)) sock.write(b);
  };
  if (qbool(ctx, 'logs')) {
    for await (const rec of engine.containers.logs(r.id, {}).records) {
      if ((rec.stream === 'stdout' && wantStdout) || (rec.stream === 'stderr' && wantStderr)) send(rec.stream === 'stderr' ? StreamId.Stderr : StreamId.Stdout, rec.data);
    }
  }
  if (!stream) {
    sock.end();
    return;
  }
  const { detach, hub } = await engine.containers.attach(
    r.id,
    {
      ...(wantStdout ? { stdout: (d: Buffer) => send(StreamId.Stdout, d) } : {}),
      ...(wantStderr ? { stderr: (d: Buffer) => send(tty ? StreamId.Stdout : StreamId.Stderr, d) } : {}),
      end: () => sock.end(),
    },
    { stdin: wantStdin && r.spec.Config.OpenStdin },
  );
  sock.on('close', detach);
  if (wantStdin && r.spec.Config.OpenStdin) {
    // Docker watches for the detach keys only with a TTY; piped input passes through untouched.
    const scanner = tty ? new DetachScanner(detachKeys) : null;
    let detached = false;
    sock.on('data', (d: Buffer) => {
      if (detached) return;
      if (!scanner) return hub.writeStdin(d);
      const { forward, detached: hit } = scanner.push(d);
      if (forward.length > 0) hub.writeStdin(forward);
      if (hit) {
        // The container keeps running, its stdin open for the next attach.
        detached = true;
        detach();
        sock.end();
        engine.events.emit('container', 'detach', r.id, { image: r.spec.Config.Image, name: r.name, ...r.spec.Config.Labels });
      }
    });
    // The client half-closed: it has no more input (docker run -i with a pipe). As in Docker,
    // a TTY's stdin stays open (the next attach types into it).
    sock.on('end', () => {
      if (!tty) hub.closeStdin();
    });
  } else {
    sock.resume();
  }
}

function parseDetachKeysParam(v: string | null): readonly number[] {
  if (!v) return DEFAULT_DETACH_KEYS;
  try {
    return parseDetachKeys(v);
  } catch {
    throw invalid(`Invalid detach keys (${v}) provided`);
  }
}

/** Resizes a TTY through conmon's control fifo; a container without a TTY ignores it, as in Docker. */
function resize(engine: Engine, r: ContainerRecord, h: number, w: number): void {
  if (!r.spec.Config.Tty || r.state.Status !== 'running') return;
  let fd: number;
  try {
    // Non-blocking: ENXIO when conmon has gone, rather than blocking forever.
    fd = fs.openSync(`${engine.containers.bundleDir(r.id)}/ctl`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return;
  }
  try {
    fs.writeSync(fd, `1 ${h} ${w}\n`);
  } finally {
    fs.closeSync(fd);
  }
}
