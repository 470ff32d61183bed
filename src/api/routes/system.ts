/**
 * /_ping, /version, /info, /events, and the answers for endpoints berth does not serve:
 * swarm ones as an engine outside a swarm answers (503), the rest 501 with a clear message.
 */
import * as fs from 'node:fs';
import { BerthError } from '../../errors';
import type { Engine } from '../../engine/engine';
import { hostInfo } from '../../engine/engine';
import { type EngineEvent, eventMatches, parseEventTime } from '../../engine/events';
import { API_VERSION, MIN_API_VERSION } from '../../wire/api-version';
import { type Ctx, parseFilters, sendJson } from '../context';
import type { Route } from '../server';
import { BERTH_VERSION } from '../../version';

export function systemRoutes(engine: Engine): Route[] {
  const ping = (ctx: Ctx) => {
    ctx.res!.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
      'Swarm': 'inactive',
    });
    ctx.res!.end(ctx.method === 'HEAD' ? undefined : 'OK');
  };
  return [
    { method: 'GET', path: '/_ping', handler: ping },
    { method: 'HEAD', path: '/_ping', handler: ping },
    { method: 'GET', path: '/version', handler: (ctx) => sendJson(ctx, 200, versionInfo(engine)) },
    { method: 'GET', path: '/info', handler: (ctx) => sendJson(ctx, 200, info(engine)) },
    { method: 'GET', path: '/events', handler: (ctx) => streamEvents(ctx, engine) },
    ...emptyCollections(),
    ...swarmRoutes(),
    ...notImplemented(),
  ];
}

function versionInfo(engine: Engine) {
  const { kernel } = hostInfo();
  const details = {
    ApiVersion: API_VERSION,
    Arch: arch(),
    BuildTime: '',
    Experimental: 'false',
    GitCommit: '',
    GoVersion: `node${process.version}`,
    KernelVersion: kernel,
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
  };
  return {
    Platform: { Name: 'berth' },
    Components: [
      { Name: 'Engine', Version: BERTH_VERSION, Details: details },
      { Name: 'runc', Version: engine.runtimeVersion, Details: { GitCommit: '' } },
    ],
    Version: BERTH_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node${process.version}`,
    Os: 'linux',
    Arch: arch(),
    KernelVersion: kernel,
    BuildTime: '',
  };
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

function osName(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

function info(engine: Engine) {
  const h = hostInfo();
  const n = engine.counts();
  const cgroupV2Only = !fs.existsSync('/sys/fs/cgroup/memory');
  return {
    ID: engine.id,
    Containers: n.containers,
    ContainersRunning: n.running,
    ContainersPaused: n.paused,
    ContainersStopped: n.stopped,
    Images: n.images,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true']],
    Plugins: { Volume: ['local'], Network: ['none'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: fs.readdirSync('/proc/self/fd').length,
    OomKillDisable: !cgroupV2Only,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupV2Only ? '2' : '1',
    NEventsListener: 0,
    KernelVersion: h.kernel,
    OperatingSystem: osName(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: h.cpus,
    MemTotal: h.memory,
    GenericResources: null,
    DockerRootDir: engine.config.dataRoot,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: h.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: BERTH_VERSION,
    Runtimes: { runc: { path: engine.config.runtime } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: engine.config.liveRestore,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: engine.runtimeVersion },
    InitCommit: { ID: '' },
    SecurityOptions: [],
    CDISpecDirs: [],
    Warnings: [],
  };
}

/**
 * GET /events: past events from the ring (with `since`), then live ones until `until` passes or
 * the client leaves. An `until` already past answers the past events only.
 */
async function streamEvents(ctx: Ctx, engine: Engine): Promise<void> {
  const filters = parseFilters(ctx, ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume']);
  const nowMs = Date.now();
  const sinceNs = parseEventTime(ctx.query.get('since'), nowMs);
  const untilNs = parseEventTime(ctx.query.get('until'), nowMs);
  if (untilNs !== undefined && sinceNs !== undefined && untilNs < sinceNs) {
    throw new BerthError('invalid', `\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`);
  }
  const res = ctx.res!;
  const write = async (ev: EngineEvent) => {
    if (eventMatches(ev, filters) && !res.write(JSON.stringify(ev) + '\n')) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
  };
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  if (untilNs !== undefined && untilNs <= nowMs * 1e6) {
    for (const ev of engine.events.past(sinceNs, untilNs)) await write(ev);
    res.end();
    return;
  }
  const sub = engine.events.subscribe(sinceNs, untilNs);
  const stop = () => sub.close();
  res.on('close', stop);
  const timer = untilNs !== undefined ? setTimeout(stop, Math.max(0, untilNs / 1e6 - Date.now())) : undefined;
  try {
    for (let ev = await sub.next(); ev; ev = await sub.next()) {
      if (untilNs !== undefined && ev.timeNano > untilNs) break;
      await write(ev);
    }
  } finally {
    if (timer) clearTimeout(timer);
    sub.close();
    res.end();
  }
}

function swarmRoutes(): Route[] {
  const notManager = () => {
    throw new BerthError('unavailable', 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
  };
  const notInSwarm = () => {
    throw new BerthError('unavailable', 'This node is not part of a swarm');
  };
  const routes: Route[] = [
    { method: 'GET', path: '/swarm', handler: notInSwarm },
    { method: 'POST', path: '/swarm/leave', handler: notInSwarm },
    { method: 'POST', path: '/swarm/update', handler: notInSwarm },
    { method: 'GET', path: '/swarm/unlockkey', handler: notInSwarm },
    { method: 'POST', path: '/swarm/unlock', handler: notInSwarm },
  ];
  for (const kind of ['nodes', 'services', 'tasks', 'secrets', 'configs']) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      routes.push({ method, path: `/${kind}`, handler: notManager });
      routes.push({ method, path: `/${kind}/{rest*}`, handler: notManager });
    }
  }
  for (const p of ['/swarm/init', '/swarm/join']) {
    routes.push({
      method: 'POST',
      path: p,
      handler: () => {
        throw new BerthError('not-implemented', 'berth does not implement swarm mode');
      },
    });
  }
  return routes;
}

/**
 * Plugins berth has none of: their read endpoints answer as an engine with none does. Clients depend on it: `docker inspect X` asks every object type in turn
 * and expects Docker's "not found" from each type X is not.
 */
function emptyCollections(): Route[] {
  return [
    { method: 'GET', path: '/plugins', handler: (ctx) => sendJson(ctx, 200, []) },
    { method: 'GET', path: '/plugins/{name*}/json', handler: (ctx) => { throw new BerthError('not-found', `plugin "${ctx.params.name}" not found`); } },
  ];
}

/** Docker endpoints berth does not serve yet: a clear 501 rather than a 404 or a hang. */
const PLANNED: [string, string][] = [
  ['GET', '/containers/{id}/attach/ws'],
  ['GET', '/images/search'],
  ['GET', '/distribution/{name*}/json'], ['POST', '/session'],
  ['GET', '/plugins/privileges'], ['POST', '/plugins/pull'],
];

function notImplemented(): Route[] {
  return PLANNED.map(([method, path]) => ({
    method,
    path,
    handler: (ctx: Ctx) => {
      throw new BerthError('not-implemented', `berth does not implement ${method} ${ctx.path} yet`);
    },
  }));
}
