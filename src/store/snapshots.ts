/**
 * Overlay snapshots. Layout under <data-root>/snapshots:
 *
 *   <chain-id hex>/diff              a committed layer, unpacked once, shared by every image and container on it
 *   <key>/{diff,work,merged}         an active snapshot (a container's writable layer), key = container id
 *   ingest-<random>/diff             a layer being unpacked; renamed to its chain id when complete
 *   view-<random>                    a read-only overlay of a layer stack (a build reads files from it)
 *
 * A committed snapshot is never written after commit; an active one is never a parent. Which
 * committed snapshots are in use is the layer store's business (SQLite); this class only owns
 * directories and mounts.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors';
import type { Digest } from './content-store';
import { isMountPoint, lremovexattr, mount, umount, umountAsync, MNT_DETACH } from './syscalls';

const MS_RDONLY = 1;

// index=off: no hard-link index to keep consistent; nofollow: never follow a redirect a layer
// carries (the kernel here follows them even with redirect_dir=off); metacopy=off: a
// copied-up file always holds its data, so an upper dir is a complete diff.
const OVERLAY_OPTS = 'index=off,redirect_dir=nofollow,metacopy=off';

export class OverlaySnapshotter {
  private constructor(private readonly root: string) {}

  static open(root: string): OverlaySnapshotter {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    for (const name of fs.readdirSync(root)) {
      if (name.startsWith('ingest-')) fs.rmSync(join(root, name), { recursive: true, force: true });
      if (name.startsWith('view-')) {
        // A view left by a daemon that died mid-build: unmount first, never delete through it.
        try {
          umount(join(root, name), MNT_DETACH);
        } catch {
          // not mounted
        }
        fs.rmdirSync(join(root, name));
      }
    }
    return new OverlaySnapshotter(root);
  }

  /** An empty directory to unpack a layer into. */
  ingest(): { dir: string; commit(chainId: Digest): void; abort(): void } {
    const base = join(this.root, `ingest-${randomBytes(8).toString('hex')}`);
    const dir = join(base, 'diff');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    return {
      dir,
      commit: (chainId) => {
        const final = this.dir(chainId);
        if (fs.existsSync(final)) {
          // Same content already unpacked (a concurrent import of the same layer): keep the first.
          fs.rmSync(base, { recursive: true, force: true });
          return;
        }
        fs.renameSync(base, final);
      },
      abort: () => fs.rmSync(base, { recursive: true, force: true }),
    };
  }

  /**
   * ingest() for a directory already laid out as an unpacked layer (a build step's upper dir,
   * under this root): it is moved, not copied. The bookkeeping overlay left on copied-up
   * directories (origin, impure) is dropped, so the layer reads like one unpacked from its tar.
   */
  adopt(dir: string): { dir: string; commit(chainId: Digest): void; abort(): void } {
    const staged = this.ingest();
    fs.rmdirSync(staged.dir);
    fs.renameSync(dir, staged.dir);
    const stack = [staged.dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      for (const name of ['trusted.overlay.origin', 'trusted.overlay.impure']) lremovexattr(d, name);
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) stack.push(join(d, e.name));
    }
    return staged;
  }

  hasCommitted(chainId: Digest): boolean {
    return fs.existsSync(join(this.dir(chainId), 'diff'));
  }

  removeCommitted(chainId: Digest): void {
    fs.rmSync(this.dir(chainId), { recursive: true, force: true });
  }

  /** Creates the writable layer `key` (no mount yet). */
  prepare(key: string): void {
    const d = this.dir(key);
    fs.mkdirSync(join(d, 'diff'), { recursive: true, mode: 0o755 });
    fs.mkdirSync(join(d, 'work'), { mode: 0o700 });
    fs.mkdirSync(join(d, 'merged'), { mode: 0o755 });
  }

  /**
   * Mounts `key` over `lowers` (top layer first) and returns the merged path. Idempotent.
   *
   * `volatile` is for writable layers that are thrown away when their container ends (--rm):
   * overlay then skips every sync, including the whole-filesystem sync at unmount (~5 ms, and
   * an I/O stall for everyone else). A host crash can only lose data that was to be deleted.
   * The kernel marks a volatile work dir and refuses to mount it again, so the mark is cleared
   * first; nothing in it outlives an unmount.
   */
  mount(key: string, lowers: Digest[], opts: { volatile?: boolean } = {}): string {
    const d = this.dir(key);
    const merged = join(d, 'merged');
    if (isMountPoint(merged, fs.readFileSync('/proc/self/mountinfo', 'utf8'))) return merged;
    if (lowers.length === 0) throw new BerthError('internal', `snapshot ${key} has no lower layers`);
    fs.rmSync(join(d, 'work', 'work', 'incompat'), { recursive: true, force: true });
    const lowerdir = lowers.map((l) => join(this.dir(l), 'diff')).join(':');
    const extra = opts.volatile ? ',volatile' : '';
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lowerdir},upperdir=${join(d, 'diff')},workdir=${join(d, 'work')},${OVERLAY_OPTS}${extra}`);
    return merged;
  }

  /**
   * A read-only view of a layer stack (top first) for reading files out of it (a build's COPY
   * --from): one layer is its own directory; more are a lower-only overlay at `<root>/view-<n>`.
   * The returned release() unmounts and removes the mount point.
   */
  view(lowers: Digest[]): { root: string; release(): void } {
    if (lowers.length === 1) return { root: this.layerPath(lowers[0]), release: () => {} };
    const root = join(this.root, `view-${randomBytes(8).toString('hex')}`);
    fs.mkdirSync(root, { mode: 0o700 });
    if (lowers.length === 0) return { root, release: () => fs.rmSync(root, { recursive: true, force: true }) };
    mount('overlay', root, 'overlay', MS_RDONLY, `lowerdir=${lowers.map((l) => this.layerPath(l)).join(':')},${OVERLAY_OPTS}`);
    return {
      root,
      release: () => {
        umount(root, MNT_DETACH);
        fs.rmdirSync(root);
      },
    };
  }

  unmount(key: string, opts: { lazy?: boolean } = {}): void {
    umount(join(this.dir(key), 'merged'), opts.lazy ? MNT_DETACH : 0);
  }

  /** unmount() off the event loop. */
  unmountAsync(key: string): Promise<void> {
    return umountAsync(join(this.dir(key), 'merged'));
  }

  /** Unmounts if needed and deletes the writable layer. */
  remove(key: string): void {
    this.unmount(key);
    fs.rmSync(this.dir(key), { recursive: true, force: true });
  }

  /** remove() with the unmount and the deletion on worker threads. */
  async removeAsync(key: string): Promise<void> {
    await this.unmountAsync(key);
    await fs.promises.rm(this.dir(key), { recursive: true, force: true });
  }

  /** Bytes in a container's writable layer (what removing it frees; Docker's SizeRw). */
  async writableSize(key: string): Promise<number> {
    let total = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) total += (await fs.promises.lstat(p).catch(() => ({ size: 0 }))).size;
      }
    };
    await walk(this.upperPath(key));
    return total;
  }

  mergedPath(key: string): string {
    return join(this.dir(key), 'merged');
  }

  upperPath(key: string): string {
    return join(this.dir(key), 'diff');
  }

  /** A committed layer's unpacked directory (a lower dir of the containers on it). */
  layerPath(chainId: Digest): string {
    return join(this.dir(chainId), 'diff');
  }

  private dir(key: string): string {
    const name = key.startsWith('sha256:') ? key.slice(7) : key;
    if (!/^[a-f0-9]{64}$/.test(name)) throw new BerthError('internal', `bad snapshot key ${key}`);
    return join(this.root, name);
  }
}
