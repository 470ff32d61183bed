/**
 * docker save: images as a tar archive. It writes what Docker 25+ writes, an OCI image layout
 * plus Docker's own index files:
 *
 *   blobs/sha256/<config hex>     the config as stored (its sha256 is the image id)
 *   blobs/sha256/<diff id hex>    each layer as an uncompressed tar, once per archive
 *   blobs/sha256/<manifest hex>   an OCI image manifest per image
 *   index.json                    one entry per tag (io.containerd.image.name, ...ref.name)
 *   manifest.json                 [{Config, RepoTags, Layers}]: what `docker load` reads
 *   oci-layout                    {"imageLayoutVersion": "1.0.0"}
 *   repositories                  {"busybox":{"latest":"<top layer hex>"}} (tagged images only)
 */
import { type Header, pack, type Pack } from 'tar-stream';
import { BerthError } from '../errors';
import { type Descriptor, MediaType } from '../distribution/manifest';
import { type ContentStore, type Digest, isDigest, sha256 } from '../store/content-store';
import type { LayerStore } from '../store/layers';
import { familiarName, familiarRepository, fullName, parseReference, type Reference, ReferenceError } from '../wire/reference';
import type { EventBus } from './events';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, drainedOrClosed, MAX_CONFIG_BYTES } from './image-archive-format';
import type { ImageConfig } from './image-config';
import type { ImageService } from './images';

export interface ImageSaverDeps {
  images: ImageService;
  layers: LayerStore;
  content: ContentStore;
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

const EPOCH = new Date(0);
const OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}';

export class ImageSaver {
  /** Uncompressed sizes of layers kept only gzipped, learned by earlier saves (a pure function of the diff id). */
  private readonly tarSizes = new Map<Digest, number>();

  constructor(private readonly deps: ImageSaverDeps) {}

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
}

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
