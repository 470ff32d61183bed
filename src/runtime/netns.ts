/**
 * Network namespaces that berthd owns, one per container with a network of its own, kept
 * alive by a bind mount at <exec-root>/netns/<id> (as `ip netns` keeps them under /run/netns).
 *
 * berthd makes the namespace before runc runs, and runc joins it by path. So the endpoint (veth,
 * address, routes) is wired while conmon and `runc create` work, not after them, and the
 * namespace outlives any one process of the container: a daemon restart finds it by its path.
 * A namespace made this way has loopback down; the caller brings it up.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CLONE_NEWNET, MNT_DETACH, MS_BIND, mount, setns, umount, unshare } from '../store/syscalls';

/**
 * Runs `fn` with the calling thread in another network namespace (`enter` puts it there: setns
 * or unshare), then puts the thread back, synchronously, so nothing else of the daemon runs
 * inside. A thread that cannot come back aborts the daemon: its sockets would land in the
 * container's namespace.
 */
export function insideNetns<T>(enter: () => void, fn: () => T): T {
  const own = fs.openSync('/proc/thread-self/ns/net', 'r');
  try {
    enter();
    try {
      return fn();
    } finally {
      try {
        setns(own, CLONE_NEWNET, 'its own network namespace');
      } catch (e) {
        process.stderr.write(`berthd: ${(e as Error).message}\n`);
        process.abort();
      }
    }
  } finally {
    fs.closeSync(own);
  }
}

export class NetnsDir {
  constructor(private readonly dir: string) {}

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  /**
   * A new, empty network namespace bound at pathOf(id). The calling thread enters it, binds
   * it and comes back in one synchronous step, so nothing else of the daemon runs inside.
   */
  create(id: string): string {
    const path = this.pathOf(id);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // The mount point: an empty file (a stale one from a crash is reused).
    fs.closeSync(fs.openSync(path, 'a', 0o444));
    try {
      insideNetns(() => unshare(CLONE_NEWNET, `network namespace for ${id}`), () => mount('/proc/thread-self/ns/net', path, 'none', MS_BIND, ''));
    } catch (e) {
      fs.rmSync(path, { force: true });
      throw e;
    }
    return path;
  }

  /** Drops the bind mount; the kernel frees the namespace once no process is left in it. */
  remove(id: string): void {
    const path = this.pathOf(id);
    umount(path, MNT_DETACH);
    fs.rmSync(path, { force: true });
  }

  /** The ids with a namespace here (for reconciliation after a restart). */
  list(): string[] {
    try {
      return fs.readdirSync(this.dir);
    } catch {
      return [];
    }
  }
}
