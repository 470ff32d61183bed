/**
 * The fast path for non-TTY execs: berth-exec (native/berth-exec.c, built to dist/berth-exec)
 * does what `runc exec` does, joining the init's namespaces and cgroups and applying the
 * process spec, without runc's Go start-up and re-exec. Its stdio is the exec's; a status pipe
 * (fd 3) says whether the program started. The session dies with berth-exec (its child gets
 * SIGKILL when berth-exec dies), so execs that must outlive the daemon (`exec -d`) or need a
 * TTY still go through conmon (exec-monitor.ts).
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Stream, Writable } from 'node:stream';
import { BerthError } from '../errors';
import { ExecStartError } from './exec-monitor';
import { CAPABILITY_NUMBERS, type OciRlimit } from './oci-spec';
import type { SeccompBpf } from './seccomp-bpf';

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

type Stdio = IOType | Stream | number | null | undefined;

export interface NativeExecOptions {
  /** The container's init, whose namespaces and cgroups the process joins. */
  initPid: number;
  process: ExecProcess;
  /** The container's compiled filter (ensureSeccompBpf); none if it runs unconfined. */
  seccomp?: SeccompBpf;
  /** Names the session keyring `_ses.<id>`, as runc does; without it the daemon's is inherited. */
  containerId?: string;
  /** fds 0, 1, 2 of the process, as for child_process.spawn; 'pipe' is an OS pipe (the default). */
  stdio?: [Stdio, Stdio, Stdio];
  /** Another build of berth-exec (tests). */
  binary?: string;
}

export interface NativeExecSession {
  /** berth-exec itself; kill() forwards the signal to the process (SIGKILL kills both). */
  child: ChildProcess;
  /** Our ends of the process's stdio pipes, for the fds given as 'pipe'. */
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** The process's host pid once it runs; rejects with ExecStartError if it never ran. */
  started: Promise<number>;
  /** The exit code: the program's, 128+N for signal N, 126/127 if it never ran. */
  exited: Promise<number>;
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
export function nativeExecArgs(o: Omit<NativeExecOptions, 'stdio' | 'binary'>, statusFd: number): string[] {
  const p = o.process;
  if (!p.args?.length) throw new BerthError('invalid', 'No exec command specified');
  const args = ['--pid', String(o.initPid), '--status-fd', String(statusFd), '--cwd', p.cwd || '/'];
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

interface Libc {
  pipe2: (fds: Int32Array, flags: number) => number;
}
let libc: Libc | undefined;
const O_CLOEXEC = 0o2000000;

/**
 * An OS pipe: [our end, the process's end], both close-on-exec (spawn dup2s the process's end
 * onto its fd, which clears the flag there). Node's own 'pipe' stdio is a socketpair, and a
 * socket cannot be reopened through /dev/stdout or /proc/self/fd/N (ENXIO), which scripts in
 * containers do; runc hands out pipes.
 */
function osPipe(forWriting: boolean): { ours: Readable | Writable; theirs: number } {
  if (!libc) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as { load(p: string): { func(sig: string): unknown } };
    libc = { pipe2: koffi.load('libc.so.6').func('int pipe2(_Out_ int *fds, int flags)') as Libc['pipe2'] };
  }
  const fds = new Int32Array(2);
  if (libc.pipe2(fds, O_CLOEXEC) !== 0) throw new BerthError('internal', 'Cannot create a pipe for the exec');
  const [r, w] = [fds[0]!, fds[1]!];
  // The process reads its stdin from the read end; we read its output from the read end.
  return forWriting
    ? { ours: new net.Socket({ fd: w, readable: false, writable: true }), theirs: r }
    : { ours: new net.Socket({ fd: r, readable: true, writable: false }), theirs: w };
}

/** Runs `o.process` in the container of `o.initPid` through berth-exec. */
export function nativeExec(o: NativeExecOptions): NativeExecSession {
  const reason = nativeExecUnsupported(o.process);
  if (reason) throw new BerthError('invalid', `berth-exec cannot run an exec with ${reason}`);
  const pipes = (o.stdio ?? ['pipe', 'pipe', 'pipe']).map((s, fd) => (s === 'pipe' ? osPipe(fd === 0) : s));
  let child: ChildProcess;
  try {
    child = spawn(o.binary ?? BERTH_EXEC, nativeExecArgs(o, 3), {
      stdio: [...pipes.map((p) => (isPipe(p) ? p.theirs : p)), 'pipe'],
      env: environment(o.process.env),
    });
  } finally {
    for (const p of pipes) if (isPipe(p)) fs.closeSync(p.theirs);
  }
  const stream = (fd: number) => {
    const p = pipes[fd];
    return isPipe(p) ? p.ours : null;
  };
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(126));
    child.once('exit', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? constants.signals[signal] : 0));
    });
  });
  const started = readStatus(child.stdio[3] as Readable, child);
  started.catch(() => {});
  return {
    child, started, exited,
    stdin: stream(0) as Writable | null, stdout: stream(1) as Readable | null, stderr: stream(2) as Readable | null,
  };
}

function isPipe(p: unknown): p is { ours: Readable | Writable; theirs: number } {
  return typeof p === 'object' && p !== null && 'theirs' in p;
}

function readStatus(status: Readable, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      const line = text.split('\n')[0] ?? '';
      const ok = /^ok (\d+)$/.exec(line);
      if (ok) return resolve(Number(ok[1]));
      const failed = /^error (\d+) (.*)$/.exec(line);
      if (failed) {
        const code = Number(failed[1]);
        return reject(new ExecStartError(
          `OCI runtime exec failed: exec failed: unable to start container process: ${failed[2]}: unknown`,
          code === 127 ? 127 : 126,
        ));
      }
      reject(new BerthError('internal', `berth-exec ended without reporting (exit ${child.exitCode ?? child.signalCode})`));
    };
    status.setEncoding('utf8');
    status.on('data', (s: string) => {
      text += s;
      if (text.includes('\n')) {
        settle();
        status.destroy();
      }
    });
    status.once('end', settle);
    status.once('close', settle);
    status.once('error', settle);
    child.once('error', (e) => {
      if (settled) return;
      settled = true;
      reject(new BerthError('internal', `Cannot start berth-exec: ${e.message}`));
    });
  });
}
