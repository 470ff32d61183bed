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
    const own = fs.openSync('/proc/thread-self/ns/net', 'r');
    try {
      unshare(CLONE_NEWNET, `network namespace for ${id}`);
      try {
        mount('/proc/thread-self/ns/net', path, 'none', MS_BIND, '');
      } finally {
        try {
          setns(own, CLONE_NEWNET, 'its own network namespace');
        } catch (e) {
          // A daemon thread stuck in a container's namespace would put its sockets there.
          process.stderr.write(`berthd: ${(e as Error).message}\n`);
          process.abort();
        }
      }
    } catch (e) {
      fs.rmSync(path, { force: true });
      throw e;
    } finally {
      fs.closeSync(own);
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
