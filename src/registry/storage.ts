/**
 * The registry's storage on the local filesystem, laid out as distribution's filesystem driver
 * lays its own (so an operator finds their way around either):
 *
 *   blobs/sha256/<hex>                                   content, immutable once there
 *   uploads/<uuid>/{data,repo}                            uploads in progress
 *   repositories/<name>/_layers/sha256/<hex>             the blob is part of <name> (empty file)
 *   repositories/<name>/_manifests/revisions/sha256/<hex>  a manifest of <name>: its media type
 *   repositories/<name>/_manifests/tags/<tag>            the digest the tag points at
 *   repositories/<name>/_referrers/sha256/<subject>/<hex>  a manifest whose subject is <subject>:
 *                                                         its descriptor, as the referrers API lists it
 *
 * Nothing is served before it is whole and verified: an upload is its own file until its digest
 * checks out, then renamed into blobs/ (a rename onto an identical blob of a concurrent push is
 * harmless); links and tags are written to a temporary name and renamed. Names reach here only
 * through names.ts, whose grammar keeps them inside repositories/.
 */
import { createHash, type Hash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { regErr, RegistryError } from './errors';
import type { Sha256 } from './names';

export interface UploadState {
  id: string;
  repo: string;
  /** Bytes received so far. */
  size: number;
}

export interface StoredManifest {
  digest: Sha256;
  mediaType: string;
  size: number;
}

/** A referrer as the referrers API lists it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: Sha256;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const hex = (d: Sha256) => d.slice('sha256:'.length);

export class RegistryStorage {
  /** Running hashes of uploads in progress, so finishing one does not read it again. */
  private readonly hashes = new Map<string, { hash: Hash; size: number }>();
  /** Uploads a request is writing to right now: a second writer is refused, not interleaved. */
  private readonly busy = new Set<string>();

  constructor(readonly root: string) {
    for (const d of ['blobs/sha256', 'uploads', 'repositories']) fs.mkdirSync(join(root, d), { recursive: true });
  }

  blobPath(d: Sha256): string {
    return join(this.root, 'blobs', 'sha256', hex(d));
  }

  blobSize(d: Sha256): number | undefined {
    try {
      return fs.statSync(this.blobPath(d)).size;
    } catch {
      return undefined;
    }
  }

  openBlob(d: Sha256, range?: { start: number; end: number }): Readable {
    return fs.createReadStream(this.blobPath(d), range ? { start: range.start, end: range.end, highWaterMark: 256 << 10 } : { highWaterMark: 256 << 10 });
  }

  private repoDir(repo: string): string {
    return join(this.root, 'repositories', ...repo.split('/'));
  }

  private layerLink(repo: string, d: Sha256): string {
    return join(this.repoDir(repo), '_layers', 'sha256', hex(d));
  }

  /** The blob's size if it is part of `repo` (linked there and stored). */
  repoBlobSize(repo: string, d: Sha256): number | undefined {
    if (!fs.existsSync(this.layerLink(repo, d))) return undefined;
    return this.blobSize(d);
  }

  linkBlob(repo: string, d: Sha256): void {
    const link = this.layerLink(repo, d);
    if (fs.existsSync(link)) return;
    fs.mkdirSync(dirname(link), { recursive: true });
    fs.writeFileSync(link, '');
  }

  /** False when the blob was not part of `repo`. */
  unlinkBlob(repo: string, d: Sha256): boolean {
    try {
      fs.unlinkSync(this.layerLink(repo, d));
      return true;
    } catch {
      return false;
    }
  }

  // --- uploads ---

  startUpload(repo: string): UploadState {
    const id = randomUUID();
    const dir = join(this.root, 'uploads', id);
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'data'), '');
    fs.writeFileSync(join(dir, 'repo'), repo);
    this.hashes.set(id, { hash: createHash('sha256'), size: 0 });
    return { id, repo, size: 0 };
  }

  upload(repo: string, id: string): UploadState {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw regErr('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    const dir = join(this.root, 'uploads', id);
    let owner: string;
    let size: number;
    try {
      owner = fs.readFileSync(join(dir, 'repo'), 'utf8');
      size = fs.statSync(join(dir, 'data')).size;
    } catch {
      throw regErr('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    }
    if (owner !== repo) throw regErr('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    return { id, repo, size };
  }

  /**
   * Appends a request body to an upload. `start`, when the client sent a Content-Range, must be
   * where the upload stands; a chunk that does not follow on is refused with the current range.
   */
  async append(u: UploadState, body: Readable, start?: number, length?: number): Promise<UploadState> {
    if (this.busy.has(u.id)) throw regErr('BLOB_UPLOAD_INVALID', 'another request is writing to this upload');
    if (start !== undefined && start !== u.size) {
      throw new RegistryError('RANGE_INVALID', `upload is at offset ${u.size}, not ${start}`, undefined, { Range: `0-${Math.max(0, u.size - 1)}`, 'Docker-Upload-UUID': u.id });
    }
    this.busy.add(u.id);
    const data = join(this.root, 'uploads', u.id, 'data');
    let state = this.hashes.get(u.id);
    // A hash that does not stand where the file does (a restart, a failed request) is dropped;
    // finishing then reads the file again.
    if (state && state.size !== u.size) {
      this.hashes.delete(u.id);
      state = undefined;
    }
    let received = 0;
    try {
      const out = fs.createWriteStream(data, { flags: 'a', highWaterMark: 1 << 20 });
      await pipeline(body, async function* (src: AsyncIterable<Buffer>) {
        for await (const chunk of src) {
          received += chunk.length;
          state?.hash.update(chunk);
          yield chunk;
        }
      }, out);
    } catch (e) {
      // Whatever reached the file stays: the client asks where the upload stands and goes on.
      this.hashes.delete(u.id);
      throw e;
    } finally {
      this.busy.delete(u.id);
    }
    if (state) state.size += received;
    const size = fs.statSync(data).size;
    if (length !== undefined && received !== length) throw regErr('SIZE_INVALID', `chunk of ${received} bytes where Content-Length said ${length}`);
    return { ...u, size };
  }

  /** Checks the upload against `digest` and publishes it as that blob, part of the upload's repo. */
  async finish(u: UploadState, digest: Sha256): Promise<number> {
    if (this.busy.has(u.id)) throw regErr('BLOB_UPLOAD_INVALID', 'another request is writing to this upload');
    const dir = join(this.root, 'uploads', u.id);
    const data = join(dir, 'data');
    const state = this.hashes.get(u.id);
    let actual: string;
    if (state && state.size === u.size) {
      actual = `sha256:${state.hash.copy().digest('hex')}`;
    } else {
      const h = createHash('sha256');
      for await (const chunk of fs.createReadStream(data, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
      actual = `sha256:${h.digest('hex')}`;
    }
    if (actual !== digest) throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest, actual });
    fs.renameSync(data, this.blobPath(digest));
    this.linkBlob(u.repo, digest);
    this.cancel(u);
    return u.size;
  }

  cancel(u: UploadState): void {
    this.hashes.delete(u.id);
    fs.rmSync(join(this.root, 'uploads', u.id), { recursive: true, force: true });
  }

  /** Upload ids with the time their last byte came, for the collector of abandoned ones. */
  uploads(): { id: string; modified: number }[] {
    return fs.readdirSync(join(this.root, 'uploads')).flatMap((id) => {
      try {
        return [{ id, modified: fs.statSync(join(this.root, 'uploads', id, 'data')).mtimeMs }];
      } catch {
        return [];
      }
    });
  }

  removeUpload(id: string): void {
    this.hashes.delete(id);
    fs.rmSync(join(this.root, 'uploads', id), { recursive: true, force: true });
  }

  // --- manifests and tags ---

  private revision(repo: string, d: Sha256): string {
    return join(this.repoDir(repo), '_manifests', 'revisions', 'sha256', hex(d));
  }

  private tagFile(repo: string, tag: string): string {
    return join(this.repoDir(repo), '_manifests', 'tags', tag);
  }

  /** Stores a manifest the handler has checked; tags it when `tag` is given. */
  putManifest(repo: string, bytes: Buffer, digest: Sha256, mediaType: string, tag?: string, subject?: { digest: Sha256; referrer: ReferrerDescriptor }): void {
    const blob = this.blobPath(digest);
    if (!fs.existsSync(blob)) atomicWrite(blob, bytes);
    atomicWrite(this.revision(repo, digest), mediaType);
    if (subject) atomicWrite(join(this.repoDir(repo), '_referrers', 'sha256', hex(subject.digest), hex(digest)), JSON.stringify(subject.referrer));
    if (tag) atomicWrite(this.tagFile(repo, tag), digest);
  }

  /** The manifest `ref` names in `repo` (a tag or a digest), or undefined. */
  manifest(repo: string, ref: { tag: string } | { digest: Sha256 }): StoredManifest | undefined {
    let digest: Sha256;
    if ('tag' in ref) {
      try {
        digest = fs.readFileSync(this.tagFile(repo, ref.tag), 'utf8') as Sha256;
      } catch {
        return undefined;
      }
    } else {
      digest = ref.digest;
    }
    try {
      const mediaType = fs.readFileSync(this.revision(repo, digest), 'utf8');
      const size = fs.statSync(this.blobPath(digest)).size;
      return { digest, mediaType, size };
    } catch {
      return undefined;
    }
  }

  /** Removes a manifest from `repo`, with every tag that points at it. */
  deleteManifest(repo: string, digest: Sha256): boolean {
    try {
      fs.unlinkSync(this.revision(repo, digest));
    } catch {
      return false;
    }
    for (const tag of this.tags(repo) ?? []) if (this.readTag(repo, tag) === digest) fs.rmSync(this.tagFile(repo, tag), { force: true });
    const refs = join(this.repoDir(repo), '_referrers', 'sha256');
    for (const subject of safeList(refs)) fs.rmSync(join(refs, subject, hex(digest)), { force: true });
    return true;
  }

  deleteTag(repo: string, tag: string): boolean {
    try {
      fs.unlinkSync(this.tagFile(repo, tag));
      return true;
    } catch {
      return false;
    }
  }

  private readTag(repo: string, tag: string): string | undefined {
    try {
      return fs.readFileSync(this.tagFile(repo, tag), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** A repository's tags, sorted; undefined when the repository does not exist. */
  tags(repo: string): string[] | undefined {
    if (!fs.existsSync(join(this.repoDir(repo), '_manifests'))) return undefined;
    return safeList(join(this.repoDir(repo), '_manifests', 'tags'))
      .filter((t) => !t.startsWith('.tmp-'))
      .sort();
  }

  /** A repository's manifests, by digest. */
  revisions(repo: string): Sha256[] {
    return safeList(join(this.repoDir(repo), '_manifests', 'revisions', 'sha256'))
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}` as Sha256);
  }

  /** Blobs linked into a repository. */
  linkedBlobs(repo: string): Sha256[] {
    return safeList(join(this.repoDir(repo), '_layers', 'sha256'))
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}` as Sha256);
  }

  referrers(repo: string, subject: Sha256): ReferrerDescriptor[] {
    const dir = join(this.repoDir(repo), '_referrers', 'sha256', hex(subject));
    return safeList(dir).flatMap((h) => {
      if (!this.manifest(repo, { digest: `sha256:${h}` as Sha256 })) return [];
      try {
        return [JSON.parse(fs.readFileSync(join(dir, h), 'utf8')) as ReferrerDescriptor];
      } catch {
        return [];
      }
    });
  }

  /** Every repository (a directory with a _manifests or _layers below repositories/), sorted. */
  repositories(): string[] {
    const out: string[] = [];
    const walk = (dir: string, name: string[]) => {
      const entries = safeList(dir);
      if (name.length > 0 && (entries.includes('_manifests') || entries.includes('_layers'))) out.push(name.join('/'));
      for (const e of entries) if (!e.startsWith('_') && !e.startsWith('.')) walk(join(dir, e), [...name, e]);
    };
    walk(join(this.root, 'repositories'), []);
    return out.sort();
  }

  /** Every stored blob's digest. */
  blobs(): Sha256[] {
    return safeList(join(this.root, 'blobs', 'sha256'))
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}` as Sha256);
  }

  removeBlob(d: Sha256): void {
    fs.rmSync(this.blobPath(d), { force: true });
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Writes a small file whole or not at all. */
function atomicWrite(path: string, data: string | Buffer): void {
  fs.mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.tmp-${randomUUID()}`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, path);
}
