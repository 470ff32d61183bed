/**
 * The exec root holds what is written on every start and must not outlive a boot: runc's
 * state, conmon's pid files and sockets, exit files. It belongs on a tmpfs, as /run is on most
 * systems. Where it is not (this VM's /run is on its disk), berthd mounts one there: ext4's
 * metadata work for those files costs 4–8 ms per `docker run` here (measured with the exec
 * root on /dev/shm against the disk, 20 runs each, interleaved).
 *
 * Only over an empty directory: state left on disk by an earlier daemon (containers that
 * outlived it) must stay visible. The mount then stays for the daemons after this one, with
 * the state of containers that outlive it, as /run's tmpfs would; it goes away at reboot.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { mount } from '../store/syscalls';

const TMPFS_MAGIC = 0x01021994;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;

export type ExecRootMount = 'tmpfs already' | 'mounted' | 'not empty' | { failed: string };

export function ensureTmpfs(dir: string): ExecRootMount {
  if (fs.statfsSync(dir).type === TMPFS_MAGIC) return 'tmpfs already';
  if (!isEmpty(dir)) return 'not empty';
  try {
    mount('tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=0710,size=256m');
    return 'mounted';
  } catch (e) {
    return { failed: (e as Error).message };
  }
}

/** Empty, or only empty directories (the layout an earlier start made and nothing used). */
function isEmpty(dir: string): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || !isEmpty(join(dir, e.name))) return false;
  }
  return true;
}
