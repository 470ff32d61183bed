/**
 * A container's filesystem from the outside: stat, archive out and in (docker cp), export, and
 * the changes of its writable layer (docker diff). Commit lives in commit.ts.
 *
 * Path safety (see store/container-path.ts and store/chroot-extract.ts): container paths are
 * resolved inside the root filesystem as the container would resolve them; archives never follow
 * a symlink inside the tree; extraction runs chrooted into the root.
 *
 * A stopped container's root filesystem is not mounted. It is mounted for the operation and
 * unmounted after it, unless the container started (or a runtime was prepared) meanwhile; the
 * container's lock orders this with start and exit handling, and is held only while mounting and
 * unmounting, never while bytes stream.
 */
import * as fs from 'node:fs';
import { posix, relative } from 'node:path';
import { BerthError, invalid, notFound } from '../errors';
import type { Digest } from '../store/content-store';
import { extractInRoot } from '../store/chroot-extract';
import {
  isNotFound, type PathStat, resolveContainerPath, statContainerPath, tarMember, type TarProcess, tarRoot,
} from '../store/container-path';
import { type Change, changes } from '../store/layer-diff';
import { resolveInRoot } from '../store/scoped-path';
import { resolveUser } from '../runtime/user';
import type { Container } from './container';
import { type CommitDeps, type CommitOptions, commitContainer } from './commit';

export type ContainerFsDeps = CommitDeps;

export interface Archive {
  stat: PathStat;
  tar: TarProcess;
}

export class ContainerFs {
  /** How many operations use each container's mount right now. */
  private readonly users = new WeakMap<Container, number>();

  constructor(private readonly d: ContainerFsDeps) {}

  /** HEAD /containers/{id}/archive */
  async stat(ref: string, path: string): Promise<PathStat> {
    return this.withRootfs(ref, (root) => this.statIn(root, ref, path));
  }

  /**
   * GET /containers/{id}/archive: the stat and a running tar. The mount stays until the tar is
   * done; `tar.done` settles after that.
   */
  async archive(ref: string, path: string): Promise<Archive> {
    const c = this.d.containers.find(ref);
    const root = await this.acquire(c);
    try {
      const stat = this.statIn(root, ref, path);
      const r = resolveContainerPath(root, path);
      const tar = tarMember(root, r.host, r.name);
      const done = tar.done.finally(() => this.release(c));
      done.catch(() => {});
      return { stat, tar: { ...tar, done } };
    } catch (e) {
      await this.release(c);
      throw e;
    }
  }

  /** PUT /containers/{id}/archive: extracts `tar` into the directory `path`. */
  async extract(ref: string, path: string, tar: AsyncIterable<Buffer>, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const c = this.d.containers.find(ref);
    if (c.r.spec.HostConfig.ReadonlyRootfs) throw new BerthError('forbidden', 'container rootfs is marked read-only');
    await this.withContainerRootfs(c, async (root) => {
      // Unlike GET, the last component is followed too (inside the root): extracting to a
      // symlink that points to a directory is allowed, as in Docker.
      const host = resolveInRoot(root, posix.join('/', path));
      let st: fs.Stats;
      try {
        st = fs.lstatSync(host);
      } catch (e) {
        if (isNotFound(e)) throw notFound(`Could not find the file ${path} in container ${ref}`);
        throw e;
      }
      if (!st.isDirectory()) throw invalid('extraction point is not a directory');
      const resolved = posix.join('/', relative(root, host));
      let chown: { uid: number; gid: number } | undefined;
      if (opts.copyUIDGID && c.r.spec.Config.User) {
        const u = resolveUser(root, c.r.spec.Config.User);
        chown = { uid: u.uid, gid: u.gid };
      }
      await extractInRoot(root, resolved, tar, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, chown });
    });
  }

  /** GET /containers/{id}/export: the whole merged filesystem. */
  async export(ref: string): Promise<TarProcess> {
    const c = this.d.containers.find(ref);
    const root = await this.acquire(c);
    try {
      const tar = tarRoot(root);
      const done = tar.done.finally(() => this.release(c));
      done.catch(() => {});
      return { ...tar, done };
    } catch (e) {
      await this.release(c);
      throw e;
    }
  }

  /** GET /containers/{id}/changes: read from the writable layer; no mount needed. */
  changes(ref: string): Change[] {
    const c = this.d.containers.find(ref);
    const lowers = c.r.layer ? this.d.layers.stack(c.r.layer).map((l) => this.d.snapshots.layerPath(l)) : [];
    return changes(this.d.snapshots.upperPath(c.id), lowers);
  }

  /** POST /commit */
  commit(ref: string, o: CommitOptions): Promise<Digest> {
    return commitContainer(this.d, ref, o);
  }

  private statIn(root: string, ref: string, path: string): PathStat {
    try {
      return statContainerPath(root, resolveContainerPath(root, path));
    } catch (e) {
      if (isNotFound(e)) throw notFound(`Could not find the file ${path} in container ${ref}`);
      throw e;
    }
  }

  private async withRootfs<T>(ref: string, fn: (root: string) => Promise<T> | T): Promise<T> {
    return this.withContainerRootfs(this.d.containers.find(ref), fn);
  }

  private async withContainerRootfs<T>(c: Container, fn: (root: string) => Promise<T> | T): Promise<T> {
    const root = await this.acquire(c);
    try {
      return await fn(root);
    } finally {
      await this.release(c);
    }
  }

  private acquire(c: Container): Promise<string> {
    return c.lock.run(async () => {
      await c.teardown;
      if (c.removed) throw notFound(`No such container: ${c.id}`);
      if (c.r.layer === null) throw invalid(`container ${c.id} has no root filesystem`);
      const root = this.d.snapshots.mount(c.id, this.d.layers.stack(c.r.layer as Digest));
      this.users.set(c, (this.users.get(c) ?? 0) + 1);
      return root;
    });
  }

  private release(c: Container): Promise<void> {
    return c.lock.run(() => {
      const n = (this.users.get(c) ?? 1) - 1;
      this.users.set(c, n);
      if (n > 0 || c.running || c.prepared || c.removed) return;
      try {
        this.d.snapshots.unmount(c.id);
      } catch (e) {
        this.d.log('warn', 'rootfs still busy after a copy', { id: c.id, error: String(e) });
      }
    });
  }
}
