/**
 * Restart policies as Docker applies them: whether an exited container is started again, and
 * after how long. The back-off starts at 100 ms and doubles with each restart up to a minute; a
 * run that lasted 10 s or more resets it (so a service that crashes once a day restarts at once,
 * while a crash loop does not spin the machine).
 */
import { invalid } from '../errors';

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface RestartPolicy {
  Name: RestartPolicyName | '';
  MaximumRetryCount: number;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const STABLE_RUN_MS = 10_000;

/** Validates a policy from the API, with Docker's messages. */
export function validateRestartPolicy(p: unknown, autoRemove: boolean): RestartPolicy {
  if (p == null) return { Name: 'no', MaximumRetryCount: 0 };
  const { Name = '', MaximumRetryCount = 0 } = p as { Name?: string; MaximumRetryCount?: number };
  if (typeof Name !== 'string' || typeof MaximumRetryCount !== 'number') throw invalid('invalid restart policy');
  switch (Name) {
    case '':
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (MaximumRetryCount !== 0) throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
      break;
    case 'on-failure':
      if (MaximumRetryCount < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
      break;
    default:
      throw invalid(`invalid restart policy: unknown policy '${Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (autoRemove && Name !== '' && Name !== 'no') {
    throw invalid(`can't create 'AutoRemove' container with restart policy`);
  }
  return { Name, MaximumRetryCount };
}

export interface ExitFacts {
  exitCode: number;
  /** Stopped by `stop`/`kill` (Docker's HasBeenManuallyStopped). */
  manuallyStopped: boolean;
  /** Restarts done so far (State's RestartCount). */
  restartCount: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
}

/**
 * Docker's decision for one exit. `always` restarts even a manually stopped container, but only
 * when the daemon restarts: a stop cancels the pending restart, which the caller handles.
 */
export function shouldRestart(p: RestartPolicy, f: ExitFacts): boolean {
  switch (p.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !f.manuallyStopped;
    case 'on-failure':
      return f.exitCode !== 0 && (p.MaximumRetryCount === 0 || f.restartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/** The back-off before the next restart, given the previous delay (0 for none yet). */
export function nextDelay(previousMs: number, ranMs: number): number {
  if (ranMs >= STABLE_RUN_MS || previousMs === 0) return FIRST_DELAY_MS;
  return Math.min(previousMs * 2, MAX_DELAY_MS);
}
