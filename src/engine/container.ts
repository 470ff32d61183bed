/**
 * One container as the service holds it in memory: its record (what the database has), the
 * lock that orders start, exit handling and removal, and the promises clients wait on.
 */
import type { AttachHub } from '../runtime/attach';
import type { ContainerRecord, ContainerState } from './container-model';
import type { HealthMonitor } from './health';
import { Mutex } from './mutex';

export class Container {
  readonly lock = new Mutex();
  hub: AttachHub | undefined;
  /** Runtime cleanup after the last exit (runc delete, unmount); a new start waits for it. */
  teardown: Promise<void> = Promise.resolve();
  /** A runtime created ahead of `start` (see prewarm); resolves to the init pid. */
  prepared: Promise<number> | undefined;
  private exitWaiters: (() => void)[] = [];
  private removeWaiters: (() => void)[] = [];
  removed = false;
  /** A restart the policy scheduled (status "restarting"); stop and removal cancel it. */
  restartTimer: NodeJS.Timeout | undefined;
  /** The policy's last back-off, doubled on each restart of a crash loop. */
  restartDelayMs = 0;
  health: HealthMonitor | undefined;

  constructor(public r: ContainerRecord) {}

  get id(): string { return this.r.id; }
  get state(): ContainerState { return this.r.state; }
  get running(): boolean { return this.r.state.Status === 'running' || this.r.state.Status === 'paused'; }

  nextExit(): Promise<void> {
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }
  removal(): Promise<void> {
    if (this.removed) return Promise.resolve();
    return new Promise((resolve) => this.removeWaiters.push(resolve));
  }
  cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  stopHealth(): void {
    this.health?.stop();
    this.health = undefined;
  }

  notifyExit(): void {
    const w = this.exitWaiters;
    this.exitWaiters = [];
    for (const f of w) f();
  }
  notifyRemoved(): void {
    this.notifyExit();
    const w = this.removeWaiters;
    this.removeWaiters = [];
    for (const f of w) f();
  }
}
