/**
 * docker load: reads what save writes (image-archive-save.ts), older Docker archives (<hex>.json,
 * <id>/layer.tar, layers maybe gzip) and plain OCI layouts (index.json, indexes inside indexes;
 * the host's platform is picked). The archive is read once into a spool (image-archive-spool.ts).
 * Then the images are resolved, each missing layer is unpacked from its spooled blob and checked
 * against its diff id, the layers are committed in order, the config registered and the tags set.
 * Spooled blobs nothing ends up owning are deleted.
 */
import type * as fs from 'node:fs';
import { BerthError, invalid, messageOf } from '../errors';
import { type Descriptor, type ImageManifest, layerCompression, MediaType, parseManifest, selectManifest } from '../distribution/manifest';
import { LayerProgress, type ProgressSink } from '../distribution/progress';
import { type ContentStore, type Digest, isDigest } from '../store/content-store';
import { decompress, detectCompression } from '../store/compression';
import type { Db } from '../store/db';
import { chainIdOf, type LayerStore, type UnpackedLayer } from '../store/layers';
import { familiarName, fullName, parseReference, type Reference, ReferenceError, withDefaultTag } from '../wire/reference';
import type { EventBus } from './events';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from './image-archive-format';
import { type ArchiveFile, Spool } from './image-archive-spool';
import { hostArchitecture, type ImageConfig } from './image-config';
import type { ImageService } from './images';

export interface ImageLoaderDeps {
  images: ImageService;
  layers: LayerStore;
  content: ContentStore;
  db: Db;
  events: EventBus;
}

const CONCURRENT_UNPACKS = 3;

export class ImageLoader {
  constructor(private readonly deps: ImageLoaderDeps) {}

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
