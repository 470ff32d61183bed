/**
 * The flags of run/create that say what happens after start: the restart policy and the health
 * check. They become HostConfig.RestartPolicy and Config.Healthcheck (durations in nanoseconds).
 */
import type { FlagSpec, ParsedFlags } from '../flags';
import { parseGoDuration } from '../time';
import { UsageError } from '../command';

export const POLICY_FLAGS: FlagSpec[] = [
  { name: 'restart', type: 'string', description: 'Restart policy to apply when a container exits', default: 'no' },
  { name: 'health-cmd', type: 'string', description: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', description: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', type: 'int', description: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-interval', type: 'string', description: 'Time between running the check during the start period (ms|s|m|h) (default 0s)' },
  { name: 'health-start-period', type: 'string', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', type: 'string', description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'no-healthcheck', type: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
];

/** `--restart`: no, always, unless-stopped, on-failure[:max-retries]; Docker's CLI wording. */
export function parseRestart(v: string): { Name: string; MaximumRetryCount: number } {
  if (v === '') return { Name: 'no', MaximumRetryCount: 0 };
  const parts = v.split(':');
  if (parts.length > 2) throw new UsageError(`invalid restart policy format: ${v}`, 125);
  const [name, count] = parts;
  if (count !== undefined) {
    if (name !== 'on-failure') throw new UsageError(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`, 125);
    if (!/^\d+$/.test(count)) throw new UsageError(`invalid restart policy format: maximum retry count must be an integer`, 125);
  }
  return { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

function nanos(flags: ParsedFlags, name: string): number {
  const v = flags.string(name);
  if (!v) return 0;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new UsageError(`invalid argument "${v}" for "--${name}" flag: time: invalid duration "${v}"`, 125);
  if (ms < 0) throw new UsageError(`--${name} cannot be negative`, 125);
  return Math.round(ms * 1e6);
}

export function healthcheckBody(flags: ParsedFlags): Record<string, unknown> | undefined {
  const tuned = ['health-cmd', 'health-interval', 'health-retries', 'health-start-interval', 'health-start-period', 'health-timeout'].some((f) => flags.changed.has(f));
  if (flags.bool('no-healthcheck')) {
    if (tuned) throw new UsageError('--no-healthcheck conflicts with --health-* options', 125);
    return { Test: ['NONE'] };
  }
  if (!tuned) return undefined;
  const cmd = flags.string('health-cmd');
  const retries = flags.int('health-retries');
  if (retries < 0) throw new UsageError('--health-retries cannot be negative', 125);
  return {
    ...(cmd ? { Test: ['CMD-SHELL', cmd] } : {}),
    Interval: nanos(flags, 'health-interval'),
    Timeout: nanos(flags, 'health-timeout'),
    StartPeriod: nanos(flags, 'health-start-period'),
    StartInterval: nanos(flags, 'health-start-interval'),
    Retries: retries,
  };
}

export function restartBody(flags: ParsedFlags): { Name: string; MaximumRetryCount: number } {
  const policy = parseRestart(flags.string('restart'));
  if (flags.bool('rm') && policy.Name !== 'no') throw new UsageError('Conflicting options: --restart and --rm', 125);
  return policy;
}
