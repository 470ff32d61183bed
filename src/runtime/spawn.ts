/**
 * Starting the helpers on the hot paths (berth-exec for every exec, conmon for every container
 * start) without fork. child_process.spawn forks berthd, copying its page tables with the event
 * loop stopped: 3–5 ms at berthd's size, growing with the heap. glibc's posix_spawn runs the
 * child on berthd's memory (clone with CLONE_VM|CLONE_VFORK) until it execs: ~0.4 ms here.
 *
 * libuv reaps only the pids it spawned itself (waitpid per pid), so these children are reaped
 * here: `reap()` polls waitpid(WNOHANG) and is meant to be called once the caller has seen the
 * child end (EOF on a pipe only it held), when the wait is microseconds.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { constants } from 'node:os';
import { BerthError } from '../errors';

type NativeFn = (...args: unknown[]) => unknown;
interface Koffi {
  load(path: string): { func(signature: string): NativeFn };
  errno(): number;
}

let libc: Record<'spawn' | 'faInit' | 'faDestroy' | 'faDup2' | 'faOpen' | 'faChdir' | 'attrInit' | 'attrDestroy' | 'attrFlags' | 'attrSigDefault' | 'attrSigMask' | 'sigfillset' | 'sigemptyset' | 'waitpid' | 'pipe2' | 'dupfd', NativeFn> | undefined;
let koffi: Koffi;

function c(): NonNullable<typeof libc> {
  if (libc) return libc;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  koffi = require('koffi') as Koffi;
  const l = koffi.load('libc.so.6');
  libc = {
    spawn: l.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)'),
    faInit: l.func('int posix_spawn_file_actions_init(void *actions)'),
    faDestroy: l.func('int posix_spawn_file_actions_destroy(void *actions)'),
    faDup2: l.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
    faOpen: l.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)'),
    faChdir: l.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)'),
    attrInit: l.func('int posix_spawnattr_init(void *attr)'),
    attrDestroy: l.func('int posix_spawnattr_destroy(void *attr)'),
    attrFlags: l.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    attrSigDefault: l.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    attrSigMask: l.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    sigfillset: l.func('int sigfillset(void *set)'),
    sigemptyset: l.func('int sigemptyset(void *set)'),
    waitpid: l.func('int waitpid(int pid, _Out_ int *status, int options)'),
    pipe2: l.func('int pipe2(_Out_ int *fds, int flags)'),
    dupfd: l.func('int fcntl(int fd, int cmd, int arg)'),
  };
  return libc;
}

// glibc's values (spawn.h, fcntl.h, wait.h).
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const WNOHANG = 1;
const ECHILD = 10;
/** The opaque glibc structs, with room to spare (x86_64: 80, 336 and 128 bytes). */
const STRUCT_ROOM = 1024;

/** What the child gets as one of its fds: one of ours, or /dev/null. */
export type ChildFd = number | 'null';

export interface SpawnOptions {
  /** The child's fds 0..n-1, in order; every other fd of berthd is close-on-exec. */
  fds: ChildFd[];
  env: Record<string, string>;
  cwd?: string;
  /** A new session (the child leaves berthd's process group and terminal). */
  setsid?: boolean;
}

export interface ExitStatus {
  /** The exit code, or 128 + the signal number for a child killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  pid: number;
  kill(signal?: NodeJS.Signals | number): void;
  /** The exit status, once the child has ended; call it when the end is known or near. */
  reap(): Promise<ExitStatus>;
}

export class SpawnError extends BerthError {}

/** Starts `file` (an absolute path) with `args`; throws SpawnError if it cannot be run. */
export function spawnProcess(file: string, args: string[], o: SpawnOptions): SpawnedProcess {
  const l = c();
  const actions = Buffer.alloc(STRUCT_ROOM);
  const attr = Buffer.alloc(STRUCT_ROOM);
  const all = Buffer.alloc(STRUCT_ROOM);
  const none = Buffer.alloc(STRUCT_ROOM);
  l.faInit(actions);
  l.attrInit(attr);
  const temps: number[] = [];
  try {
    // A source fd below n could be overwritten by an earlier dup2 (or be its own target, where
    // dup2 keeps close-on-exec): such sources are moved above n first.
    const n = o.fds.length;
    o.fds.forEach((fd, target) => {
      if (fd === 'null') {
        l.faOpen(actions, target, '/dev/null', O_RDWR, 0);
        return;
      }
      let src = fd;
      if (src < n) {
        src = l.dupfd(fd, F_DUPFD_CLOEXEC, n) as number;
        if (src < 0) throw new SpawnError('internal', `cannot start ${file}: fcntl: errno ${koffi.errno()}`);
        temps.push(src);
      }
      l.faDup2(actions, src, target);
    });
    if (o.cwd) l.faChdir(actions, o.cwd);
    // Node ignores SIGPIPE and blocks signals on some threads: the child starts from defaults.
    l.sigfillset(all);
    l.sigemptyset(none);
    l.attrSigDefault(attr, all);
    l.attrSigMask(attr, none);
    l.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (o.setsid ? POSIX_SPAWN_SETSID : 0));
    const pid = [0];
    const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
    const rc = l.spawn(pid, file, actions, attr, [file, ...args, null], [...env, null]) as number;
    if (rc !== 0) {
      throw new SpawnError('internal', `cannot start ${file}: ${errnoName(rc)}`);
    }
    return handle(pid[0]!);
  } finally {
    l.faDestroy(actions);
    l.attrDestroy(attr);
    for (const t of temps) fs.closeSync(t);
  }
}

function handle(pid: number): SpawnedProcess {
  let status: Promise<ExitStatus> | undefined;
  let exited = false;
  return {
    pid,
    kill(signal: NodeJS.Signals | number = 'SIGTERM') {
      // After the reap the pid may belong to someone else.
      if (exited) return;
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    },
    reap() {
      status ??= poll(pid).then((s) => {
        exited = true;
        return s;
      });
      return status;
    },
  };
}

async function poll(pid: number): Promise<ExitStatus> {
  const l = c();
  const st = [0];
  // 1 ms doubling to 100 ms: a child that has closed its pipes is usually a zombie within
  // microseconds; one that is still running is looked at ten times a second.
  for (let delay = 0; ; delay = Math.min(100, Math.max(1, delay * 2))) {
    const r = l.waitpid(pid, st, WNOHANG) as number;
    if (r === pid) return decode(st[0]!);
    if (r < 0 && koffi.errno() === ECHILD) return { code: 255, signal: null };
    await new Promise((res) => setTimeout(res, delay));
  }
}

function decode(status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const name = (Object.entries(constants.signals).find(([, n]) => n === sig)?.[0] ?? null) as NodeJS.Signals | null;
  return { code: 128 + sig, signal: name };
}

function errnoName(errno: number): string {
  const name = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0];
  return name ? `${name} (errno ${errno})` : `errno ${errno}`;
}

/**
 * An OS pipe for a child's fd: our end as a stream, and the child's raw fd, to be closed once
 * spawned. Both are close-on-exec (the child's gets it cleared by dup2). A pipe, not a
 * socketpair: programs reopen their stdio through /proc/self/fd/N, which fails on a socket.
 */
export function childPipe(childReads: boolean): { ours: Readable | Writable; theirs: number } {
  const fds = new Int32Array(2);
  if ((c().pipe2(fds, O_CLOEXEC) as number) !== 0) throw new SpawnError('internal', `cannot create a pipe: errno ${koffi.errno()}`);
  const [r, w] = [fds[0]!, fds[1]!];
  return childReads
    ? { ours: new net.Socket({ fd: w, readable: false, writable: true }), theirs: r }
    : { ours: new net.Socket({ fd: r, readable: true, writable: false }), theirs: w };
}
