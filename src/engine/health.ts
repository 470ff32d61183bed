/**
 * Health checks as Docker runs them: a probe (an exec in the container) every interval; a run of
 * `Retries` failures makes the container unhealthy, a success makes it healthy again. Failures
 * during the start period do not count while the container has never been healthy. The last
 * five results are kept in State.Health.Log with their output cut to 4 KiB.
 */

export interface HealthConfig {
  /** ["CMD", argv...], ["CMD-SHELL", "cmd"], ["NONE"], or [] (inherit). */
  Test?: string[] | null;
  /** Durations in nanoseconds, as the API carries them; 0 means the default. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthResult[];
}

export interface ProbeOutcome {
  exitCode: number;
  output: string;
}

const NS_PER_MS = 1_000_000;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;
/** Docker refuses durations under 1 ms (other than 0, the default). */
const MIN_DURATION_NS = 1_000_000;

/** The container's healthcheck over the image's: fields the container leaves zero come from the image. */
export function mergeHealthcheck(image: HealthConfig | null | undefined, user: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!image && !user) return undefined;
  if (!image) return user ?? undefined;
  if (!user) return image;
  return {
    Test: user.Test && user.Test.length > 0 ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
}

/** Docker's create-time checks, with its messages. */
export function validateHealthcheck(h: HealthConfig | null | undefined): string | null {
  if (!h) return null;
  for (const [k, v] of [['Interval', h.Interval], ['Timeout', h.Timeout], ['StartPeriod', h.StartPeriod], ['StartInterval', h.StartInterval]] as const) {
    if (v && v < MIN_DURATION_NS) return `${k} in Healthcheck cannot be less than 1ms`;
    if (v && v < 0) return `${k} in Healthcheck cannot be negative`;
  }
  if (h.Retries !== undefined && h.Retries < 0) return 'Retries in Healthcheck cannot be negative';
  const t = h.Test ?? [];
  if (t.length > 0 && !['NONE', 'CMD', 'CMD-SHELL'].includes(t[0])) return `unknown healthcheck type '${t[0]}' (expected CMD, CMD-SHELL or NONE)`;
  return null;
}

/** The argv a probe runs, or null when the container has no check. */
export function probeArgv(h: HealthConfig | undefined): string[] | null {
  const t = h?.Test ?? [];
  if (t.length === 0 || t[0] === 'NONE') return null;
  if (t[0] === 'CMD-SHELL') return ['/bin/sh', '-c', t.slice(1).join(' ')];
  if (t[0] === 'CMD') return t.length > 1 ? t.slice(1) : null;
  return null;
}

export interface HealthTiming {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export function timing(h: HealthConfig): HealthTiming {
  const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? Math.max(1, Math.round(ns / NS_PER_MS)) : dflt);
  return {
    intervalMs: ms(h.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: ms(h.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: ms(h.StartPeriod, 0),
    startIntervalMs: ms(h.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
}

export function initialHealth(): HealthState {
  return { Status: 'starting', FailingStreak: 0, Log: [] };
}

/**
 * Folds one probe result into the state. `inStartPeriod`: the container started less than the
 * start period ago; failures then leave the streak alone until the first success.
 */
export function applyResult(prev: HealthState, result: HealthResult, retries: number, inStartPeriod: boolean): HealthState {
  const Log = [...prev.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (inStartPeriod && prev.Status === 'starting') return { ...prev, Log };
  const FailingStreak = prev.FailingStreak + 1;
  return { Status: FailingStreak >= retries ? 'unhealthy' : prev.Status, FailingStreak, Log };
}

export interface HealthHost {
  /** Runs argv in the container; resolves with its exit code and (capped) output. */
  probe(argv: string[], timeoutMs: number): Promise<ProbeOutcome>;
  /** Persists the state (and, when the status changed, emits Docker's health_status event). */
  record(state: HealthState, changed: boolean): void;
  startedAt(): number;
}

/** Runs one container's probes until stopped. */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly t: HealthTiming;

  constructor(
    private readonly argv: string[],
    cfg: HealthConfig,
    private readonly host: HealthHost,
    private state: HealthState,
  ) {
    this.t = timing(cfg);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private inStartPeriod(): boolean {
    return Date.now() - this.host.startedAt() < this.t.startPeriodMs;
  }

  private schedule(): void {
    if (this.stopped) return;
    // During the start period a container that is not yet healthy is probed at the (shorter) start interval.
    const delay = this.inStartPeriod() && this.state.Status === 'starting' ? Math.min(this.t.startIntervalMs, this.t.intervalMs) : this.t.intervalMs;
    this.timer = setTimeout(() => void this.runOnce(), delay);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    if (this.stopped) return;
    const start = new Date();
    let outcome: ProbeOutcome;
    try {
      outcome = await this.host.probe(this.argv, this.t.timeoutMs);
    } catch (e) {
      outcome = { exitCode: -1, output: e instanceof Error ? e.message : String(e) };
    }
    if (this.stopped) return;
    const result: HealthResult = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: outcome.exitCode, Output: outcome.output };
    const next = applyResult(this.state, result, this.t.retries, this.inStartPeriod());
    const changed = next.Status !== this.state.Status;
    this.state = next;
    this.host.record(next, changed);
    this.schedule();
  }
}
