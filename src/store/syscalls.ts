/**
 * The few libc calls Node lacks, through koffi (prebuilt FFI, no compiler; see
 * ../shared/notes/storage.md §0): mount/umount2 for overlay, mknod and lsetxattr for whiteouts,
 * sendfile and poll for the registry's blob bodies.
 * Each call is a few µs; spawning mount(8) instead costs milliseconds and grows with the heap.
 */
import { BerthError } from '../errors';

/** The slice of koffi's API used here (its bundled types are ESM-only, this build is CommonJS). */
type NativeFn = ((...args: unknown[]) => unknown) & {
  /** The same call on a libuv worker thread; the callback gets (error, result). */
  async(...args: unknown[]): void;
};
interface Koffi {
  load(path: string): { func(signature: string): NativeFn };
  errno(): number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi = require('koffi') as Koffi;

const libc = koffi.load('libc.so.6');

const c = {
  mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  mknod: libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
  lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
  lremovexattr: libc.func('int lremovexattr(const char *path, const char *name)'),
  syscall0: libc.func('long syscall(long number, ...)'),
  memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  unshare: libc.func('int unshare(int flags)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  sendfile: libc.func('long sendfile(int out_fd, int in_fd, void *offset, size_t count)'),
  poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
};

export const MNT_DETACH = 2;
export const ENOENT = 2;
export const EINVAL = 22;

export class SyscallError extends BerthError {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail: string,
  ) {
    super('internal', `${syscall} ${detail}: ${c.strerror(errno) as string}`);
  }
}

function check(rc: number, syscall: string, detail: string): void {
  if (rc < 0) throw new SyscallError(syscall, koffi.errno(), detail);
}

/** The kernel takes mount data in one page; a longer string is cut silently (notes §3). */
const MOUNT_DATA_MAX = 4095;

export function mount(source: string, target: string, fstype: string, flags: number, data: string): void {
  if (Buffer.byteLength(data) > MOUNT_DATA_MAX) {
    throw new BerthError('internal', `mount ${target}: options are ${Buffer.byteLength(data)} bytes, over the kernel's ${MOUNT_DATA_MAX}`);
  }
  check(c.mount(source, target, fstype, flags, data) as number, 'mount', target);
}

export const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;

/** Moves the calling thread into the namespace `fd` refers to (of type `nstype`, or any with 0). */
export function setns(fd: number, nstype: number, what: string): void {
  check(c.setns(fd, nstype) as number, 'setns', what);
}

/** Moves the calling thread into new namespaces of the types in `flags`. */
export function unshare(flags: number, what: string): void {
  check(c.unshare(flags) as number, 'unshare', what);
}

/** Unmounts; a target that is not mounted (EINVAL) or gone (ENOENT) is not an error. */
export function umount(target: string, flags = 0): void {
  const rc = c.umount2(target, flags) as number;
  if (rc < 0) {
    const errno = koffi.errno();
    if (errno === EINVAL || errno === ENOENT) return;
    throw new SyscallError('umount', errno, target);
  }
}

/**
 * umount on a worker thread: an overlay unmount syncs its upper dir and can take milliseconds,
 * which the event loop should not spend waiting.
 */
export function umountAsync(target: string, flags = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    c.umount2.async(target, flags, (err: unknown, rc: number) => {
      if (err) return reject(err as Error);
      if (rc < 0) {
        const errno = koffi.errno();
        if (errno === EINVAL || errno === ENOENT) return resolve();
        return reject(new SyscallError('umount', errno, target));
      }
      resolve();
    });
  });
}

const EAGAIN = 11;
const EINTR = 4;

/**
 * sendfile(2): up to `count` bytes of `inFd` from the offset held in `offset` (8 bytes, updated)
 * into `outFd`, a non-blocking socket. Returns the bytes sent, or -1 when the socket is full.
 */
export function sendfile(outFd: number, inFd: number, offset: Buffer, count: number): number {
  const n = Number(c.sendfile(outFd, inFd, offset, count));
  if (n >= 0) return n;
  const errno = koffi.errno();
  if (errno === EAGAIN || errno === EINTR) return -1;
  throw new SyscallError('sendfile', errno, `fd ${outFd}`);
}

const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;

/** Waits on a worker thread until `fd` can be written; false after `ms`, an error when it is closed or failed. */
export function waitWritable(fd: number, ms: number): Promise<boolean> {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLOUT, 4);
  return new Promise((resolve, reject) => {
    c.poll.async(pfd, 1, ms, (err: unknown, rc: number) => {
      if (err) return reject(err as Error);
      if (rc < 0) return koffi.errno() === EINTR ? resolve(true) : reject(new SyscallError('poll', koffi.errno(), `fd ${fd}`));
      const revents = pfd.readInt16LE(6);
      if (revents & (POLLERR | POLLHUP | POLLNVAL)) return reject(new BerthError('internal', `fd ${fd} was closed or failed while sending`));
      resolve(rc > 0);
    });
  });
}

const S_IFCHR = 0o020000;

/** A 0/0 character device: overlayfs's whiteout. */
export function mknodWhiteout(path: string): void {
  check(c.mknod(path, S_IFCHR, 0) as number, 'mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(c.lsetxattr(path, name, value, value.length, 0) as number, 'lsetxattr', `${path} ${name}`);
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;

/** An anonymous in-memory file that can be sealed (close-on-exec); returns its fd. */
export function memfdSealable(name: string): number {
  const fd = c.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
  check(fd, 'memfd_create', name);
  return fd;
}

/** Adds F_SEAL_* bits to a memfd; they can never be taken off. */
export function addSeals(fd: number, seals: number): void {
  check(c.fcntl(fd, F_ADD_SEALS, seals) as number, 'fcntl(F_ADD_SEALS)', `fd ${fd}`);
}

/**
 * Whether the kernel runs x32-ABI system calls (CONFIG_X86_X32_ABI): getpid with the x32 bit
 * answers ENOSYS when it does not. Filters need no x32 part on such kernels.
 */
export function x32Supported(): boolean {
  if (process.arch !== 'x64') return false;
  const X32_SYSCALL_BIT = 0x40000000;
  const SYS_GETPID = 39;
  return (c.syscall0(X32_SYSCALL_BIT | SYS_GETPID) as number) >= 0;
}

const ENODATA = 61;
const ENOTSUP = 95;

/** An attribute's value without following symlinks, or undefined when absent. Values over 4 KiB are cut. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(4096);
  const n = c.lgetxattr(path, name, buf, buf.length) as number;
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === ENODATA || errno === ENOTSUP) return undefined;
    throw new SyscallError('lgetxattr', errno, `${path} ${name}`);
  }
  return buf.subarray(0, n);
}


/** Removes an attribute without following symlinks; an absent one is no error. */
export function lremovexattr(path: string, name: string): void {
  if ((c.lremovexattr(path, name) as number) < 0) {
    const errno = koffi.errno();
    if (errno === ENODATA || errno === ENOTSUP) return;
    throw new SyscallError('lremovexattr', errno, `${path} ${name}`);
  }
}

/** Whether `path` is a mount point, from /proc/self/mountinfo (field 5 is the mount point). */
export function isMountPoint(path: string, mountinfo: string): boolean {
  const escaped = path.replace(/[ \t\n\\]/g, (ch) => '\\' + ch.charCodeAt(0).toString(8).padStart(3, '0'));
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === escaped);
}
