/**
 * The container service: create, start, stop, kill, wait, remove, attach, logs, and the
 * reconciliation that makes the database agree with runc and conmon after a restart.
 *
 * Life of a container (status in State.Status):
 *   created ──start──▶ running ──exit──▶ exited ──start──▶ running …
 *      └───────────────────┴── remove ──▶ (gone)
 * start, exit handling and removal run under a per-container lock; stop and kill only send
 * signals and wait for the exit that conmon reports (ExitWatcher → onExit). An exit may lead to
 * a restart (restart-policy.ts) and a start to health probing (health.ts).
 *
 * This file is long on purpose: every transition of the state machine is here, so the lock
 * discipline between them can be read in one place. The plumbing below it (mount, bundle,
 * conmon, teardown) is container-runtime.ts.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError, conflict, invalid, kindOf, notFound } from '../errors';
import type { Digest } from '../store/content-store';
import type { RunConfig } from './image-config';
import type { Db } from '../store/db';
import type { LayerStore } from '../store/layers';
import type { OverlaySnapshotter } from '../store/snapshots';
import { AttachHub, type AttachSink } from '../runtime/attach';
import { type LogReadOptions, type LogRecord, readContainerLog } from '../runtime/container-log';
import type { Monitor } from '../runtime/monitor';
import type { Runc } from '../runtime/runc';
import { ContainerRuntime } from './container-runtime';
import {
  buildSpec, type ContainerRecord, type ContainerSpec, type ContainerState, type CreateRequest, initialState, ZERO_TIME,
} from './container-model';
import type { EventBus } from './events';
import type { ImageService } from './images';
import { Container } from './container';
import { type HealthState, HealthMonitor, initialHealth, MAX_OUTPUT_BYTES, type ProbeOutcome, probeArgv } from './health';
import { generateName, newId, validateName } from './names';
import type { NetworkService } from './networks';
import { resolveMounts } from './mounts';
import type { VolumeService } from './volumes';
import { publishedRequests } from './port-bindings';
import { nextDelay, shouldRestart } from './restart-policy';
import { normalizeSignal, signalNumber, validateSignal } from './signals';

export interface ContainerServiceDeps {
  db: Db;
  dataRoot: string;
  images: ImageService;
  layers: LayerStore;
  snapshots: OverlaySnapshotter;
  runc: Runc;
  monitor: Monitor;
  events: EventBus;
  networks: NetworkService;
  volumes: VolumeService;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** How long a runtime prepared at create time waits for its start before it is torn down. */
const PREPARED_IDLE_MS = 2000;
/** Docker's exit code when the real one cannot be known. */
const EXIT_UNKNOWN = 255;
/** How often a wait for an exit checks that the container's monitor still runs. */
const EXIT_CHECK_MS = 5000;

export type HealthProbe = (id: string, argv: string[], timeoutMs: number) => Promise<ProbeOutcome>;

export class ContainerService {
  private readonly byId = new Map<string, Container>();
  /** Runs a health probe in a container (an exec); set by the engine. */
  healthProbe: HealthProbe | undefined;
  private shuttingDown = false;

  private readonly rt: ContainerRuntime;

  constructor(private readonly d: ContainerServiceDeps) {
    this.rt = new ContainerRuntime({
      ...d,
      runningPid: (ref) => {
        const c = this.find(ref);
        if (!c.running) throw conflict(`cannot join network namespace of a non running container: container ${c.id} is ${c.state.Status}`);
        return { id: c.id, pid: c.state.Pid };
      },
    });
    d.networks.containers = {
      find: (ref) => this.find(ref),
      saveSpec: (id) => {
        const c = this.byId.get(id);
        if (c) this.d.db.prepare('UPDATE containers SET spec = ? WHERE id = ?').run(JSON.stringify(c.r.spec), id);
      },
      unprepare: (ref) => this.unprepare(ref),
    };
  }

  // ---- lookup ----------------------------------------------------------------------------

  /** By full id, then name, then unique id prefix: Docker's order. */
  find(ref: string): Container {
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const name = ref.replace(/^\//, '');
    for (const c of this.byId.values()) if (c.r.name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = [...this.byId.values()].filter((c) => c.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  get(ref: string): ContainerRecord {
    return this.find(ref).r;
  }

  list(): ContainerRecord[] {
    return [...this.byId.values()].map((c) => c.r).sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** Which containers use an image (for image removal). */
  usersOf(imageId: Digest): { id: string; running: boolean }[] {
    return [...this.byId.values()].filter((c) => c.r.imageId === imageId).map((c) => ({ id: c.id, running: c.running }));
  }

  // ---- create ----------------------------------------------------------------------------

  /**
   * Creates the container; Docker's warnings about the request go to `warnings`. `base` stands
   * in for an image that is not in the image store (a build step's state: its config digest,
   * top layer and run config).
   */
  create(req: CreateRequest, name: string | undefined, warnings: string[] = [], base?: { id: Digest; topLayer: Digest | null; config: RunConfig }): ContainerRecord {
    if (!req.Image) throw invalid('config cannot be empty in order to create a container: no image given');
    const image = base ?? this.d.images.resolve(req.Image);
    const spec: ContainerSpec = buildSpec(req, base ? base.config : this.d.images.config(image.id).config ?? {}, req.Image, warnings);
    if (base) spec.Volatile = true;
    this.resolveNetworks(spec, req, warnings);
    spec.Mounts = resolveMounts(spec.HostConfig as Parameters<typeof resolveMounts>[0], spec.Config.Volumes, {
      volume: (name, opts) => {
        const v = this.d.volumes.ensure(name, opts);
        return { name: v.name, dataDir: this.d.volumes.store.dataDir(v.name), options: v.options };
      },
      mountsOf: (ref) => this.find(ref).r.spec.Mounts ?? [],
    });
    const taken = (n: string) => [...this.byId.values()].some((c) => c.r.name === n);
    let finalName: string;
    if (name) {
      finalName = validateName(name);
      const holder = [...this.byId.values()].find((c) => c.r.name === finalName);
      if (holder) {
        throw conflict(`Conflict. The container name "/${finalName}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    } else {
      finalName = generateName(taken);
    }
    const id = newId();
    const r: ContainerRecord = {
      id, name: finalName, imageId: image.id, layer: image.topLayer, created: new Date().toISOString(), spec, state: initialState(),
    };
    if (r.layer === null) throw invalid(`image ${req.Image} has no layers: nothing to run`);
    fs.mkdirSync(this.bundleDir(id), { recursive: true, mode: 0o710 });
    this.d.snapshots.prepare(id);
    try {
      this.d.db
        .prepare('INSERT INTO containers (id, name, image_id, layer, created, spec, state) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, finalName, image.id, r.layer, r.created, JSON.stringify(spec), JSON.stringify(r.state));
    } catch (e) {
      this.d.snapshots.remove(id);
      fs.rmSync(this.bundleDir(id), { recursive: true, force: true });
      throw e;
    }
    const c = new Container(r);
    this.byId.set(id, c);
    this.emit(r, 'create');
    this.prewarm(c);
    return r;
  }

  /** The networks of a new container, its links and published ports, checked as Docker checks them. */
  private resolveNetworks(spec: ContainerSpec, req: CreateRequest, warnings: string[]): void {
    const hc = spec.HostConfig as ContainerSpec['HostConfig'] & { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null; PublishAllPorts?: boolean; Links?: string[] | null };
    const { mode, networks } = this.d.networks.endpointsForCreate(hc.NetworkMode, req.NetworkingConfig?.EndpointsConfig ?? undefined);
    hc.NetworkMode = mode;
    spec.Networks = networks;
    if (mode === 'host' && Object.keys(hc.PortBindings ?? {}).length > 0) {
      warnings.push('Published ports are discarded when using host network mode');
      hc.PortBindings = {};
    }
    publishedRequests(hc.PortBindings ?? {}, hc.PublishAllPorts === true, spec.Config.ExposedPorts ?? {});
    for (const l of hc.Links ?? []) {
      const target = l.replace(/^\//, '').split(':')[0]!;
      if (mode !== 'bridge') throw invalid('conflicting options: links are only supported on the default bridge network');
      try {
        this.find(target);
      } catch {
        throw invalid(`could not get container for ${target}`);
      }
    }
  }

  // ---- start -----------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const c = this.find(ref);
    try {
      await this.startLocked(c, true);
    } catch (e) {
      // As Docker: an --rm container that cannot start is removed (clients wait for that).
      if (c.r.spec.HostConfig.AutoRemove && !c.running && kindOf(e) !== 'not-modified') {
        await this.removeContainer(c, true).catch((err) => this.d.log('error', 'auto-remove after a failed start failed', { id: c.id, error: String(err) }));
      }
      throw e;
    }
  }

  /** `manual`: a client's start (it clears a manual stop); otherwise the restart policy's. */
  private async startLocked(c: Container, manual: boolean): Promise<void> {
    await c.lock.run(async () => {
      const st = c.state.Status;
      if (st === 'running') throw new BerthError('not-modified', 'container already started');
      if (st === 'restarting' && !manual && !c.restartTimer) return; // cancelled meanwhile
      c.cancelRestart();
      if (st === 'paused') throw conflict('cannot start a paused container, try unpause instead');
      if (c.removed) throw conflict(`container is marked for removal and cannot be started`);
      const prepared = c.prepared ?? this.rt.prepare(c);
      c.prepared = undefined;
      let pid: number;
      try {
        pid = await prepared;
      } catch (e) {
        throw this.startFailed(c, e, false);
      }
      try {
        // Clients that attached before start must see the very first byte: connect before runc start.
        if (c.hub?.wanted) await c.hub.connect();
        await this.d.runc.start(c.id, pid);
      } catch (e) {
        throw this.startFailed(c, e, true);
      }
      const restartCount = (c.state.RestartCount ?? 0) + (manual ? 0 : 1);
      const health = probeArgv(c.r.spec.Config.Healthcheck) ? initialHealth() : undefined;
      this.setState(c, {
        ...c.state, Status: 'running', Pid: pid, ExitCode: 0, Error: '', OOMKilled: false, StartedAt: new Date().toISOString(),
        RestartCount: restartCount, ManuallyStopped: false, Health: health,
      });
      // Under the lock: an exit handled right after must not emit its 'die' before this 'start'.
      this.volumeEvents(c.r, 'mount');
      this.emit(c.r, 'start');
      this.startHealth(c);
    });
  }

  /**
   * Starts preparing the runtime of a just-created container in the background: mount, bundle,
   * conmon and `runc create` (~50 ms here). Clients start a container right after creating it
   * (docker run: create, attach, wait, start), so by the time `start` arrives most of that work
   * is done. A prepared runtime nobody starts is torn down after PREPARED_IDLE_MS.
   */
  private prewarm(c: Container): void {
    const p = c.lock.run(() => this.rt.prepare(c));
    c.prepared = p;
    p.then(
      () => {
        setTimeout(() => void c.lock.run(() => {
          if (c.prepared === p) this.discardPrepared(c);
        }), PREPARED_IDLE_MS).unref();
      },
      () => {}, // reported by start
    );
  }

  /**
   * Something start sets up changed (a network connected or disconnected while the container is
   * created): the runtime prepared ahead has the old one wired, so it goes, and start prepares
   * afresh. docker-compose 1.29 disconnects and connects every container it creates.
   */
  async unprepare(ref: string): Promise<void> {
    const c = this.find(ref);
    await c.lock.run(async () => this.discardPrepared(c));
  }

  /**
   * Tears down a runtime prepared for a start that will not come (idle, removal, shutdown). Call
   * under the container's lock. A prepare that failed has cleaned up after itself already.
   */
  private discardPrepared(c: Container): void {
    const p = c.prepared;
    if (!p) return;
    c.prepared = undefined;
    c.teardown = this.rt.track(p.then(() => this.rt.teardown(c), () => {}));
  }

  /** Undoes a failed start and records the failure as Docker does; returns the error to throw. */
  private startFailed(c: Container, e: unknown, runtimeCreated: boolean): BerthError {
    if (runtimeCreated) c.teardown = this.rt.track(this.rt.teardown(c));
    else this.rt.unmountQuietly(c.id);
    c.hub?.close();
    const msg = e instanceof Error ? e.message : String(e);
    // Docker keeps the container as it was ("created" or "exited") with the error and an exit code.
    const exitCode = /executable file not found|no such file or directory/.test(msg) ? 127 : /permission denied/.test(msg) ? 126 : EXIT_UNKNOWN;
    this.setState(c, { ...c.state, Error: msg, ExitCode: exitCode });
    if (e instanceof BerthError && e.kind !== 'internal') return e;
    return new BerthError(exitCode === EXIT_UNKNOWN ? 'internal' : 'invalid', msg, { cause: e });
  }

  // ---- exit ------------------------------------------------------------------------------

  /** Called by the exit watcher (and reconciliation) when conmon has recorded an exit. */
  onExit(id: string, code: number): void {
    const c = this.byId.get(id);
    if (!c) {
      fs.rmSync(join(this.d.monitor.exitDir, id), { force: true });
      return;
    }
    void c.lock.run(() => this.finishExit(c, code)).catch((e) => this.d.log('error', 'exit handling failed', { id, error: String(e) }));
  }

  /**
   * Records an exit. Only what a client can observe happens before waiters are told: the state,
   * the events. The runtime's own cleanup (runc delete ~16 ms, unmount) trails behind, off the
   * path of `docker run --rm`; a restart waits for it, and start-up sweeps what a crash left.
   */
  private async finishExit(c: Container, code: number): Promise<void> {
    if (!c.running) return; // already handled (the watcher and a scan can both report it)
    const { id } = c;
    const bundle = this.bundleDir(id);
    const oom = this.d.monitor.oomKilled(bundle);
    c.stopHealth();
    const finishedAt = new Date();
    const ranMs = finishedAt.getTime() - Date.parse(c.state.StartedAt);
    // A manual stop cancels the policy until the next start (or the next daemon start: see autoStart).
    const restart = !this.shuttingDown && !c.removed && !c.state.ManuallyStopped && shouldRestart(c.r.spec.HostConfig.RestartPolicy, {
      exitCode: code, manuallyStopped: false, restartCount: c.state.RestartCount ?? 0, ranMs,
    });
    const health: HealthState | undefined = c.state.Health ? { ...c.state.Health, Status: 'unhealthy' } : undefined;
    this.setState(c, {
      ...c.state, Status: restart ? 'restarting' : 'exited', Pid: 0, ExitCode: code, OOMKilled: oom, FinishedAt: finishedAt.toISOString(), Health: health,
    });
    c.teardown = this.rt.track(this.rt.teardown(c));
    if (oom) this.emit(c.r, 'oom');
    this.emit(c.r, 'die', { exitCode: String(code) });
    this.volumeEvents(c.r, 'unmount');
    c.notifyExit();
    if (restart) this.scheduleRestart(c, ranMs);
    if (c.r.spec.HostConfig.AutoRemove) {
      void this.removeContainer(c, false).catch((e) => this.d.log('error', 'auto-remove failed', { id, error: String(e) }));
    }
  }

  /** The restart policy's back-off, then a start; a failed start ends the loop as Docker's does. */
  private scheduleRestart(c: Container, ranMs: number): void {
    c.restartDelayMs = nextDelay(c.restartDelayMs, ranMs);
    c.restartTimer = setTimeout(() => {
      this.startLocked(c, false).catch((e) => {
        this.d.log('warn', 'restart by policy failed', { id: c.id, error: String(e) });
        void c.lock.run(() => {
          if (c.state.Status === 'restarting') this.setState(c, { ...c.state, Status: 'exited' });
        });
      });
    }, c.restartDelayMs);
    this.d.log('debug', 'restart scheduled', { id: c.id, delayMs: c.restartDelayMs });
  }

  /** Starts probing a just-started container when it has a health check. */
  private startHealth(c: Container): void {
    const argv = probeArgv(c.r.spec.Config.Healthcheck);
    const probe = this.healthProbe;
    if (!argv || !probe || !c.state.Health) return;
    c.stopHealth();
    c.health = new HealthMonitor(argv, c.r.spec.Config.Healthcheck!, {
      probe: async (cmd, timeoutMs) => {
        const out = await probe(c.id, cmd, timeoutMs);
        return { exitCode: out.exitCode, output: out.output.slice(0, MAX_OUTPUT_BYTES) };
      },
      record: (health, changed) => {
        if (!c.running || c.removed) return;
        this.setState(c, { ...c.state, Health: health });
        if (changed) this.emit(c.r, `health_status: ${health.Status}`);
      },
      startedAt: () => Date.parse(c.state.StartedAt),
    }, c.state.Health);
    c.health.start();
  }

  /** Waits for trailing cleanups (daemon shutdown, tests). */
  drain(): Promise<void> {
    return this.rt.drain();
  }

  // ---- stop / kill / wait ----------------------------------------------------------------

  async stop(ref: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c = this.find(ref);
    if (c.state.Status === 'restarting') {
      // Waiting out the policy's back-off: stopping cancels the restart.
      await c.lock.run(() => {
        c.cancelRestart();
        if (c.state.Status === 'restarting') this.setState(c, { ...c.state, Status: 'exited', ManuallyStopped: true });
      });
      this.emit(c.r, 'stop');
      return;
    }
    if (!c.running) throw new BerthError('not-modified', 'container already stopped');
    const signal = opts.signal || c.r.spec.Config.StopSignal || 'SIGTERM';
    validateSignal(signal);
    this.markStopped(c);
    const exited = c.nextExit();
    const timeout = opts.timeout ?? c.r.spec.Config.StopTimeout ?? 10;
    await this.signal(c, signal);
    if (timeout >= 0) {
      const inTime = await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
      if (!inTime && c.running) await this.signal(c, 'SIGKILL');
    }
    await this.exitOf(c, exited);
    // As Docker's stop, return once the container lets go of its networks and mounts: a client
    // removes a network right after (compose down), which must not find the endpoint still there.
    await c.teardown;
    this.emit(c.r, 'stop');
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.find(ref);
    if (c.state.Status === 'restarting' && normalizeSignal(signal) === 'KILL') {
      await this.stop(ref, {});
      return;
    }
    if (!c.running) throw conflict(`Cannot kill container: ${ref}: container ${c.id} is not running`);
    validateSignal(signal);
    // Only a signal meant to end the container counts as a manual stop (and cancels the policy).
    const sig = normalizeSignal(signal);
    if (sig === 'KILL' || sig === normalizeSignal(c.r.spec.Config.StopSignal || 'SIGTERM')) this.markStopped(c);
    await this.signal(c, signal);
    this.emit(c.r, 'kill', { signal: signalNumber(signal) });
  }

  /** Docker's HasBeenManuallyStopped: the exit that follows does not trigger the restart policy. */
  private markStopped(c: Container): void {
    if (!c.state.ManuallyStopped) this.setState(c, { ...c.state, ManuallyStopped: true });
  }

  private async signal(c: Container, signal: string): Promise<void> {
    try {
      await this.d.runc.kill(c.id, normalizeSignal(signal));
    } catch (e) {
      // Exited between the check and the signal: the exit is on its way.
      if (c.running && !/not running|process already finished|container not running/.test(String(e))) throw e;
    }
  }

  /**
   * Waits for an exit conmon reports. Every few seconds it checks the monitor is still there: a
   * conmon that died (and so will never report) means the exit is recorded as unknown (255),
   * rather than the caller hanging forever.
   */
  private async exitOf(c: Container, exited: Promise<void>): Promise<void> {
    for (;;) {
      const done = await Promise.race([exited.then(() => true), sleep(EXIT_CHECK_MS).then(() => false)]);
      if (done || !c.running) return;
      if (!this.d.monitor.alive(c.id)) {
        const code = this.d.monitor.readExit(c.id);
        this.d.log('warn', 'container monitor is gone; recording the exit', { id: c.id, code });
        await c.lock.run(() => this.finishExit(c, code ?? EXIT_UNKNOWN));
        return;
      }
    }
  }

  /** Resolves with the exit code once `condition` holds (Docker's POST /containers/{id}/wait). */
  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.find(ref);
    if (condition === 'removed') await c.removal();
    else if (condition === 'next-exit' || c.running) await c.nextExit();
    return { StatusCode: c.state.ExitCode, Error: null };
  }

  // ---- restart / rename / prune -----------------------------------------------------------

  /** Docker's restart: stop (with the stop signal and timeout) if running, then start. */
  async restart(ref: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c = this.find(ref);
    if (c.running || c.state.Status === 'restarting') await this.stop(c.id, opts);
    await this.startLocked(c, true);
    this.emit(c.r, 'restart');
  }

  rename(ref: string, newName: string): void {
    const c = this.find(ref);
    const oldName = c.r.name;
    if (!newName) throw invalid('Neither old nor new names may be empty');
    const name = validateName(newName);
    if (name === oldName) throw invalid('Renaming a container with the same name as its current name');
    const holder = [...this.byId.values()].find((x) => x.r.name === name);
    if (holder) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.d.db.prepare('UPDATE containers SET name = ? WHERE id = ?').run(name, c.id);
    c.r.name = name;
    this.emit(c.r, 'rename', { oldName: `/${oldName}` });
  }

  /** Removes every stopped container the filter selects; answers Docker's prune report. */
  async prune(select: (r: ContainerRecord) => boolean): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const victims = [...this.byId.values()].filter((c) => !c.running && c.state.Status !== 'restarting' && select(c.r));
    const deleted: string[] = [];
    let space = 0;
    for (const c of victims) {
      const size = await this.d.snapshots.writableSize(c.id).catch(() => 0);
      try {
        await this.removeContainer(c, false);
        deleted.push(c.id);
        space += size;
      } catch (e) {
        this.d.log('warn', 'prune could not remove a container', { id: c.id, error: String(e) });
      }
    }
    this.d.events.emit('container', 'prune', '', { reclaimed: String(space) });
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  // ---- pause -----------------------------------------------------------------------------

  /** Freezes every process of the container (runc pause: the cgroup freezer). */
  async pause(ref: string): Promise<void> {
    const c = this.find(ref);
    await c.lock.run(async () => {
      if (c.state.Status === 'paused') throw conflict(`Container ${c.id} is already paused`);
      if (c.state.Status !== 'running') throw conflict(`Container ${c.id} is not running`);
      await this.d.runc.pause(c.id);
      this.setState(c, { ...c.state, Status: 'paused' });
      this.emit(c.r, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.find(ref);
    await c.lock.run(async () => {
      if (c.state.Status !== 'paused') throw conflict(`Container ${c.id} is not paused`);
      await this.d.runc.resume(c.id);
      this.setState(c, { ...c.state, Status: 'running' });
      this.emit(c.r, 'unpause');
    });
  }

  // ---- remove ----------------------------------------------------------------------------

  /** `volumes`: its anonymous volumes go too (rm -v). */
  async remove(ref: string, opts: { force: boolean; volumes?: boolean }): Promise<void> {
    await this.removeContainer(this.find(ref), opts.force, opts.volumes === true);
  }

  private async removeContainer(c: Container, force: boolean, volumes = c.r.spec.HostConfig.AutoRemove): Promise<void> {
    if (c.running) {
      if (!force) {
        throw conflict(`cannot remove container "/${c.r.name}": container is running: stop the container before removing or force remove`);
      }
      const exited = c.nextExit();
      await this.signal(c, 'SIGKILL');
      await this.exitOf(c, exited);
    }
    // A container that exited just now may still be letting go of its networks: rm returns after.
    await c.teardown;
    // The database row is the commit point: once it is gone, so is the container, for every
    // client. Its directories, mount and runtime state are removed right after, in the background.
    const removedNow = await c.lock.run(() => {
      if (c.removed) return false;
      c.cancelRestart();
      c.stopHealth();
      this.discardPrepared(c);
      this.d.db.prepare('DELETE FROM containers WHERE id = ?').run(c.id);
      this.byId.delete(c.id);
      c.removed = true;
      c.hub?.release();
      return true;
    });
    if (!removedNow) return;
    // As Docker: --rm and rm -v take the anonymous volumes along; named ones always stay.
    if (volumes) this.d.volumes.removeAnonymous(c.r);
    this.rt.track(this.rt.deleteFiles(c).then(() => {
      if (c.r.layer && !this.d.images.get(c.r.imageId)) this.d.images.releaseLayers(c.r.layer);
    }));
    this.emit(c.r, 'destroy');
    c.notifyRemoved();
  }

  // ---- attach / logs ---------------------------------------------------------------------

  /** Subscribes to live output (and stdin); returns a function that detaches. */
  async attach(ref: string, sink: AttachSink, opts: { stdin: boolean }): Promise<{ detach: () => void; hub: AttachHub; tty: boolean }> {
    const c = this.find(ref);
    if (c.state.Status === 'paused') throw conflict(`You cannot attach to a paused container, unpause it first`);
    c.hub ??= new AttachHub(this.d.monitor.attachSocket(c.id));
    const detach = c.hub.add(sink, opts);
    if (c.running && !c.hub.connected) {
      try {
        await c.hub.connect();
      } catch {
        // The container exited meanwhile: the hub has ended the sink.
      }
    }
    this.emit(c.r, 'attach');
    return { detach, hub: c.hub, tty: c.r.spec.Config.Tty };
  }

  logs(ref: string, opts: Omit<LogReadOptions, 'stopped'>): { tty: boolean; records: AsyncGenerator<LogRecord> } {
    const c = this.find(ref);
    const stopped = c.running ? c.nextExit() : Promise.resolve();
    return { tty: c.r.spec.Config.Tty, records: readContainerLog(this.logPath(c.id), { ...opts, stopped }) };
  }

  logPath(id: string): string {
    return this.rt.logPath(id);
  }

  /** The seccomp loader's directory (compiled filters by digest), when the loader is on. */
  get seccompLoaderDir(): string | undefined {
    return this.rt.loader?.dir;
  }

  bundleDir(id: string): string {
    return this.rt.bundleDir(id);
  }

  // ---- persistence and reconciliation ----------------------------------------------------

  private setState(c: Container, state: ContainerState): void {
    c.r.state = state;
    this.d.db.prepare('UPDATE containers SET state = ? WHERE id = ?').run(JSON.stringify(state), c.id);
  }

  /**
   * Loads containers and makes their recorded state true again: a container whose process ended
   * while the daemon was away becomes exited with the code conmon kept; one whose monitor died
   * too is killed and marked exited (255, Docker's "unknown"); one still running is adopted.
   */
  async load(): Promise<void> {
    const rows = this.d.db.prepare('SELECT id, name, image_id, layer, created, spec, state FROM containers').all() as {
      id: string; name: string; image_id: Digest; layer: Digest | null; created: string; spec: string; state: string;
    }[];
    const inRuntime = new Set(await this.d.runc.list());
    for (const row of rows) {
      const c = new Container({
        id: row.id, name: row.name, imageId: row.image_id, layer: row.layer, created: row.created,
        spec: JSON.parse(row.spec) as ContainerSpec, state: JSON.parse(row.state) as ContainerState,
      });
      this.byId.set(c.id, c);
      if (c.running) {
        const code = this.d.monitor.readExit(c.id);
        if (code !== null) {
          await c.lock.run(() => this.finishExit(c, code));
        } else if (!this.d.monitor.alive(c.id)) {
          this.d.log('warn', 'container monitor is gone; killing the container', { id: c.id });
          await this.d.runc.kill(c.id, 'KILL').catch(() => {});
          await c.lock.run(() => this.finishExit(c, EXIT_UNKNOWN));
        } else {
          this.startHealth(c); // adopted: probing resumes where it was
          this.rt.keepLog(c);
        }
      } else if (inRuntime.has(c.id)) {
        // The daemon stopped before this container's runtime cleanup finished.
        c.teardown = this.rt.track(this.rt.teardown(c));
      } else {
        try {
          this.d.snapshots.unmount(c.id);
        } catch {
          // Left for the next start to retry.
        }
      }
      if (c.state.Status === 'exited' && c.r.spec.HostConfig.AutoRemove) await this.removeContainer(c, false);
    }
    this.d.monitor.sweep(new Set(this.byId.keys()));
    for (const id of inRuntime) {
      if (this.byId.has(id)) continue;
      this.d.log('info', 'removing runtime state of a deleted container', { id });
      await this.d.runc.delete(id, true).catch((e) => this.d.log('warn', 'runc delete failed', { id, error: String(e) }));
      this.d.monitor.cleanup(id, this.bundleDir(id));
    }
  }

  /**
   * After start-up (Docker's restore): containers whose restart policy says so are started again,
   * including `always` ones stopped by hand, but not `unless-stopped` ones; a container that was
   * waiting out its back-off when the daemon went down restarts at once.
   */
  async autoStart(): Promise<void> {
    for (const c of this.byId.values()) {
      const st = c.state.Status;
      if ((st !== 'exited' && st !== 'restarting') || c.restartTimer) continue;
      if (st === 'exited' && c.state.StartedAt === ZERO_TIME) continue;
      const policy = c.r.spec.HostConfig.RestartPolicy;
      const wanted = st === 'restarting' || shouldRestart(policy, {
        exitCode: c.state.ExitCode, manuallyStopped: c.state.ManuallyStopped === true, restartCount: c.state.RestartCount ?? 0, ranMs: 0,
      });
      if (!wanted) continue;
      this.d.log('info', 'starting container by its restart policy', { id: c.id, policy: policy.Name });
      await this.startLocked(c, st === 'exited').catch((e) => this.d.log('warn', 'restart by policy failed', { id: c.id, error: String(e) }));
    }
  }

  /**
   * Daemon shutdown. With live-restore (berth's default) running containers are left to their
   * monitors and adopted by the next daemon; without it they are stopped (Docker's default).
   * Pending policy restarts and health probes end; runtimes prepared for containers never
   * started are torn down.
   */
  async stopAll(liveRestore: boolean): Promise<void> {
    this.shuttingDown = true;
    for (const c of this.byId.values()) {
      c.cancelRestart();
      c.stopHealth();
    }
    await Promise.all(
      [...this.byId.values()].map(async (c) => {
        if (c.running && !liveRestore) {
          await this.stop(c.id, {}).catch((e) => this.d.log('warn', 'stop at shutdown failed', { id: c.id, error: String(e) }));
        } else if (c.prepared) {
          await c.lock.run(() => this.discardPrepared(c));
        }
      }),
    );
  }

  isRunning(id: string): boolean {
    return this.byId.get(id)?.running === true;
  }

  /** Ids the service knows, for sweeping orphaned directories at start-up. */
  knownIds(): Set<string> {
    return new Set(this.byId.keys());
  }

  /** Docker's volume events around a start and an exit, one per volume the container mounts. */
  private volumeEvents(r: ContainerRecord, action: 'mount' | 'unmount'): void {
    for (const m of r.spec.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const attrs: Record<string, string> = { container: r.id, driver: 'local' };
      if (action === 'mount') Object.assign(attrs, { destination: m.Destination, propagation: m.Propagation, 'read/write': String(m.RW) });
      this.d.events.emit('volume', action, m.Name, attrs);
    }
  }

  private emit(r: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.d.events.emit('container', action, r.id, { image: r.spec.Config.Image, name: r.name, ...r.spec.Config.Labels, ...extra });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
