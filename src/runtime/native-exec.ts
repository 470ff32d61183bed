/**
 * The fast path for non-TTY execs: berth-exec (native/berth-exec.c, built to dist/berth-exec)
 * does what `runc exec` does, joining the init's namespaces and cgroups and applying the
 * process spec, without runc's Go start-up and re-exec. Its stdio is the exec's; a status pipe
 * (fd 3) says whether the program started. The session dies with berth-exec (its child gets
 * SIGKILL when berth-exec dies), so execs that must outlive the daemon (`exec -d`) or need a
 * TTY still go through conmon (exec-monitor.ts).
 */
import { join } from 'node:path';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../errors';
import { ExecStartError } from './exec-monitor';
import { CAPABILITY_NUMBERS, type OciRlimit } from './oci-spec';
import type { SeccompBpf } from './seccomp-bpf';
import { type ChildFd, childPipe, spawnProcess, type SpawnedProcess } from './spawn';

export const BERTH_EXEC = join(__dirname, '..', '..', 'berth-exec');

/** The OCI `process` fields berth-exec applies (config.json's, overridden for the exec). */
export interface ExecProcess {
  args: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  capabilities?: { bounding?: string[]; effective?: string[]; permitted?: string[]; inheritable?: string[]; ambient?: string[] };
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  rlimits?: OciRlimit[];
  apparmorProfile?: string;
  selinuxLabel?: string;
}

/** A fd of the process: a new pipe (ours to read or write), /dev/null, or one of our fds. */
type Stdio = 'pipe' | 'ignore' | number;

export interface NativeExecOptions {
  /** The container's init, whose namespaces and cgroups the process joins. */
  initPid: number;
  process: ExecProcess;
  /** The container's compiled filter (ensureSeccompBpf); none if it runs unconfined. */
  seccomp?: SeccompBpf;
  /** Names the session keyring `_ses.<id>`, as runc does; without it the daemon's is inherited. */
  containerId?: string;
  /** fds 0, 1, 2 of the process; 'pipe' (the default) is an OS pipe.  */
  stdio?: [Stdio, Stdio, Stdio];
  /** Another build of berth-exec (tests). */
  binary?: string;
  /**
   * Prepare only: berth-exec starts and reads what lives on the host, then waits, outside the
   * container, for `release()` (or `callOff()`). An exec's process is started when it is
   * created, so its start costs only the part inside the container.
   */
  gated?: boolean;
}

export interface NativeExecSession {
  /** berth-exec's pid. */
  pid: number;
  /** Signals berth-exec, which forwards the signal to the process (SIGKILL kills both). */
  kill(signal: NodeJS.Signals | number): void;
  /** Our ends of the process's stdio pipes, for the fds given as 'pipe'. */
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** The process's host pid once it runs; rejects with ExecStartError if it never ran. */
  started: Promise<number>;
  /** The exit code: the program's, 128+N for signal N, 126/127 if it never ran. */
  exited: Promise<number>;
  /** For a gated session: lets berth-exec go on into the container. */
  release(): void;
  /** For a gated session: berth-exec exits without running anything. */
  callOff(): void;
}

/**
 * Why this exec cannot take the fast path, or null. CAP_SYS_PTRACE is excluded because a
 * process holding it could open berth-exec's /proc entries before execve despite
 * PR_SET_DUMPABLE (runc guards that window by running from a sealed copy of itself).
 */
export function nativeExecUnsupported(proc: ExecProcess, containerBounding: string[] = []): string | null {
  if (proc.terminal) return 'a terminal';
  if (proc.apparmorProfile) return 'an AppArmor profile';
  if (proc.selinuxLabel) return 'an SELinux label';
  if ([...(proc.capabilities?.bounding ?? []), ...containerBounding].includes('CAP_SYS_PTRACE')) return 'CAP_SYS_PTRACE';
  return null;
}

/** A capability set as berth-exec's hex mask; names this kernel does not know are skipped, as runc does. */
export function capabilityMask(names: string[] = []): string {
  let mask = 0n;
  for (const n of names) {
    const bit = CAPABILITY_NUMBERS[n.startsWith('CAP_') ? n : `CAP_${n}`];
    if (bit !== undefined) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16);
}

const RLIM_INFINITY = 2 ** 64 - 1;

function rlimitValue(v: number): string {
  // JSON cannot hold 2^64-1 exactly: anything from 2^63 up is RLIM_INFINITY.
  return v >= 2 ** 63 || v === RLIM_INFINITY || v < 0 ? 'unlimited' : String(Math.trunc(v));
}

/** berth-exec's command line for an exec. */
export function nativeExecArgs(o: Omit<NativeExecOptions, 'stdio' | 'binary' | 'gated'>, statusFd: number, waitFd?: number): string[] {
  const p = o.process;
  if (!p.args?.length) throw new BerthError('invalid', 'No exec command specified');
  const args = ['--pid', String(o.initPid), '--status-fd', String(statusFd), '--cwd', p.cwd || '/'];
  if (waitFd !== undefined) args.push('--wait-fd', String(waitFd));
  if (p.user) {
    args.push('--uid', String(p.user.uid), '--gid', String(p.user.gid), '--groups', (p.user.additionalGids ?? []).join(','));
  }
  const c = p.capabilities ?? {};
  args.push(
    '--cap-bounding', capabilityMask(c.bounding), '--cap-effective', capabilityMask(c.effective),
    '--cap-permitted', capabilityMask(c.permitted), '--cap-inheritable', capabilityMask(c.inheritable),
    '--cap-ambient', capabilityMask(c.ambient),
  );
  if (p.noNewPrivileges) args.push('--no-new-privs');
  for (const r of p.rlimits ?? []) args.push('--rlimit', `${r.type}=${rlimitValue(r.soft)}:${rlimitValue(r.hard)}`);
  if (p.oomScoreAdj !== undefined) args.push('--oom-score-adj', String(p.oomScoreAdj));
  if (o.containerId) args.push('--keyring', `_ses.${o.containerId}`);
  if (o.seccomp) args.push('--seccomp', o.seccomp.path, '--seccomp-flags', String(o.seccomp.flags));
  args.push('--', ...p.args);
  return args;
}

/** The process's environment; a later entry of a name wins, as runc's setenv loop does. */
function environment(env: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

/** Runs `o.process` in the container of `o.initPid` through berth-exec. */
export function nativeExec(o: NativeExecOptions): NativeExecSession {
  const reason = nativeExecUnsupported(o.process);
  if (reason) throw new BerthError('invalid', `berth-exec cannot run an exec with ${reason}`);
  const stdio = o.stdio ?? ['pipe', 'pipe', 'pipe'];
  const pipes = stdio.map((s, fd) => (s === 'pipe' ? childPipe(fd === 0) : undefined));
  const status = childPipe(false);
  const gate = o.gated ? childPipe(true) : undefined;
  const childFd = (s: Stdio, fd: number): ChildFd => (s === 'pipe' ? pipes[fd]!.theirs : s === 'ignore' ? 'null' : s);
  const own = [...pipes, status, gate];
  let proc: SpawnedProcess;
  try {
    proc = spawnProcess(o.binary ?? BERTH_EXEC, nativeExecArgs(o, 3, gate ? 4 : undefined), {
      fds: [...stdio.map(childFd), status.theirs, ...(gate ? [gate.theirs] : [])],
      env: environment(o.process.env),
    });
  } catch (e) {
    for (const p of own) p?.ours.destroy();
    throw e;
  } finally {
    for (const p of own) if (p) fs.closeSync(p.theirs);
  }
  const gateStream = gate?.ours as Writable | undefined;
  gateStream?.on('error', () => {});
  const statusStream = status.ours as Readable;
  // berth-exec holds the status pipe until it exits (the program does not inherit it): its EOF
  // is the moment to reap.
  const ended = new Promise<void>((resolve) => {
    statusStream.once('end', resolve);
    statusStream.once('close', resolve);
    statusStream.once('error', () => resolve());
  });
  const exited = ended.then(() => proc.reap()).then((s) => s.code);
  const started = readStatus(statusStream, exited);
  started.catch(() => {});
  const stream = (fd: number) => pipes[fd]?.ours ?? null;
  return {
    pid: proc.pid, started, exited, kill: (signal) => proc.kill(signal),
    release: () => gateStream?.end('1'),
    callOff: () => {
      gateStream?.destroy();
      for (const p of pipes) p?.ours.destroy();
    },
    stdin: stream(0) as Writable | null, stdout: stream(1) as Readable | null, stderr: stream(2) as Readable | null,
  };
}

function readStatus(status: Readable, exited: Promise<number>): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    let settled = false;
    const settle = () => {
      if (settled) return;
      const line = text.split('\n')[0] ?? '';
      const ok = /^ok (\d+)$/.exec(line);
      if (ok) {
        settled = true;
        return resolve(Number(ok[1]));
      }
      const failed = /^error (\d+) (.*)$/.exec(line);
      if (failed) {
        settled = true;
        const code = Number(failed[1]);
        return reject(new ExecStartError(
          `OCI runtime exec failed: exec failed: unable to start container process: ${failed[2]}: unknown`,
          code === 127 ? 127 : 126,
        ));
      }
      if (!text.includes('\n')) {
        settled = true;
        void exited.then((code) => reject(new BerthError('internal', `berth-exec ended without reporting (exit ${code})`)));
      }
    };
    status.setEncoding('utf8');
    // Read to the end: the stream's EOF tells that berth-exec has exited.
    status.on('data', (s: string) => {
      if (settled) return;
      text += s;
      if (text.includes('\n')) settle();
    });
    status.once('end', settle);
    status.once('close', settle);
    status.once('error', settle);
  });
}
