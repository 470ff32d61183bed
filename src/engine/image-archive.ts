/**
 * docker save and docker load: images as tar archives.
 *
 * Save writes what Docker 25+ writes, an OCI image layout plus Docker's own index files:
 *
 *   blobs/sha256/<config hex>     the config as stored (its sha256 is the image id)
 *   blobs/sha256/<diff id hex>    each layer as an uncompressed tar, once per archive
 *   blobs/sha256/<manifest hex>   an OCI image manifest per image
 *   index.json                    one entry per tag (io.containerd.image.name, ...ref.name)
 *   manifest.json                 [{Config, RepoTags, Layers}]: what `docker load` reads
 *   oci-layout                    {"imageLayoutVersion": "1.0.0"}
 *   repositories                  {"busybox":{"latest":"<top layer hex>"}} (tagged images only)
 *
 * Load reads that, older Docker archives (<hex>.json, <id>/layer.tar, layers maybe gzip) and
 * plain OCI layouts (index.json, indexes inside indexes; the host's platform is picked). The
 * archive is read once: files that look like small JSON stay in memory, every other file goes
 * to the content store as it arrives (hashed on the way) under a lease. Then the images are
 * resolved, each missing layer is unpacked from its spooled blob and checked against its diff
 * id, the layers are committed in order, the config registered and the tags set. Spooled blobs
 * nothing ends up owning are deleted.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { extract, type Header, pack, type Pack } from 'tar-stream';
import { BerthError, invalid, messageOf } from '../errors';
import { type Descriptor, type ImageManifest, layerCompression, MediaType, parseManifest, selectManifest } from '../distribution/manifest';
import { LayerProgress, type ProgressSink } from '../distribution/progress';
import { type ContentStore, type Digest, isDigest, sha256 } from '../store/content-store';
import { decompress, detectCompression } from '../store/compression';
import type { Db } from '../store/db';
import { chainIdOf, type LayerStore, type UnpackedLayer } from '../store/layers';
import { normalizeEntryPath } from '../store/tar-validate';
import {
  familiarName, familiarRepository, fullName, parseReference, type Reference, ReferenceError, withDefaultTag,
} from '../wire/reference';
import type { EventBus } from './events';
import { hostArchitecture, type ImageConfig } from './image-config';
import type { ImageService } from './images';

export interface ImageArchiveDeps {
  images: ImageService;
  layers: LayerStore;
  content: ContentStore;
  db: Db;
  events: EventBus;
}

/** What a save writes, resolved before the first byte goes out. */
export interface SavePlan {
  images: SaveImage[];
}

interface SaveImage {
  id: Digest;
  config: Buffer;
  diffIds: Digest[];
  platform: { architecture: string; os: string; variant?: string };
  created: Date;
  tags: Reference[];
}

/** Small JSON files of an archive are kept in memory up to this size each, and this much in all. */
const MAX_JSON_BYTES = 4 << 20;
const MAX_MEMORY_BYTES = 64 << 20;
/** Configs bigger than a memory file are read back from the store up to this size (as pulls). */
const MAX_CONFIG_BYTES = 16 << 20;
const CONCURRENT_UNPACKS = 3;
/** Spooled files are read back, and archives parsed, in chunks this big (see feed()). */
const READ_CHUNK = 1 << 20;
const EPOCH = new Date(0);
const OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}';
const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export class ImageArchive {
  /** Uncompressed sizes of layers kept only gzipped, learned by earlier saves (a pure function of the diff id). */
  private readonly tarSizes = new Map<Digest, number>();

  constructor(private readonly deps: ImageArchiveDeps) {}

  // ---- save ----

  /**
   * Resolves `names` the way Docker does: a tag saves that tag, a bare repository every tag it
   * has (or, with none, an image id prefix), an id or digest the image without tags. Throws
   * "No such image" (and anything else that can be known) before the caller sends a byte.
   */
  planSave(names: string[]): SavePlan {
    const byId = new Map<Digest, SaveImage>();
    const add = (id: Digest, ref?: Reference) => {
      let image = byId.get(id);
      if (!image) {
        image = this.saveImage(id);
        byId.set(id, image);
      }
      if (ref && !image.tags.some((t) => fullName(t) === fullName(ref))) image.tags.push(ref);
    };
    for (const name of names) {
      let ref: Reference | undefined;
      try {
        ref = isDigest(name) ? undefined : parseReference(name);
      } catch (e) {
        if (!(e instanceof ReferenceError)) throw e;
      }
      if (ref && ref.tag === undefined && ref.digest === undefined) {
        const tagged = this.deps.images.tagsInRepository(ref);
        for (const t of tagged) add(t.id, t.ref);
        if (tagged.length === 0) add(this.deps.images.resolve(name).id);
        continue;
      }
      const image = this.deps.images.resolve(name);
      add(image.id, ref?.tag !== undefined && ref.digest === undefined ? ref : undefined);
    }
    return { images: [...byId.values()] };
  }

  private saveImage(id: Digest): SaveImage {
    const config = this.deps.content.readSmall(id, MAX_CONFIG_BYTES);
    const cfg = JSON.parse(config.toString('utf8')) as ImageConfig;
    const diffIds = cfg.rootfs?.diff_ids ?? [];
    for (const d of diffIds) {
      if (this.deps.layers.tarSize(d) === undefined && !this.deps.layers.blobsOf(d).some((b) => b.mediaType.includes('gzip'))) {
        throw new BerthError('internal', `Cannot save image ${id}: layer ${d} has no data in the store`);
      }
    }
    const created = cfg.created ? new Date(cfg.created) : EPOCH;
    return {
      id, config, diffIds, tags: [],
      platform: { architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) },
      created: Number.isNaN(created.getTime()) ? EPOCH : created,
    };
  }

  /**
   * The archive's bytes. Layers stream from the store as the consumer reads; a consumer that
   * stops early (return()) stops the reads. A failure mid-way throws: the caller must cut the
   * connection, not end it, or a truncated archive would pass for a whole one.
   */
  async *save(plan: SavePlan, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const tar = pack({ highWaterMark: 1 << 20 });
    // Errors arrive through the iteration below; with nobody iterating any more, an 'error'
    // event without a listener would take the daemon down.
    tar.on('error', () => {});
    const stop = new AbortController();
    // The consumer may be waiting for the next chunk (a size being counted) when it goes away.
    const cancel = () => {
      stop.abort();
      tar.destroy(new Error('save cancelled'));
    };
    signal?.addEventListener('abort', cancel);
    const writing = this.writeArchive(plan, tar, stop.signal).then(() => tar.finalize(), (e: Error) => tar.destroy(e));
    let complete = false;
    try {
      for await (const chunk of tar) yield chunk as Buffer;
      complete = true;
    } finally {
      signal?.removeEventListener('abort', cancel);
      if (!complete) cancel();
      await writing;
    }
  }

  private async writeArchive(plan: SavePlan, tar: Pack, signal: AbortSignal): Promise<void> {
    const written = new Set<Digest>();
    const blob = (d: Digest) => `blobs/sha256/${d.slice(7)}`;
    await addEntry(tar, { name: 'blobs/', type: 'directory', mtime: EPOCH });
    await addEntry(tar, { name: 'blobs/sha256/', type: 'directory', mtime: EPOCH });
    const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const index: Descriptor[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const image of plan.images) {
      const layers: Descriptor[] = [];
      // The size of a layer kept only gzipped takes a pass over it: the next one's is learned
      // while this one streams.
      const sizes = image.diffIds.map((d) => () => this.tarSizeOf(d, signal));
      let next = sizes[0]?.();
      for (let i = 0; i < image.diffIds.length; i++) {
        const diffId = image.diffIds[i];
        const size = await next!;
        next = sizes[i + 1]?.();
        next?.catch(() => {});
        layers.push({ mediaType: MediaType.ociLayer, digest: diffId, size });
        if (written.has(diffId)) continue;
        written.add(diffId);
        await addEntry(tar, { name: blob(diffId), size, mtime: image.created }, this.deps.layers.openTar(diffId));
      }
      if (!written.has(image.id)) {
        written.add(image.id);
        await addEntry(tar, { name: blob(image.id), mtime: image.created }, image.config);
      }
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: image.id, size: image.config.length },
        layers,
      }));
      const manifestDigest = sha256(manifest);
      if (!written.has(manifestDigest)) {
        written.add(manifestDigest);
        await addEntry(tar, { name: blob(manifestDigest), mtime: EPOCH }, manifest);
      }
      const descriptor = { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifest.length };
      if (image.tags.length === 0) index.push({ ...descriptor, platform: image.platform });
      for (const ref of image.tags) {
        index.push({ ...descriptor, annotations: { [ANNOTATION_IMAGE_NAME]: fullName(ref), [ANNOTATION_REF_NAME]: ref.tag! }, platform: image.platform });
        const top = image.diffIds[image.diffIds.length - 1];
        if (top) (repositories[familiarRepository(ref)] ??= {})[ref.tag!] = top.slice(7);
      }
      manifestJson.push({
        Config: blob(image.id),
        RepoTags: image.tags.length ? image.tags.map((t) => familiarName(t)) : null,
        Layers: image.diffIds.map(blob),
      });
      this.deps.events.emit('image', 'save', image.id, {});
    }
    const json = (v: unknown, newline = '') => Buffer.from(JSON.stringify(v) + newline);
    await addEntry(tar, { name: 'index.json', mtime: EPOCH }, json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: index }));
    // Go's json.Encoder, which Docker writes these two with, ends them with a newline.
    await addEntry(tar, { name: 'manifest.json', mtime: EPOCH }, json(manifestJson, '\n'));
    await addEntry(tar, { name: 'oci-layout', mtime: EPOCH }, Buffer.from(OCI_LAYOUT));
    if (Object.keys(repositories).length > 0) await addEntry(tar, { name: 'repositories', mtime: EPOCH }, json(repositories, '\n'));
  }

  /**
   * A layer's uncompressed size: the kept tar's, or one counting pass over the gzip form.
   * Counting costs a second gunzip but no disk: a temporary copy took as long here (write and
   * read back of the tar against one more inflate) and needs free space as big as the layer.
   */
  private async tarSizeOf(diffId: Digest, signal: AbortSignal): Promise<number> {
    const known = this.deps.layers.tarSize(diffId) ?? this.tarSizes.get(diffId);
    if (known !== undefined) return known;
    let n = 0;
    for await (const chunk of this.deps.layers.openTar(diffId)) {
      signal.throwIfAborted();
      n += chunk.length;
    }
    if (this.tarSizes.size >= 4096) this.tarSizes.clear();
    this.tarSizes.set(diffId, n);
    return n;
  }

  // ---- load ----

  /**
   * Loads every image of an archive (plain or gzip bytes). Progress and the "Loaded image"
   * lines go to `progress`; an error before the first message is the caller's to answer.
   */
  async load(archive: AsyncIterable<Buffer>, progress: ProgressSink): Promise<Digest[]> {
    const lease = this.deps.content.lease();
    const spool = new Spool(this.deps.content, lease);
    try {
      await spool.read(decompress(archive));
      const images = resolveImages(spool);
      const ids: Digest[] = [];
      for (const image of images) ids.push(await this.loadImage(image, spool, lease, progress));
      return ids;
    } finally {
      lease.release();
      for (const d of spool.spooled) if (!this.owned(d)) this.deps.content.delete(d);
    }
  }

  private async loadImage(image: LoadImage, spool: Spool, lease: { add(d: Digest): void }, progress: ProgressSink): Promise<Digest> {
    const chains: Digest[] = [];
    image.diffIds.forEach((d, i) => chains.push(chainIdOf(i === 0 ? null : chains[i - 1], d)));
    for (const c of chains) lease.add(c);
    const todo = chains.map((_, i) => i).filter((i) => !this.deps.layers.get(chains[i]));
    const { results, error } = await mapLimited(todo, CONCURRENT_UNPACKS, (i) => this.unpackLayer(image, i, chains[i], spool, progress));
    if (error) {
      for (const r of results) if (r?.status === 'fulfilled') r.value.unpacked.abort();
      throw error.reason;
    }
    results.forEach((r, k) => {
      const i = todo[k];
      const { unpacked, gzip } = (r as PromiseFulfilledResult<Unpacked>).value;
      unpacked.commit(i === 0 ? null : chains[i - 1]);
      if (gzip) this.deps.layers.recordBlob(image.diffIds[i], gzip);
    });
    const images = this.deps.images;
    const id = images.registerRaw(image.config);
    if (id !== image.configDigest) throw invalid(`invalid archive: config digest mismatch: expected ${image.configDigest}, got ${id}`);
    for (const ref of image.tags) {
      const old = images.lookup(fullName(ref));
      if (old && old.id !== id && images.tagsOf(old.id).includes(familiarName(ref))) {
        progress({ stream: `The image ${familiarName(ref)} already exists, renaming the old one with ID ${old.id} to empty string\n` });
      }
      images.setTagRef(ref, id);
      progress({ stream: `Loaded image: ${familiarName(ref)}\n` });
    }
    if (image.tags.length === 0) progress({ stream: `Loaded image ID: ${id}\n` });
    this.deps.events.emit('image', 'load', id, {});
    return id;
  }

  /** One layer from its spooled file (tar or gzip) through unpack's diff id check. */
  private async unpackLayer(image: LoadImage, i: number, chainId: Digest, spool: Spool, progress: ProgressSink): Promise<Unpacked> {
    const { file, name, mediaType } = image.layers[i];
    const diffId = image.diffIds[i];
    if (file.lost) throw layerMismatch(name, diffId, file.digest);
    const kind = detectCompression(spool.head(file));
    if (kind !== 'none' && kind !== 'gzip') throw invalid(`unsupported compression: ${kind} (layer ${name}; berth reads gzip and uncompressed layers)`);
    // An uncompressed tar's digest is its diff id: a mismatch is known without unpacking.
    if (kind === 'none' && file.digest !== diffId) throw layerMismatch(name, diffId, file.digest);
    const bar = new LayerProgress(progress, chainId.slice(7, 19), 'Loading layer', file.size);
    const raw = spool.open(file);
    const counting = counted(raw, (n) => bar.update(n));
    // decompress() leaves its source open when unpack gives up early: close the file here.
    const source = kind === 'gzip' ? closing(decompress(counting), () => (raw as Partial<fs.ReadStream>).destroy?.()) : counting;
    // A spooled tar already is the layer's blob (its digest is the diff id) and a spooled gzip
    // is kept as the layer's compressed form, as pulls keep theirs; only memory files are written.
    const keepTar = file.bytes !== undefined;
    let unpacked: UnpackedLayer;
    try {
      // Not offThread: the archive is already spooled, this thread has nothing else to do, and
      // handing chunks to a worker made loads 15-20% slower here (A/B, 2 x 5 runs each).
      unpacked = await this.deps.layers.unpack(source, { keepTar, diffId });
    } catch (e) {
      const m = /^digest mismatch: expected \S+, got (\S+)/.exec(messageOf(e));
      if (m) throw layerMismatch(name, diffId, m[1]);
      throw e;
    }
    const gzip = kind === 'gzip' && !keepTar
      ? { digest: file.digest, mediaType: mediaType && layerCompression(mediaType) === 'gzip' ? mediaType : MediaType.dockerLayer, size: file.size }
      : undefined;
    return { unpacked, gzip };
  }

  /** Whether anything in the store stands on blob `d` (an image, a layer, a kept gzip, a transfer). */
  private owned(d: Digest): boolean {
    if (this.deps.content.isLeased(d)) return true;
    const row = this.deps.db.prepare(
      'SELECT 1 FROM images WHERE id = ? UNION ALL SELECT 1 FROM layers WHERE diff_id = ? UNION ALL SELECT 1 FROM layer_blobs WHERE digest = ? LIMIT 1',
    ).get(d, d, d);
    return row !== undefined;
  }
}

interface Unpacked {
  unpacked: UnpackedLayer;
  gzip: { digest: Digest; mediaType: string; size: number } | undefined;
}

function layerMismatch(name: string, diffId: Digest, got: string): BerthError {
  return invalid(`invalid archive: layer ${name} does not match the image config: expected diff id ${diffId}, got ${got}`);
}

// ---- reading an archive ----

/** A regular file of the archive: in memory (small JSON) or spooled to the content store. */
interface ArchiveFile {
  size: number;
  digest: Digest;
  bytes?: Buffer;
  /** Its bytes were only hashed (its name promised a blob the store has) and did not match: unusable. */
  lost?: true;
}

/** The archive as read: files by normalized path, links (aliases to other files) by path. */
class Spool {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();
  /** Blobs this load wrote to the content store. */
  readonly spooled = new Set<Digest>();
  private memory = 0;

  constructor(
    private readonly content: ContentStore,
    private readonly lease: { add(d: Digest): void },
  ) {}

  async read(archive: AsyncIterable<Buffer>): Promise<void> {
    const ex = extract();
    ex.on('error', () => {}); // seen by the iteration; the feeder may fail after it stopped
    const feeding = feed(archive, ex);
    let entries = 0;
    try {
      for await (const entry of ex) {
        entry.on('error', () => {}); // a truncated body errors here and in the parser: reported once, there
        entries++;
        await this.take(entry.header, entry as AsyncIterable<Buffer>);
      }
      if (entries === 0) throw invalid('invalid archive: empty');
    } catch (e) {
      ex.destroy();
      if (e instanceof BerthError) throw e;
      throw invalid(`invalid archive: ${messageOf(e)}`, e);
    } finally {
      await feeding;
    }
  }

  private async take(h: Header, body: AsyncIterable<Buffer>): Promise<void> {
    const name = h.name;
    if (name.includes('\0') || name.startsWith('/') || name.split('/').includes('..')) {
      throw invalid(`invalid archive: entry "${name}" is outside the archive (absolute or with "..")`);
    }
    const path = normalizeEntryPath(name)!;
    switch (h.type) {
      case 'directory':
        for await (const _ of body);
        return;
      case 'file':
      case 'contiguous-file':
        return this.store(path, h.size ?? 0, body);
      case 'symlink':
      case 'link': {
        // Docker (before 25) and skopeo point a layer.tar at another copy of the same layer. Such
        // a link is an alias, never followed on disk, and only to a path inside the archive.
        const raw = h.linkname ?? '';
        const target = raw.startsWith('/') ? null : normalizeEntryPath(h.type === 'symlink' ? posix.join(posix.dirname(path), raw) : raw);
        if (!target) throw invalid(`invalid archive: link "${name}" points outside the archive (${raw})`);
        this.files.delete(path);
        this.links.set(path, target);
        for await (const _ of body);
        return;
      }
      default:
        throw invalid(`invalid archive: entry "${name}" is a ${h.type ?? 'entry of unknown type'}; an image archive holds only files and directories`);
    }
  }

  private async store(path: string, size: number, body: AsyncIterable<Buffer>): Promise<void> {
    this.links.delete(path);
    const it = body[Symbol.asyncIterator]();
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    if (size <= MAX_JSON_BYTES && this.memory + size <= MAX_MEMORY_BYTES && (size === 0 || looksLikeJson(head))) {
      const chunks = [head];
      for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
      const bytes = Buffer.concat(chunks);
      this.memory += bytes.length;
      this.files.set(path, { size: bytes.length, digest: sha256(bytes), bytes });
      return;
    }
    // An OCI blob the store already has (loading an image again) is only hashed, not rewritten.
    const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path)?.[1];
    if (named && this.content.has(`sha256:${named}`)) {
      this.lease.add(`sha256:${named}`);
      const hash = createHash('sha256').update(head);
      let n = head.length;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        hash.update(r.value);
        n += r.value.length;
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      this.files.set(path, digest === `sha256:${named}` ? { size: n, digest } : { size: n, digest, lost: true });
      return;
    }
    const w = this.content.writer();
    try {
      if (head.length) await w.write(head);
      for (let r = await it.next(); !r.done; r = await it.next()) await w.write(r.value);
      const { digest, size: n } = await w.commit();
      this.lease.add(digest);
      this.spooled.add(digest);
      this.files.set(path, { size: n, digest });
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** The file at `path` (a path the archive's own metadata names), following links. */
  file(path: string, what: string): ArchiveFile {
    let p = path.startsWith('/') ? null : normalizeEntryPath(path);
    if (p === null || p === '') throw invalid(`invalid archive: ${what} "${path}" points outside the archive`);
    for (let hops = 0; hops < 16; hops++) {
      const f = this.files.get(p);
      if (f) return f;
      const next = this.links.get(p);
      if (next === undefined) break;
      p = next;
    }
    throw invalid(`invalid archive: ${what} "${path}" is not in the archive`);
  }

  /** A blob of the OCI layout, checked against its descriptor. */
  blob(desc: Descriptor, what: string): ArchiveFile {
    const path = `blobs/${desc.digest.replace(':', '/')}`;
    const f = this.file(path, what);
    if (f.digest !== desc.digest) throw invalid(`invalid archive: ${path} does not match its digest (got ${f.digest})`);
    if (f.size !== desc.size) throw invalid(`invalid archive: ${path} is ${f.size} bytes, its descriptor says ${desc.size}`);
    return f;
  }

  bytes(f: ArchiveFile): Buffer {
    usable(f);
    return f.bytes ?? this.content.readSmall(f.digest, MAX_CONFIG_BYTES);
  }

  json(f: ArchiveFile, what: string): unknown {
    try {
      return JSON.parse(this.bytes(f).toString('utf8'));
    } catch (e) {
      if (e instanceof BerthError) throw invalid(`invalid archive: ${what}: ${e.message}`);
      throw invalid(`invalid archive: ${what} is not valid JSON`);
    }
  }

  head(f: ArchiveFile): Buffer {
    if (f.bytes) return f.bytes.subarray(0, 6);
    usable(f);
    const fd = fs.openSync(this.content.path(f.digest), 'r');
    try {
      const buf = Buffer.alloc(6);
      return buf.subarray(0, fs.readSync(fd, buf, 0, 6, 0));
    } finally {
      fs.closeSync(fd);
    }
  }

  open(f: ArchiveFile): AsyncIterable<Buffer> {
    usable(f);
    const bytes = f.bytes;
    return bytes ? (async function* () { yield bytes; })() : fs.createReadStream(this.content.path(f.digest), { highWaterMark: READ_CHUNK });
  }
}

function usable(f: ArchiveFile): void {
  if (f.lost) throw invalid(`invalid archive: a blob does not match its name (its digest is ${f.digest})`);
}

function looksLikeJson(head: Buffer): boolean {
  for (const c of head) {
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b; // { [
  }
  return false;
}

/**
 * Writes `source` into the tar parser with backpressure; a failure destroys the parser with it.
 * Chunks are joined up to 1 MiB first: tar-stream's cost is per chunk (3-5x faster here with
 * 1 MiB than with the 64 KiB a socket delivers).
 */
async function feed(source: AsyncIterable<Buffer>, ex: ReturnType<typeof extract>): Promise<void> {
  const parser = ex as unknown as NodeJS.WritableStream & { destroyed: boolean; destroying: boolean; destroy(e?: Error): void };
  let pending: Buffer[] = [];
  let bytes = 0;
  const flush = async () => {
    const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, bytes);
    pending = [];
    bytes = 0;
    if (!parser.write(chunk)) await drainedOrClosed(parser);
  };
  try {
    for await (const chunk of source) {
      if (parser.destroyed || parser.destroying) return;
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes >= READ_CHUNK) await flush();
    }
    if (bytes > 0 && !parser.destroyed) await flush();
    if (!parser.destroyed) parser.end();
  } catch (e) {
    parser.destroy(e as Error);
  }
}

// ---- what the archive holds ----

interface LoadImage {
  config: Buffer;
  configDigest: Digest;
  diffIds: Digest[];
  layers: { file: ArchiveFile; name: string; mediaType?: string }[];
  tags: Reference[];
}

/** The images an archive describes: Docker's manifest.json when present, else the OCI index. */
function resolveImages(spool: Spool): LoadImage[] {
  if (spool.files.has('manifest.json') || spool.links.has('manifest.json')) return fromDockerManifest(spool);
  if (spool.files.has('index.json') || spool.links.has('index.json')) return fromOciIndex(spool);
  throw invalid('invalid archive: it has neither manifest.json nor index.json (not an image archive)');
}

function fromDockerManifest(spool: Spool): LoadImage[] {
  const doc = spool.json(spool.file('manifest.json', 'file'), 'manifest.json');
  if (!Array.isArray(doc)) throw invalid('invalid archive: manifest.json is not a list');
  return doc.map((item: unknown, n) => {
    const m = item as { Config?: unknown; Layers?: unknown; RepoTags?: unknown } | null;
    if (!m || typeof m.Config !== 'string' || !Array.isArray(m.Layers) || !m.Layers.every((l) => typeof l === 'string')) {
      throw invalid(`invalid archive: manifest.json entry ${n} needs a Config and a list of Layers`);
    }
    const configFile = spool.file(m.Config, 'config');
    // blobs/sha256/<hex> (Docker 25+) and <hex>.json (before) name the config's digest.
    const named = /(?:^|\/)(?:sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(m.Config)?.[1];
    if (named && configFile.digest !== `sha256:${named}`) throw invalid(`invalid archive: config ${m.Config} does not match its digest (got ${configFile.digest})`);
    const config = spool.bytes(configFile);
    const diffIds = diffIdsOf(config, m.Config);
    const layerPaths = m.Layers as string[];
    if (diffIds.length !== layerPaths.length) {
      throw invalid(`invalid archive: config ${m.Config} names ${diffIds.length} layers, manifest.json ${layerPaths.length}`);
    }
    const repoTags = m.RepoTags === null || m.RepoTags === undefined ? [] : m.RepoTags;
    if (!Array.isArray(repoTags) || !repoTags.every((t) => typeof t === 'string')) throw invalid(`invalid archive: RepoTags of manifest.json entry ${n} is not a list of names`);
    return {
      config,
      configDigest: configFile.digest,
      diffIds,
      layers: layerPaths.map((p) => ({ file: spool.file(p, 'layer'), name: p })),
      tags: (repoTags as string[]).map(parseTag),
    };
  });
}

function fromOciIndex(spool: Spool): LoadImage[] {
  const index = parseIndex(spool.bytes(spool.file('index.json', 'file')), 'index.json');
  const byConfig = new Map<Digest, LoadImage>();
  for (const desc of index.manifests) {
    const { manifest, names } = pickManifest(spool, desc, 0);
    const configFile = spool.blob(manifest.config, 'config');
    const config = spool.bytes(configFile);
    const diffIds = diffIdsOf(config, manifest.config.digest);
    if (diffIds.length !== manifest.layers.length) {
      throw invalid(`invalid archive: config ${manifest.config.digest} names ${diffIds.length} layers, its manifest ${manifest.layers.length}`);
    }
    let image = byConfig.get(manifest.config.digest);
    if (!image) {
      image = {
        config,
        configDigest: manifest.config.digest,
        diffIds,
        layers: manifest.layers.map((l) => {
          const compression = layerCompression(l.mediaType);
          if (compression === undefined) throw invalid(`invalid archive: unsupported layer media type ${l.mediaType}`);
          if (compression === 'zstd') throw invalid(`unsupported compression: zstd (layer ${l.digest}; berth reads gzip and uncompressed layers)`);
          return { file: spool.blob(l, 'layer'), name: l.digest, mediaType: l.mediaType };
        }),
        tags: [],
      };
      byConfig.set(manifest.config.digest, image);
    }
    for (const ref of names) if (!image.tags.some((t) => fullName(t) === fullName(ref))) image.tags.push(ref);
  }
  return [...byConfig.values()];
}

/** Follows an index entry to the image manifest for this host; names come from the outermost entry that has one. */
function pickManifest(spool: Spool, desc: Descriptor, depth: number): { manifest: ImageManifest; names: Reference[] } {
  if (depth > 4) throw invalid('invalid archive: indexes nested too deep');
  const names = namesOf(desc.annotations);
  const bytes = spool.bytes(spool.blob(desc, 'manifest'));
  let parsed;
  try {
    parsed = parseManifest(bytes, desc.mediaType);
  } catch (e) {
    throw invalid(`invalid archive: manifest ${desc.digest}: ${messageOf(e)}`);
  }
  if (parsed.kind === 'image') return { manifest: parsed, names };
  const want = { os: 'linux', architecture: hostArchitecture() };
  const entry = selectManifest(parsed, want) ?? (parsed.manifests.length === 1 && !parsed.manifests[0].platform ? parsed.manifests[0] : undefined);
  if (!entry) throw invalid(`invalid archive: no manifest for linux/${want.architecture} in index ${desc.digest}`);
  const inner = pickManifest(spool, entry, depth + 1);
  return { manifest: inner.manifest, names: names.length ? names : inner.names };
}

function parseIndex(bytes: Buffer, what: string) {
  let parsed;
  try {
    parsed = parseManifest(bytes, MediaType.ociIndex);
  } catch (e) {
    throw invalid(`invalid archive: ${what}: ${messageOf(e)}`);
  }
  if (parsed.kind !== 'index') throw invalid(`invalid archive: ${what} is not an image index`);
  return parsed;
}

/**
 * The tag an index entry gives its image: io.containerd.image.name (a full name), else a
 * ref.name that is a name and not only a tag ("busybox:1", "example.com/x"). A bare ref.name
 * such as "latest" or "1.0" names nothing on its own: the image loads untagged.
 */
export function namesOf(annotations: Record<string, string> | undefined): Reference[] {
  const candidates = [annotations?.[ANNOTATION_IMAGE_NAME], annotations?.[ANNOTATION_REF_NAME]]
    .filter((s): s is string => typeof s === 'string' && /[/:]/.test(s));
  for (const c of candidates) {
    try {
      const ref = withDefaultTag(parseReference(c));
      if (ref.tag !== undefined && ref.digest === undefined) return [ref];
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
    }
  }
  return [];
}

function parseTag(s: string): Reference {
  try {
    const ref = withDefaultTag(parseReference(s));
    if (ref.digest !== undefined) throw new ReferenceError('a tag cannot carry a digest');
    return ref;
  } catch (e) {
    if (e instanceof ReferenceError) throw invalid(`invalid archive: invalid tag "${s}": ${e.message}`);
    throw e;
  }
}

function diffIdsOf(config: Buffer, what: string): Digest[] {
  let cfg: ImageConfig;
  try {
    cfg = JSON.parse(config.toString('utf8')) as ImageConfig;
  } catch {
    throw invalid(`invalid archive: config ${what} is not valid JSON`);
  }
  const ids = cfg?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && isDigest(d))) throw invalid(`invalid archive: config ${what} has no valid rootfs.diff_ids`);
  if (cfg.os && cfg.os !== 'linux') throw invalid(`cannot load ${cfg.os} image on linux`);
  return ids;
}

// ---- streams ----

/** Adds one entry: `body` a buffer, a stream of exactly `header.size` bytes, or none (directories). */
function addEntry(tar: Pack, header: Partial<Header> & { name: string }, body?: Buffer | AsyncIterable<Buffer>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (e?: Error | null) => (e ? reject(e) : resolve());
    if (body === undefined) {
      tar.entry(header, done);
      return;
    }
    if (Buffer.isBuffer(body)) {
      tar.entry({ ...header, size: body.length }, body, done);
      return;
    }
    const sink = tar.entry(header, done);
    sink.on('error', () => {}); // reported through `done`
    void (async () => {
      let n = 0;
      for await (const chunk of body) {
        n += chunk.length;
        if (n > header.size!) throw new Error(`${header.name} is longer than the ${header.size} bytes announced`);
        if (sink.destroyed || sink.destroying) throw new Error('tar entry closed');
        if (!sink.write(chunk)) await drainedOrClosed(sink);
      }
      if (n !== header.size) throw new Error(`${header.name} ended after ${n} of ${header.size} bytes`);
      sink.end(undefined);
    })().catch((e: Error) => {
      sink.destroy(e);
      reject(e);
    });
  });
}

/** Resolves on 'drain'; rejects when the stream is closed or closes first (its consumer is gone). */
function drainedOrClosed(s: NodeJS.EventEmitter & { destroyed: boolean; destroying?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed || s.destroying) {
      reject(new Error('stream closed'));
      return;
    }
    const onDrain = () => { s.off('close', onClose); resolve(); };
    const onClose = () => { s.off('drain', onDrain); reject(new Error('stream closed')); };
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}

async function* closing(source: AsyncIterable<Buffer>, close: () => void): AsyncGenerator<Buffer> {
  try {
    yield* source;
  } finally {
    close();
  }
}

async function* counted(source: AsyncIterable<Buffer>, report: (n: number) => void): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    report(n);
    yield chunk;
  }
}

/**
 * Runs `fn` over `items`, at most `limit` at once; after the first failure no new item starts.
 * Resolves once nothing runs any more, with what each started item gave and that first failure.
 */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<{ results: PromiseSettledResult<R>[]; error?: PromiseRejectedResult }> {
  const results: PromiseSettledResult<R>[] = [];
  let error: PromiseRejectedResult | undefined;
  let next = 0;
  const worker = async () => {
    while (next < items.length && !error) {
      const k = next++;
      try {
        results[k] = { status: 'fulfilled', value: await fn(items[k]) };
      } catch (e) {
        results[k] = { status: 'rejected', reason: e };
        error ??= results[k] as PromiseRejectedResult;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return { results, ...(error ? { error } : {}) };
}
