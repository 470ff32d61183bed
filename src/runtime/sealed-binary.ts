/**
 * The runtime binary, run from a sealed in-memory copy. Every `runc init` guards against
 * CVE-2019-5736 (a container overwriting the host's runc through /proc/self/exe) by cloning
 * itself before it runs container code, unless it already runs from a memfd that nobody can
 * write (all four seals set): then the guard holds by construction and the clone is skipped.
 * One copy made at daemon start-up spares each container start and each `runc exec` that
 * step (a bind mount dance or an 8 MB copy, ~2 ms here).
 */
import * as fs from 'node:fs';
import { addSeals, memfdSealable } from '../store/syscalls';

// F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: the set runc checks for.
const ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

/**
 * A path that runs a sealed copy of `bin` (/proc/<berthd>/fd/<n>, valid while berthd lives),
 * or undefined where memfds cannot be made, sealed or executed (then `bin` is run as it is).
 */
export function sealedCopy(bin: string): string | undefined {
  let fd = -1;
  try {
    fd = memfdSealable('berth-runtime');
    const path = `/proc/${process.pid}/fd/${fd}`;
    fs.copyFileSync(bin, `/proc/self/fd/${fd}`);
    fs.chmodSync(path, 0o700);
    addSeals(fd, ALL_SEALS);
    return path;
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return undefined;
  }
}
