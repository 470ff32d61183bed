/**
 * The runtime binary, run from a sealed in-memory copy. Every `runc init` guards against
 * CVE-2019-5736 (a container overwriting the host's runc through /proc/self/exe) by cloning
 * itself before it runs container code, unless it already runs from a memfd that nobody can
 * write (all four seals set): then the guard holds by construction and the clone is skipped.
 * One copy made at daemon start-up spares each container start and each `runc exec` that
 * step (a bind mount dance or an 8 MB copy, ~2 ms here).
 */
import * as fs from 'node:fs';

type NativeFn = (...args: unknown[]) => unknown;

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
// F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: the set runc checks for.
const ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

/**
 * A path that runs a sealed copy of `bin` (/proc/<berthd>/fd/<n>, valid while berthd lives),
 * or undefined where memfds cannot be made, sealed or executed (then `bin` is run as it is).
 */
export function sealedCopy(bin: string): string | undefined {
  let fd = -1;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as { load(p: string): { func(s: string): NativeFn } };
    const libc = koffi.load('libc.so.6');
    const memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)');
    const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
    fd = memfdCreate('berth-runtime', MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
    if (fd < 0) return undefined;
    const path = `/proc/${process.pid}/fd/${fd}`;
    fs.copyFileSync(bin, `/proc/self/fd/${fd}`);
    fs.chmodSync(path, 0o700);
    if ((fcntl(fd, F_ADD_SEALS, ALL_SEALS) as number) < 0) throw new Error('cannot seal');
    return path;
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return undefined;
  }
}
