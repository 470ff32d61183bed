/**
 * A container's runtime plumbing, below the lifecycle the container service decides: the
 * rootfs mount, the OCI bundle, conmon with `runc create`, and the teardown after an exit
 * (runc delete, conmon's leftovers, unmount), which trails behind the exit on the event loop and
 * is tracked so the daemon can wait for it before exiting.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { LayerStore } from '../store/layers';
import type { OverlaySnapshotter } from '../store/snapshots';
import { keepRotated, type LogConfig, type LogOptions, logOptions } from '../runtime/log-rotation';
import type { Monitor } from '../runtime/monitor';
import type { Runc } from '../runtime/runc';
import { SeccompLoader } from '../runtime/seccomp-loader';
import type { Container } from './container';
import { copyUpVolumes, writeBundle } from './container-bundle';
import type { NetworkService, PreparedNetwork } from './networks';

export interface ContainerRuntimeDeps {
  dataRoot: string;
  layers: LayerStore;
  snapshots: OverlaySnapshotter;
  runc: Runc;
  monitor: Monitor;
  networks: NetworkService;
  /** A running container's id and init pid (--network container:<ref>). */
  runningPid: (ref: string) => { id: string; pid: number };
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const CGROUP_PARENT = '/berth';

export class ContainerRuntime {
  /** Background work the daemon must finish before it exits. */
  private readonly pending = new Set<Promise<void>>();
  /** Where containers' filters are compiled and loaded from; off with BERTH_SECCOMP_LOADER=off (benchmarks, tests). */
  readonly loader: SeccompLoader | undefined;

  constructor(private readonly d: ContainerRuntimeDeps) {
    this.loader = process.env.BERTH_SECCOMP_LOADER === 'off' ? undefined : new SeccompLoader(join(d.dataRoot, 'seccomp-loader'));
  }

  bundleDir(id: string): string {
    return join(this.d.dataRoot, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.bundleDir(id), 'ctr.log');
  }

  /** Mount, bundle, conmon + runc create: the container exists but has not run its program yet. Resolves to the init pid. */
  async prepare(c: Container): Promise<number> {
    await c.teardown;
    const { id } = c;
    const bundle = this.bundleDir(id);
    const { Config: cfg } = c.r.spec;
    // The namespace and addresses now; the veths are wired while conmon and runc work.
    const tn = performance.now();
    const net: PreparedNetwork = this.d.networks.prepare(c.r, this.d.runningPid);
    let wiredAt = 0;
    void net.ready.then(() => (wiredAt = performance.now()), () => {});
    // conmon loads (a few ms of dynamic linking) while the rootfs is mounted and the bundle written.
    const t0 = performance.now();
    let monitor;
    try {
      monitor = this.d.monitor.launch({
      id, name: c.r.name, bundle, logPath: this.logPath(id), terminal: cfg.Tty, stdin: cfg.OpenStdin, stdinOnce: cfg.StdinOnce,
      logSizeMax: this.logOptions(c).maxSize,
      });
    } catch (e) {
      await this.d.networks.release(c.id);
      throw e;
    }
    let t1, t2, notLoaded;
    try {
      const rootfs = this.d.snapshots.mount(id, this.d.layers.stack(c.r.layer!), { volatile: c.r.spec.HostConfig.AutoRemove || c.r.spec.Volatile === true });
      if (c.r.spec.Mounts?.length) await copyUpVolumes(rootfs, c.r.spec.Mounts);
      t1 = performance.now();
      const hostGateway = this.d.networks.hostGateway();
      const pid = this.sharedNamespace('pid', c.r.spec.HostConfig.PidMode);
      const ipc = this.sharedNamespace('ipc', c.r.spec.HostConfig.IpcMode);
      notLoaded = writeBundle(bundle, c.r, rootfs, CGROUP_PARENT, { ...net, ...(hostGateway ? { hostGateway } : {}), ...(pid ? { pid } : {}), ...(ipc ? { ipc } : {}) }, this.loader);
      t2 = performance.now();
    } catch (e) {
      await monitor.abort();
      this.unmountQuietly(id);
      await this.d.networks.release(id);
      throw e;
    }
    const [created, wired] = await Promise.allSettled([monitor.proceed(), net.ready]);
    if (created.status === 'fulfilled' && wired.status === 'rejected') {
      // The container exists but cannot be given its network: undo all of it.
      await this.teardown(c);
      throw wired.reason;
    }
    try {
      if (created.status === 'rejected') throw created.reason;
      const { pid } = created.value;
      this.keepLog(c);
      const ms = (a: number, b: number) => Math.round(b - a);
      this.d.log('debug', 'runtime prepared', {
        id, spawnMountMs: ms(t0, t1), bundleMs: ms(t1, t2), createMs: ms(t2, performance.now()), network: c.r.spec.HostConfig.NetworkMode, netnsMs: ms(tn, t0), wiredMs: ms(t0, wiredAt || t0), seccomp: notLoaded ? `by runc: ${notLoaded}` : 'by the loader',
      });
      return pid;
    } catch (e) {
      this.unmountQuietly(id);
      await this.d.networks.release(id);
      throw e;
    }
  }

  /** After an exit: runc delete, conmon's leftovers, unmount. */
  /** --pid/--ipc host or container:<ref> (which must be running); undefined: a namespace of its own. */
  private sharedNamespace(type: 'pid' | 'ipc', mode: unknown): { path: string } | 'host' | undefined {
    if (mode === 'host') return 'host';
    if (typeof mode === 'string' && mode.startsWith('container:')) return { path: `/proc/${this.d.runningPid(mode.slice('container:'.length)).pid}/ns/${type}` };
    return undefined;
  }

  async teardown(c: Container): Promise<void> {
    const { id } = c;
    // Spawning runc forks the daemon (milliseconds of blocked event loop): let the replies that
    // this exit unblocks (wait, removal) go out first.
    await new Promise((r) => setImmediate(r));
    await this.d.runc.delete(id, true).catch((e) => this.d.log('warn', 'runc delete failed', { id, error: String(e) }));
    // conmon writes its exit file when it sees the init die; wait for it to finish, so no late
    // exit file can be taken for the exit of the next start.
    await this.d.monitor.waitGone(id);
    this.d.monitor.cleanup(id, this.bundleDir(id));
    await this.d.networks.release(id).catch((e) => this.d.log('warn', 'network teardown failed', { id, error: String(e) }));
    await this.d.snapshots.unmountAsync(id).catch((e) => this.d.log('warn', 'rootfs still busy', { id, error: String(e) }));
  }

  /** Deletes a removed container's writable layer and bundle once its teardown is done. */
  async deleteFiles(c: Container): Promise<void> {
    await c.teardown;
    await this.d.snapshots.removeAsync(c.id);
    await fs.promises.rm(this.bundleDir(c.id), { recursive: true, force: true });
  }

  unmountQuietly(id: string): void {
    try {
      this.d.snapshots.unmount(id);
    } catch (e) {
      this.d.log('warn', 'rootfs still busy', { id, error: String(e) });
    }
  }

  logOptions(c: Container): LogOptions {
    return logOptions((c.r.spec.HostConfig.LogConfig as LogConfig | undefined)?.Config);
  }

  /** Keeps the files conmon's log cuts leave (runtime/log-rotation.ts) while the container's monitor runs. */
  keepLog(c: Container): void {
    keepRotated(this.logPath(c.id), this.logOptions(c), () => this.d.monitor.alive(c.id), (e) => this.d.log('warn', 'log rotation failed', { id: c.id, error: String(e) }));
  }

  track(p: Promise<void>): Promise<void> {
    const t = p.catch((e) => this.d.log('error', 'background cleanup failed', { error: String(e) }));
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
    return t;
  }

  /** Waits for trailing cleanups (daemon shutdown, tests). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
