/**
 * Exec sessions in Docker's model: an exec is created against a running container (a record
 * with the command and its options), started once (attached or detached), inspected while and
 * after it runs, and forgotten a while after it ends or as soon as its container is removed.
 * Records live in memory only, as in Docker: a daemon restart forgets them.
 *
 *   create ──▶ (created) ──start──▶ running ──exit──▶ exited ──EXEC_KEEP_MS──▶ (gone)
 *
 * An attached exec without a TTY runs through berth-exec (runtime/native-exec.ts, the fast
 * path); detached and TTY execs run under conmon's exec mode (runtime/exec-monitor.ts). The spec is the
 * container's own `process` (capabilities, rlimits, labels, no-new-privileges) with the exec's
 * command, environment, working dir, user, terminal and privileges laid over it. A fast-path
 * exec's berth-exec is started at create and released at start (exec-prepared.ts).
 *
 * Over 500 lines because both start paths live here around one record and its bookkeeping
 * (begin/finish, events, exit codes); the runtime halves are in runtime/.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { BerthError, conflict, invalid, notFound } from '../errors';
import { AttachHub } from '../runtime/attach';
import { ExecMonitor, ExecStartError } from '../runtime/exec-monitor';
import { type ExecProcess, nativeExec, type NativeExecSession, nativeExecUnsupported } from '../runtime/native-exec';
import { PreparedExecs } from './exec-prepared';
import type { OciSeccomp } from '../runtime/seccomp';
import { ensureSeccompBpf, type SeccompBpf } from '../runtime/seccomp-bpf';
import type { Runc } from '../runtime/runc';
import { type LoaderFilter, loaderProcess } from '../runtime/seccomp-loader';
import type { OciProcess } from '../runtime/oci-spec';
import { resolveUser } from '../runtime/user';
import { DetachKeysError, parseDetachKeys } from '../wire/detach-keys';
import type { Container } from './container';
import { hostnameOf, LOADER_ANNOTATION, SPEC_FILE } from './container-bundle';
import { replaceOrAppend } from './container-model';
import type { ContainerService } from './containers';
import type { EventBus } from './events';
import { newId } from './names';

export interface ExecCreateRequest {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

export interface ExecStartOptions {
  tty?: boolean;
  consoleSize?: [number, number] | null;
}

/** Where an attached exec's output goes. `end` comes once the output is over and the exit known. */
export interface ExecSink {
  stdout?(data: Buffer): void;
  stderr?(data: Buffer): void;
  end(): void;
}

/** An attached session, for the API route: input, and letting go without stopping the process. */
export interface ExecHandle {
  writeStdin(data: Buffer): void;
  closeStdin(): void;
  /** Stops delivering output to this client; the process keeps running. */
  detach(): void;
  exited: Promise<number>;
}

export interface ExecServiceDeps {
  containers: ContainerService;
  events: EventBus;
  runc: Runc;
  execRoot: string;
  conmon: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** How long an ended exec stays inspectable (clients read its exit code after the stream ends). */
const EXEC_KEEP_MS = 5 * 60_000;
const GC_EVERY_MS = 60_000;
/** How long the end of an attached stream waits for the exit code to be recorded. */
const EXIT_REPORT_WAIT_MS = 2000;
/** Docker's health checks keep this much output. */
const RUN_OUTPUT_MAX = 4096;

interface RuntimeConfig {
  process: Record<string, unknown>;
  root: { path: string };
  linux?: { seccomp?: unknown };
  annotations?: Record<string, string>;
}

/** The filter the container's init was started with through the seccomp loader, if it was. */
function loaderFilter(spec: RuntimeConfig): LoaderFilter | undefined {
  const a = spec.annotations?.[LOADER_ANNOTATION];
  return a ? (JSON.parse(a) as LoaderFilter) : undefined;
}

interface Exec {
  id: string;
  containerId: string;
  argv: string[];
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  detachKeys: number[] | null;
  tty: boolean;
  consoleSize: [number, number] | null;
  env: string[];
  privileged: boolean;
  user: string;
  userGiven: boolean;
  workingDir: string;
  started: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  endedAt: number;
}

export class ExecService {
  private readonly byId = new Map<string, Exec>();
  /** Per container: its runtime config as of its current start (see currentRun). */
  private readonly runs = new Map<string, { startedAt: string; spec: RuntimeConfig; seccomp: SeccompBpf | undefined }>();
  private readonly monitor: ExecMonitor;
  private readonly prepared = new PreparedExecs();

  constructor(private readonly d: ExecServiceDeps) {
    this.monitor = new ExecMonitor({ execRoot: d.execRoot, conmon: d.conmon }, d.runc);
    this.monitor.sweep();
    setInterval(() => this.gc(), GC_EVERY_MS).unref();
    void this.followRemovals();
  }

  create(containerRef: string, req: ExecCreateRequest): string {
    const c = this.d.containers.find(containerRef);
    assertRunning(c);
    const cmd = typeof req.Cmd === 'string' ? [req.Cmd] : req.Cmd ?? [];
    if (!Array.isArray(cmd) || !cmd.every((a) => typeof a === 'string')) throw invalid('json: cannot unmarshal into Go struct field ExecOptions.Cmd of type []string');
    if (cmd.length === 0) throw invalid('No exec command specified');
    if (req.Env != null && (!Array.isArray(req.Env) || !req.Env.every((e) => typeof e === 'string'))) {
      throw invalid('json: cannot unmarshal into Go struct field ExecOptions.Env of type []string');
    }
    let detachKeys: number[] | null = null;
    if (req.DetachKeys) {
      try {
        detachKeys = parseDetachKeys(req.DetachKeys);
      } catch (e) {
        if (e instanceof DetachKeysError) throw invalid(`Invalid escape keys (${req.DetachKeys}) provided`);
        throw e;
      }
    }
    const tty = req.Tty === true;
    const cfg = c.r.spec.Config;
    const base = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${hostnameOf(c.r)}`, ...(tty ? ['TERM=xterm'] : [])];
    const e: Exec = {
      id: newId(),
      containerId: c.id,
      argv: cmd,
      openStdin: req.AttachStdin === true,
      openStdout: req.AttachStdout === true,
      openStderr: req.AttachStderr === true,
      detachKeys,
      tty,
      consoleSize: validSize(req.ConsoleSize),
      env: replaceOrAppend(replaceOrAppend(base, cfg.Env), req.Env ?? []),
      privileged: req.Privileged === true,
      user: req.User || cfg.User || '',
      userGiven: !!req.User,
      workingDir: req.WorkingDir || cfg.WorkingDir || '',
      started: false,
      running: false,
      exitCode: null,
      pid: 0,
      endedAt: 0,
    };
    if (e.workingDir !== '' && !e.workingDir.startsWith('/')) throw invalid(`the working directory '${e.workingDir}' is invalid, it needs to be an absolute path`);
    this.byId.set(e.id, e);
    this.emit(c, `exec_create: ${e.argv.join(' ')}`, { execID: e.id });
    // After the reply has gone: the client's turnaround to the start hides the spawn.
    if (!e.tty) setImmediate(() => this.prepare(e));
    return e.id;
  }

  /**
   * Starts berth-exec for an exec that will likely take the fast path; it does its host-side
   * part and waits for the start (runtime/native-exec.ts, `gated`). Nothing of it enters the
   * container before then, so an exec that is never started leaves no trace there.
   */
  private prepare(e: Exec): void {
    if (e.started || this.prepared.has(e.id)) return;
    let plan;
    try {
      plan = this.fastPath(e);
    } catch {
      return; // the start reports it
    }
    if (!plan) return;
    try {
      this.prepared.hold(e.id, this.spawnNative(e, plan, true), this.d.containers.find(e.containerId).state.StartedAt);
    } catch {
      // The start tries again, and reports what fails.
    }
  }

  /** The exec's prepared session if it is still good for the container's current run. */
  private takePrepared(e: Exec): NativeExecSession | undefined {
    const c = this.tryFind(e.containerId);
    return this.prepared.take(e.id, c?.state.Status === 'running' ? c.state.StartedAt : undefined);
  }

  /** berth-exec for the exec in its container's current run. */
  private spawnNative(e: Exec, plan: { process: ExecProcess; seccomp: SeccompBpf | undefined }, gated: boolean): NativeExecSession {
    const c = this.d.containers.find(e.containerId);
    return nativeExec({ initPid: c.state.Pid, process: plan.process, seccomp: plan.seccomp, containerId: c.id, gated });
  }

  private get(id: string): Exec {
    const e = this.byId.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  /** The detach keys the exec was created with (null: the default), and whether it has a TTY. */
  describe(id: string): { detachKeys: number[] | null; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean } {
    const e = this.get(id);
    return { detachKeys: e.detachKeys, tty: e.tty, stdin: e.openStdin, stdout: e.openStdout, stderr: e.openStderr };
  }

  /** Refuses a start that Docker refuses; call before hijacking, so the refusal is a status code. */
  checkStartable(id: string): void {
    const e = this.get(id);
    if (e.exitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    if (e.started) throw conflict(`Error: Exec command ${id} is already running`);
    assertRunning(this.d.containers.find(e.containerId));
  }

  /** Runs the exec without a client: resolves once the process runs (or fails to). */
  async startDetached(id: string, opts: ExecStartOptions = {}): Promise<void> {
    this.prepared.callOff(id);
    await this.launch(this.get(id), opts, undefined);
  }

  /**
   * Runs the exec with `sink` receiving its output from the first byte. Resolves once the
   * process runs; a start failure is thrown (and recorded as the exec's exit code).
   */
  async startAttached(id: string, opts: ExecStartOptions, sink: ExecSink): Promise<ExecHandle> {
    const e = this.get(id);
    const ready = this.takePrepared(e);
    if (!(opts.tty ?? e.tty)) {
      if (ready) {
        return this.startNative(e, () => {
          ready.release();
          return ready;
        }, sink);
      }
      let plan;
      try {
        plan = this.fastPath(e);
      } catch {
        // A spec that cannot be built (unknown user…): the regular path records the failure as Docker does.
      }
      if (plan) {
        const p = plan;
        return this.startNative(e, () => this.spawnNative(e, p, false), sink);
      }
    }
    ready?.callOff();
    let hub: AttachHub | undefined;
    let removeSink = () => {};
    let exitKnown!: () => void;
    const exitRecorded = new Promise<void>((r) => (exitKnown = r));
    // The stream ends when conmon's socket does; the exit code comes on another pipe and must
    // be on record before the client, told the stream is over, asks for it.
    const wrapped: ExecSink = {
      ...(sink.stdout ? { stdout: (d: Buffer) => sink.stdout!(d) } : {}),
      ...(sink.stderr ? { stderr: (d: Buffer) => sink.stderr!(d) } : {}),
      end: () => {
        void Promise.race([exitRecorded, sleep(EXIT_REPORT_WAIT_MS)]).then(() => sink.end());
      },
    };
    let run;
    try {
      run = await this.launch(e, opts, async (socketPath) => {
        hub = new AttachHub(socketPath);
        removeSink = hub.add(wrapped, { stdin: e.openStdin });
        await hub.connect();
      });
    } catch (err) {
      exitKnown();
      removeSink();
      hub?.close();
      throw err;
    }
    const exited = run.exited;
    void exited.then(exitKnown);
    return {
      writeStdin: (d) => hub?.writeStdin(d),
      closeStdin: () => hub?.closeStdin(),
      detach: () => removeSink(),
      exited,
    };
  }

  /** Starts the process; resolves once it runs, with a promise of its exit code. */
  private async launch(e: Exec, opts: ExecStartOptions, attach: ((socketPath: string) => Promise<void>) | undefined): Promise<{ exited: Promise<number> }> {
    const c = this.begin(e);
    if (opts.tty !== undefined) e.tty = opts.tty;
    const size = validSize(opts.consoleSize) ?? e.consoleSize;
    let session;
    try {
      const spec = this.runtimeConfig(c);
      let process = this.processSpec(c, e, size, spec);
      // runc has no filter for this container: its execs load it as its init did.
      const filter = loaderFilter(spec);
      if (filter) process = loaderProcess(process as unknown as OciProcess, filter) as unknown as Record<string, unknown>;
      session = await this.monitor.start({
        containerId: c.id, containerName: c.r.name, execId: e.id, process, terminal: e.tty, stdin: e.openStdin, attach,
      });
    } catch (err) {
      this.finish(e, startFailureCode(err), false);
      throw err;
    }
    e.pid = session.pid;
    const exited = session.exited.then((code) => {
      this.monitor.cleanup(e.id);
      return this.finish(e, code, true);
    });
    return { exited };
  }

  /** Marks the exec started (a second start is refused) and announces it; returns its container. */
  private begin(e: Exec): Container {
    this.checkStartable(e.id);
    const c = this.d.containers.find(e.containerId);
    e.started = true;
    e.running = true;
    this.emit(c, `exec_start: ${e.argv.join(' ')}`, { execID: e.id });
    return c;
  }

  /** Records the end of the process, or its failed start; `announce` emits exec_die. */
  private finish(e: Exec, code: number, announce: boolean): number {
    e.running = false;
    e.exitCode = code;
    e.endedAt = Date.now();
    const ctr = announce ? this.tryFind(e.containerId) : undefined;
    if (ctr) this.emit(ctr, 'exec_die', { execID: e.id, exitCode: String(code) });
    return code;
  }

  /**
   * The fast path for an attached exec without a TTY: berth-exec joins the container directly
   * (runtime/native-exec.ts), ~8 ms instead of conmon + runc exec's ~35. Detached execs keep
   * conmon (they must outlive the daemon), TTYs need its console handling, and processes that
   * could trace berth-exec before it execs (CAP_SYS_PTRACE) go through runc.
   */
  private fastPath(e: Exec): { process: ExecProcess; seccomp: SeccompBpf | undefined } | undefined {
    const c = this.d.containers.find(e.containerId);
    if (c.state.Status !== 'running' || c.state.Pid <= 0) return undefined;
    const run = this.currentRun(c);
    const process = this.processSpec(c, e, null, run.spec) as unknown as ExecProcess;
    const bounding = (run.spec.process.capabilities as { bounding?: string[] } | undefined)?.bounding ?? [];
    if (nativeExecUnsupported(process, bounding)) return undefined;
    return { process, seccomp: run.seccomp };
  }

  /**
   * The container's runtime config and compiled filter for its current run, read and hashed
   * once per start rather than on every exec (config.json carries the whole seccomp profile).
   */
  private currentRun(c: Container): { spec: RuntimeConfig; seccomp: SeccompBpf | undefined } {
    const known = this.runs.get(c.id);
    if (known && known.startedAt === c.state.StartedAt) return known;
    const spec = this.runtimeConfig(c);
    const filter = spec.linux?.seccomp as OciSeccomp | undefined;
    const loaded = loaderFilter(spec);
    const loaderDir = this.d.containers.seccompLoaderDir;
    let seccomp: SeccompBpf | undefined;
    if (loaded && loaderDir) {
      // The init's loader compiled it already.
      seccomp = { path: join(loaderDir, loaded.bpf), flags: loaded.flags };
    } else if (filter) {
      seccomp = ensureSeccompBpf(this.d.containers.bundleDir(c.id), filter);
    }
    const run = { startedAt: c.state.StartedAt, spec, seccomp };
    this.runs.set(c.id, run);
    return run;
  }

  private async startNative(e: Exec, open: () => NativeExecSession, sink: ExecSink): Promise<ExecHandle> {
    this.begin(e);
    let session;
    try {
      session = open();
    } catch (err) {
      this.finish(e, startFailureCode(err), true);
      throw err;
    }
    let forwarding = true;
    const pump = (stream: Readable | null, to: ((d: Buffer) => void) | undefined) =>
      new Promise<void>((resolve) => {
        if (!stream) return resolve();
        // Always drained, even when the client does not want the stream or has detached: a
        // full pipe would block the process.
        stream.on('data', (d: Buffer) => {
          if (forwarding && to) to(d);
        });
        stream.once('end', resolve);
        stream.once('error', () => resolve());
        stream.once('close', resolve);
      });
    const outputDone = Promise.all([pump(session.stdout, e.openStdout ? sink.stdout : undefined), pump(session.stderr, e.openStderr ? sink.stderr : undefined)]);
    const stdin = session.stdin;
    stdin?.on('error', () => {}); // the process may exit without reading its input
    if (!e.openStdin) stdin?.end();
    try {
      e.pid = await session.started;
    } catch (err) {
      await session.exited;
      this.finish(e, startFailureCode(err), true);
      throw err;
    }
    const exited = session.exited.then((code) => this.finish(e, code, true));
    // The client is told the stream is over once the output has ended and the exit is on record.
    void Promise.all([outputDone, exited]).then(() => {
      if (forwarding) sink.end();
    });
    return {
      writeStdin: (d) => {
        if (e.openStdin && stdin && !stdin.writableEnded) stdin.write(d);
      },
      closeStdin: () => stdin?.end(),
      detach: () => {
        forwarding = false;
      },
      exited,
    };
  }

  /**
   * The container's own runtime config: config.json as runc got it, or spec.json when runc got
   * a config that starts the program through the seccomp loader.
   */
  private runtimeConfig(c: Container): RuntimeConfig {
    const dir = this.d.containers.bundleDir(c.id);
    try {
      try {
        return JSON.parse(fs.readFileSync(join(dir, SPEC_FILE), 'utf8')) as RuntimeConfig;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return JSON.parse(fs.readFileSync(join(dir, 'config.json'), 'utf8')) as RuntimeConfig;
    } catch (err) {
      throw new BerthError('internal', `cannot read the container's runtime config: ${(err as Error).message}`);
    }
  }

  /** The container's own process, with this exec's command and options laid over it. */
  private processSpec(c: Container, e: Exec, size: [number, number] | null, spec: RuntimeConfig = this.runtimeConfig(c)): Record<string, unknown> {
    const p: Record<string, unknown> = { ...spec.process, args: e.argv, env: e.env, terminal: e.tty };
    delete p.consoleSize;
    if (e.tty && size && size[0] > 0 && size[1] > 0) p.consoleSize = { height: size[0], width: size[1] };
    if (e.workingDir) p.cwd = e.workingDir;
    if (e.userGiven) {
      const u = resolveUser(spec.root.path, e.user, c.r.spec.HostConfig.GroupAdd ?? []);
      p.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}) };
    }
    if (e.privileged) {
      const all = allCapabilities();
      p.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return p;
  }

  resize(id: string, height: number, width: number): void {
    const e = this.get(id);
    if (!e.running || !e.tty) return;
    this.monitor.resize(id, height, width);
  }

  inspect(id: string) {
    const e = this.get(id);
    return {
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys ? Buffer.from(e.detachKeys).toString('base64') : '',
      ExitCode: e.exitCode,
      ID: e.id,
      OpenStderr: e.openStderr,
      OpenStdin: e.openStdin,
      OpenStdout: e.openStdout,
      ProcessConfig: { arguments: e.argv.slice(1), entrypoint: e.argv[0], privileged: e.privileged, tty: e.tty, user: e.user },
      Running: e.running,
      Pid: e.pid,
    };
  }

  /** Ids of the container's running execs (container inspect's ExecIDs). */
  runningIds(containerId: string): string[] {
    return [...this.byId.values()].filter((e) => e.containerId === containerId && e.running).map((e) => e.id);
  }

  /**
   * Runs a command in a container for the daemon itself (health checks): output capped as
   * Docker's health checks keep it; past `timeoutMs` the process is killed and the result is
   * exit code -1 with `timedOut`. Its record is forgotten once it has ended (a probe every
   * second must not pile up five minutes of records), as Docker forgets its probes' execs.
   */
  async run(containerRef: string, argv: string[], o: { timeoutMs: number; user?: string; env?: string[] }): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    const id = this.create(containerRef, { Cmd: argv, AttachStdout: true, AttachStderr: true, User: o.user, Env: o.env });
    try {
      return await this.runOnce(id, o.timeoutMs);
    } finally {
      const e = this.byId.get(id);
      if (e && !e.running) this.drop(e);
    }
  }

  private async runOnce(id: string, timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = (d: Buffer) => {
      if (size >= RUN_OUTPUT_MAX) return;
      const part = d.subarray(0, RUN_OUTPUT_MAX - size);
      chunks.push(Buffer.from(part));
      size += part.length;
    };
    let ended!: () => void;
    const outputEnded = new Promise<void>((r) => (ended = r));
    let handle: ExecHandle;
    try {
      handle = await this.startAttached(id, {}, { stdout: keep, stderr: keep, end: () => ended() });
    } catch (e) {
      if (e instanceof ExecStartError) return { exitCode: e.exitCode, output: e.message, timedOut: false };
      throw e;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const result = await Promise.race([handle.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      const pid = this.byId.get(id)?.pid;
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // It ended on its own meanwhile.
      }
      void handle.exited.then(() => {
        const e = this.byId.get(id);
        if (e) this.drop(e);
      });
      return { exitCode: -1, output: Buffer.concat(chunks).toString('utf8'), timedOut: true };
    }
    await Promise.race([outputEnded, sleep(EXIT_REPORT_WAIT_MS)]);
    return { exitCode: result, output: Buffer.concat(chunks).toString('utf8'), timedOut: false };
  }

  // ---- forgetting ------------------------------------------------------------------------

  private gc(): void {
    const now = Date.now();
    for (const e of this.byId.values()) {
      if ((!e.running && e.endedAt > 0 && now - e.endedAt > EXEC_KEEP_MS) || !this.tryFind(e.containerId)) this.drop(e);
    }
  }

  private drop(e: Exec): void {
    this.prepared.callOff(e.id);
    this.byId.delete(e.id);
    if (!e.running) this.monitor.cleanup(e.id);
  }

  /** Execs go with their container, as soon as it is removed. */
  private async followRemovals(): Promise<void> {
    const sub = this.d.events.subscribe();
    for (;;) {
      const ev = await sub.next();
      if (ev === null) {
        // Dropped for falling behind (cannot really happen: this loop only filters); resubscribe.
        return void this.followRemovals();
      }
      if (ev.Type !== 'container' || ev.Action !== 'destroy') continue;
      this.runs.delete(ev.Actor.ID);
      for (const e of this.byId.values()) if (e.containerId === ev.Actor.ID) this.drop(e);
    }
  }

  private tryFind(containerId: string): Container | undefined {
    try {
      return this.d.containers.find(containerId);
    } catch {
      return undefined;
    }
  }

  private emit(c: Container, action: string, extra: Record<string, string>): void {
    this.d.events.emit('container', action, c.id, { image: c.r.spec.Config.Image, name: c.r.name, ...c.r.spec.Config.Labels, ...extra });
  }
}

/** The exit code a start that failed is recorded with: the runtime's 126/127, else 126. */
function startFailureCode(err: unknown): number {
  return err instanceof ExecStartError ? err.exitCode : 126;
}

function assertRunning(c: Container): void {
  if (c.state.Status === 'paused') throw conflict(`Container ${c.id} is paused, unpause the container before exec`);
  if (c.state.Status === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
  if (c.state.Status !== 'running') throw conflict(`container ${c.id} is not running`);
}

function validSize(s: [number, number] | null | undefined): [number, number] | null {
  if (!Array.isArray(s) || s.length !== 2 || !s.every((n) => Number.isInteger(n) && n >= 0)) return null;
  return s[0] > 0 && s[1] > 0 ? [s[0], s[1]] : null;
}

const CAP_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
];

let allCaps: string[] | undefined;

/** Every capability the kernel knows (Docker's privileged set), by number up to cap_last_cap. */
export function allCapabilities(): string[] {
  if (!allCaps) {
    let last = CAP_NAMES.length - 1;
    try {
      last = Math.min(last, Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
    } catch {
      // Keep every name we know.
    }
    // Only what the daemon itself may hand out: a sandboxed host can lack some (runc then fails).
    let bounding = (1n << BigInt(last + 1)) - 1n;
    try {
      const hex = /CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
      if (hex) bounding = BigInt(`0x${hex}`);
    } catch {
      // Assume all.
    }
    allCaps = CAP_NAMES.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n).map((n) => `CAP_${n}`);
  }
  return allCaps;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
