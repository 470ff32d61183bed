/**
 * The image service: images are config blobs (id = sha256 of the config) over a stack of layers,
 * named by tags. Lookups accept a reference (busybox, busybox:1, localhost:5000/x@sha256:…), a
 * full id, or a unique id prefix, in Docker's order.
 */
import { conflict, invalid, notFound } from '../errors';
import { type ContentStore, type Digest, isDigest } from '../store/content-store';
import type { Db } from '../store/db';
import { chainIdOf, type LayerStore } from '../store/layers';
import {
  familiarName, fullName, parseReference, type Reference, ReferenceError, repositoryName, withDefaultTag,
} from '../wire/reference';
import type { EventBus } from './events';
import { applyChanges, type HistoryEntry, hostArchitecture, type ImageConfig } from './image-config';

export interface ImageRecord {
  id: Digest;
  created: string;
  size: number;
  topLayer: Digest | null;
}

export interface ImageUser {
  id: string;
  running: boolean;
}

/** Who uses an image; the container service answers, so images never reach into containers. */
export type ImageUsers = (imageId: Digest) => ImageUser[];

interface ImageRow { id: Digest; created: string; size: number; top_layer: Digest | null }
const toRecord = (r: ImageRow): ImageRecord => ({ id: r.id, created: r.created, size: r.size, topLayer: r.top_layer });

export type DeleteResponse = { Untagged: string } | { Deleted: string };

export class ImageService {
  private readonly configCache = new Map<Digest, ImageConfig>();
  users: ImageUsers = () => [];

  constructor(
    private readonly db: Db,
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
    private readonly events: EventBus,
  ) {}

  /** POST /images/create?fromSrc=-: one layer from a rootfs tar (plain or gzip). */
  async import(tar: AsyncIterable<Buffer>, opts: { repo?: string; tag?: string; message?: string; changes?: string[] }): Promise<Digest> {
    // Validate the name before reading a byte, so a typo costs nothing.
    const ref = opts.repo ? this.parseNewTag(opts.repo, opts.tag) : undefined;
    const runConfig = applyChanges({}, opts.changes ?? []);
    const layer = await this.layers.apply(null, tar);
    const now = new Date().toISOString();
    const config: ImageConfig = {
      architecture: hostArchitecture(),
      os: 'linux',
      created: now,
      ...(opts.message ? { comment: opts.message } : {}),
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: now, comment: opts.message || 'Imported from -' }],
    };
    const id = this.register(config);
    if (ref) this.setTag(ref, id);
    this.events.emit('image', 'import', id, {});
    return id;
  }

  /**
   * POST /commit: stores `tar` as a new layer on `parent` (a chain id), registers the config
   * `build` makes for its diff id and tags the image when asked. The name is checked first.
   */
  async commit(
    parent: Digest | null, tar: AsyncIterable<Buffer>, build: (diffId: Digest) => ImageConfig, name: { repo?: string; tag?: string },
  ): Promise<{ id: Digest; ref: string }> {
    const ref = name.repo ? this.parseNewTag(name.repo, name.tag) : undefined;
    const layer = await this.layers.apply(parent, tar);
    const id = this.register(build(layer.diffId));
    if (!ref) return { id, ref: '' };
    this.setTag(ref, id);
    this.events.emit('image', 'tag', id, { name: familiarName(ref) });
    return { id, ref: familiarName(ref) };
  }

  /** Stores a config whose layers are all present; returns the image id. */
  register(config: ImageConfig): Digest {
    return this.registerRaw(Buffer.from(JSON.stringify(config)));
  }

  /**
   * Stores config bytes exactly as given (a pulled or loaded image keeps its id, the sha256 of
   * those bytes) once all its layers are present; returns the image id.
   */
  registerRaw(bytes: Buffer): Digest {
    let config: ImageConfig;
    try {
      config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
    } catch {
      throw invalid('invalid image config: not JSON');
    }
    if (!config || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw invalid('invalid image config: rootfs.diff_ids is missing');
    let chain: Digest | null = null;
    let size = 0;
    for (const diffId of config.rootfs.diff_ids) {
      chain = chainIdOf(chain, diffId);
      const layer = this.layers.get(chain);
      if (!layer) throw invalid(`layer ${diffId} of the image is not in the store`);
      size += layer.size;
    }
    const id = this.content.putSmall(bytes);
    this.db
      .prepare('INSERT OR IGNORE INTO images (id, created, size, top_layer) VALUES (?, ?, ?, ?)')
      .run(id, new Date().toISOString(), size, chain);
    return id;
  }

  config(id: Digest): ImageConfig {
    let cfg = this.configCache.get(id);
    if (!cfg) {
      cfg = JSON.parse(this.content.readSmall(id).toString('utf8')) as ImageConfig;
      this.configCache.set(id, cfg);
    }
    return cfg;
  }

  get(id: Digest): ImageRecord | undefined {
    const row = this.db.prepare('SELECT id, created, size, top_layer FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row && toRecord(row);
  }

  /** Finds an image by reference, id or id prefix; throws Docker's "No such image". */
  resolve(name: string): ImageRecord {
    const found = this.lookup(name);
    if (!found) throw notFound(`No such image: ${displayName(name)}`);
    return found;
  }

  lookup(name: string): ImageRecord | undefined {
    if (isDigest(name)) return this.get(name);
    let ref: Reference | undefined;
    try {
      ref = withDefaultTag(parseReference(name));
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
    }
    if (ref) {
      const table = ref.digest === undefined ? 'tags' : 'repo_digests';
      const key = ref.digest === undefined ? fullName(ref) : fullName({ domain: ref.domain, path: ref.path, digest: ref.digest });
      const row = this.db.prepare(`SELECT image_id FROM ${table} WHERE ref = ?`).get(key) as { image_id: Digest } | undefined;
      if (row) return this.get(row.image_id);
    }
    if (/^[a-f0-9]{1,64}$/.test(name)) {
      const rows = this.db.prepare("SELECT id, created, size, top_layer FROM images WHERE id LIKE ? LIMIT 2").all(`sha256:${name}%`) as ImageRow[];
      if (rows.length === 1) return toRecord(rows[0]);
    }
    return undefined;
  }

  tagsOf(id: Digest): string[] {
    const rows = this.db.prepare('SELECT ref FROM tags WHERE image_id = ? ORDER BY created, ref').all(id) as { ref: string }[];
    return rows.map((r) => familiarName(parseReference(r.ref)));
  }

  /** RepoDigests: repo@digest of the manifests this image was pulled by or pushed as. */
  repoDigestsOf(id: Digest): string[] {
    return this.repoDigestsRows(id).map((r) => familiarName(parseReference(r)));
  }

  /** The normalized repo@digest references of an image, oldest first. */
  private repoDigestsRows(id: Digest): string[] {
    return (this.db.prepare('SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY created, ref').all(id) as { ref: string }[]).map((r) => r.ref);
  }

  /** Records that `repo` (a reference without tag) serves this image under manifest `digest`. */
  addRepoDigest(repo: Reference, digest: Digest, id: Digest): void {
    const ref = fullName({ domain: repo.domain, path: repo.path, digest });
    this.db
      .prepare('INSERT INTO repo_digests (ref, image_id, created) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id')
      .run(ref, id, new Date().toISOString());
  }

  /** Tags an image by a parsed reference (pulls, loads). */
  setTagRef(ref: Reference, id: Digest): void {
    const old = this.db.prepare('SELECT image_id FROM tags WHERE ref = ?').get(fullName(ref)) as { image_id: Digest } | undefined;
    this.setTag(ref, id);
    if (old?.image_id !== id) this.events.emit('image', 'tag', id, { name: familiarName(ref) });
  }

  /** Every tag (normalized) of images in `repo`, for `push --all-tags`. */
  tagsInRepository(repo: Reference): { ref: Reference; id: Digest }[] {
    const prefix = `${repo.domain}/${repo.path}:`;
    const rows = this.db.prepare('SELECT ref, image_id FROM tags WHERE substr(ref, 1, ?) = ? ORDER BY ref').all(prefix.length, prefix) as { ref: string; image_id: Digest }[];
    return rows.map((r) => ({ ref: parseReference(r.ref), id: r.image_id }));
  }

  list(): ImageRecord[] {
    return (this.db.prepare('SELECT id, created, size, top_layer FROM images ORDER BY created DESC').all() as ImageRow[]).map(toRecord);
  }

  /** POST /images/{name}/tag */
  tag(source: string, repo: string, tag: string | undefined): void {
    const image = this.resolve(source);
    const ref = this.parseNewTag(repo, tag);
    this.setTag(ref, image.id);
    this.events.emit('image', 'tag', image.id, { name: familiarName(ref) });
  }

  /** DELETE /images/{name}, with Docker's rules for tags, forcing and images in use. */
  remove(name: string, opts: { force: boolean; noprune: boolean }): DeleteResponse[] {
    const image = this.resolve(name);
    const short = image.id.slice(7, 19);
    const tags = this.db.prepare('SELECT ref FROM tags WHERE image_id = ?').all(image.id) as { ref: string }[];
    const users = this.users(image.id);
    const byReference = this.isReferenceLookup(name, image.id);
    const out: DeleteResponse[] = [];

    const parsed = byReference ? withDefaultTag(parseReference(name)) : undefined;
    if (parsed?.digest !== undefined) {
      // repo@digest: that reference goes; the image too once nothing else names it.
      const ref = fullName({ domain: parsed.domain, path: parsed.path, digest: parsed.digest });
      this.db.prepare('DELETE FROM repo_digests WHERE ref = ?').run(ref);
      out.push({ Untagged: familiarName(parseReference(ref)) });
      if (tags.length > 0 || this.repoDigestsOf(image.id).length > 0 || users.length > 0) {
        this.events.emit('image', 'untag', image.id, { name: familiarName(parseReference(ref)) });
        return out;
      }
    } else if (byReference) {
      const ref = fullName(withDefaultTag(parseReference(name)));
      // Digest references of the same repository go with its last tag (as Docker has it);
      // those of other repositories keep the image.
      const repo = repositoryName(parseReference(ref));
      const elsewhere = this.repoDigestsRows(image.id).filter((r) => !r.startsWith(`${repo}@`)).length;
      if (tags.length + elsewhere > 1 || (users.length > 0 && !opts.force)) {
        if (tags.length === 1 && elsewhere === 0 && users.length > 0) {
          throw conflict(`conflict: unable to remove repository reference "${name}" (must force) - container ${users[0].id.slice(0, 12)} is using its referenced image ${short}`);
        }
        this.db.prepare('DELETE FROM tags WHERE ref = ?').run(ref);
        const gone = [ref];
        if (!tags.some((t) => t.ref !== ref && t.ref.startsWith(`${repo}:`))) {
          for (const r of this.repoDigestsRows(image.id).filter((d) => d.startsWith(`${repo}@`))) {
            this.db.prepare('DELETE FROM repo_digests WHERE ref = ?').run(r);
            gone.push(r);
          }
        }
        const names = gone.map((r) => familiarName(parseReference(r)));
        for (const n of names) this.events.emit('image', 'untag', image.id, { name: n });
        return names.map((n) => ({ Untagged: n }));
      }
    } else if (tags.length > 1 && !opts.force) {
      throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    }
    const running = users.find((u) => u.running);
    if (running) {
      throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`);
    }
    if (users.length > 0 && !opts.force) {
      throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users[0].id.slice(0, 12)}`);
    }
    this.db.transaction(() => {
      for (const t of tags) {
        this.db.prepare('DELETE FROM tags WHERE ref = ?').run(t.ref);
        out.push({ Untagged: familiarName(parseReference(t.ref)) });
      }
      for (const r of this.repoDigestsRows(image.id)) {
        this.db.prepare('DELETE FROM repo_digests WHERE ref = ?').run(r);
        out.push({ Untagged: familiarName(parseReference(r)) });
      }
      this.db.prepare('DELETE FROM images WHERE id = ?').run(image.id);
    })();
    for (const t of out) this.events.emit('image', 'untag', image.id, { name: (t as { Untagged: string }).Untagged });
    out.push({ Deleted: image.id });
    this.configCache.delete(image.id);
    if (image.topLayer && !opts.noprune) this.releaseLayers(image.topLayer);
    // The config blob goes too; a container that still runs on the layers does not need it.
    this.content.delete(image.id);
    this.events.emit('image', 'delete', image.id, {});
    return out;
  }

  /**
   * Docker's image history: the config's history entries, newest first, each non-empty one with
   * the size of its layer. Only the top entry has an id (and the image's tags): berth keeps no
   * parent images, so the others are "<missing>", as Docker shows pulled images.
   */
  history(name: string): { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }[] {
    const image = this.resolve(name);
    const cfg = this.config(image.id);
    const sizes = image.topLayer ? this.layers.stack(image.topLayer).reverse().map((c) => this.layers.get(c)?.size ?? 0) : [];
    const entries: HistoryEntry[] = cfg.history?.length ? cfg.history : cfg.rootfs.diff_ids.map(() => ({ ...(cfg.created ? { created: cfg.created } : {}) }));
    let layer = 0;
    const out = entries.map((h) => ({
      Id: '<missing>',
      Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
      CreatedBy: h.created_by ?? '',
      Tags: null as string[] | null,
      Size: h.empty_layer ? 0 : (sizes[layer++] ?? 0),
      Comment: h.comment ?? '',
    }));
    out.reverse();
    if (out[0]) {
      out[0].Id = image.id;
      const tags = this.tagsOf(image.id);
      out[0].Tags = tags.length ? tags : null;
    }
    return out;
  }

  /**
   * POST /images/prune: images no container uses — dangling ones (no tag) only, or every
   * unused one with `all`; `keep` filters (label, until). Returns what was untagged and deleted.
   */
  prune(all: boolean, keep: (id: Digest) => boolean): { deleted: DeleteResponse[]; reclaimed: number } {
    const deleted: DeleteResponse[] = [];
    let reclaimed = 0;
    for (const image of this.list()) {
      if (!all && this.tagsOf(image.id).length > 0) continue;
      if (this.users(image.id).length > 0 || !keep(image.id)) continue;
      deleted.push(...this.remove(image.id, { force: true, noprune: false }));
      reclaimed += image.size;
    }
    return { deleted, reclaimed };
  }

  /** Drops layers that neither an image, a container nor a build cache entry stands on any more. */
  releaseLayers(top: Digest): void {
    const used = (chainId: Digest) =>
      this.db.prepare('SELECT 1 FROM images WHERE top_layer = ? UNION ALL SELECT 1 FROM containers WHERE layer = ? UNION ALL SELECT 1 FROM build_cache WHERE layer = ? LIMIT 1').get(chainId, chainId, chainId) !== undefined;
    this.layers.releaseUnused(top, used);
  }

  private isReferenceLookup(name: string, id: Digest): boolean {
    if (isDigest(name) || id.slice(7).startsWith(name)) {
      // A bare hex string that also names a tag is still a reference in Docker's eyes.
      try {
        const ref = fullName(withDefaultTag(parseReference(name)));
        return this.db.prepare('SELECT 1 FROM tags WHERE ref = ?').get(ref) !== undefined;
      } catch {
        return false;
      }
    }
    return true;
  }

  private parseNewTag(repo: string, tag: string | undefined): Reference {
    let ref: Reference;
    try {
      ref = parseReference(tag ? `${repo}:${tag}` : repo);
    } catch (e) {
      if (e instanceof ReferenceError) throw invalid(e.message);
      throw e;
    }
    if (ref.digest !== undefined) throw invalid('refusing to create a tag with a digest reference');
    return withDefaultTag(ref);
  }

  private setTag(ref: Reference, id: Digest): void {
    this.db
      .prepare('INSERT INTO tags (ref, image_id, created) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, created = excluded.created')
      .run(fullName(ref), id, new Date().toISOString());
  }
}

/** How Docker names a missing image in errors: busybox → busybox:latest. */
function displayName(name: string): string {
  try {
    const ref = parseReference(name);
    return familiarName(withDefaultTag(ref));
  } catch {
    return name;
  }
}
