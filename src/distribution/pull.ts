/**
 * Pull: manifest (index → the platform's manifest), config, then every missing layer at once
 * (three at a time, as Docker), each streamed from the registry through its digest check into
 * the content store *and* through gunzip into GNU tar in the same pass: download and extraction
 * overlap, and layers decompress on several cores. Layers commit in stack order once their
 * parents have; the image (config blob + row + tag) is registered last, so a failed or killed
 * pull never leaves a half image, only complete layers and blobs that garbage collection owns.
 */
import { BerthError, invalid, messageOf } from '../errors';
import { hostArchitecture } from '../wire/platform';
import { type ContentStore, type Digest, sha256 } from '../store/content-store';
import { decompress } from '../store/compression';
import { chainIdOf, type LayerStore } from '../store/layers';
import { coalesce } from '../store/stream-write';
import { familiarName, familiarRepository, type Reference } from '../wire/reference';
import type { Credentials } from './auth';
import type { ConfigSummary, ImageEvents, LocalImages } from './local-images';
import type { BlobSources } from './blob-sources';
import { TransportError } from './http';
import {
  type Descriptor, formatPlatform, layerCompression, type Platform, parseManifest, selectManifest, platformMatches,
} from './manifest';
import { LayerProgress, type ProgressSink } from './progress';
import { type Registries, Repository } from './registry';

export interface PullDeps {
  registries: Registries;
  images: LocalImages;
  layers: LayerStore;
  content: ContentStore;
  events: ImageEvents;
  sources: BlobSources;
}

export interface PullRequest {
  /** Normalized, with a tag or a digest. */
  ref: Reference;
  platform?: Platform;
  creds: Credentials;
  progress: ProgressSink;
}

/** Configs are small; a registry that sends a huge one is refused. */
const MAX_CONFIG_BYTES = 16 << 20;
const CONCURRENT_DOWNLOADS = 3;
/** Reconnects per layer after the connection broke mid-blob (each resumes where it stopped). */
const RESUMES = 5;

export class Puller {
  /** Layers being fetched by any pull, by chain id: a second pull waits for the first. */
  private readonly inflight = new Map<Digest, Promise<void>>();

  constructor(private readonly deps: PullDeps) {}

  async pull(req: PullRequest): Promise<{ id: Digest; digest: Digest }> {
    const { ref, progress } = req;
    const reference = ref.digest ?? ref.tag!;
    const want = req.platform ?? { os: 'linux', architecture: hostArchitecture() };
    const endpoints = await this.deps.registries.endpoints(ref.domain, false);
    let repo: Repository | undefined;
    let top: { bytes: Buffer; mediaType: string | undefined; digest: Digest } | undefined;
    let lastError: unknown;
    for (const endpoint of endpoints) {
      const candidate = new Repository(this.deps.registries, endpoint, ref.path, req.creds, 'pull');
      try {
        top = await candidate.getManifest(reference);
        repo = candidate;
        break;
      } catch (e) {
        lastError = e;
        // A mirror that fails is skipped; the registry itself has the last word.
        if (!endpoint.mirror) break;
      }
    }
    if (!repo || !top) throw this.explain(lastError, ref);

    let manifest = parseManifest(top.bytes, top.mediaType);
    if (manifest.kind === 'index') {
      const entry = selectManifest(manifest, want);
      if (!entry) throw new BerthError('not-found', `no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
      const inner = await repo.getManifest(entry.digest);
      manifest = parseManifest(inner.bytes, inner.mediaType);
      if (manifest.kind !== 'image') throw invalid(`manifest ${entry.digest} is an index inside an index`);
    }
    progress({ status: `Pulling from ${ref.path}`, id: reference });

    const lease = this.deps.content.lease();
    try {
      const configBytes = await this.fetchConfig(repo, manifest.config);
      const config = JSON.parse(configBytes.toString('utf8')) as ConfigSummary;
      if (req.platform && config.os && config.architecture && !platformMatches(req.platform, { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) })) {
        throw new BerthError('not-found', `image with reference ${familiarName(ref)} was found but does not match the specified platform: wanted ${formatPlatform(req.platform)}, actual: ${formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) })}`);
      }
      const diffIds = config.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
        throw invalid(`invalid image ${familiarName(ref)}: the config names ${diffIds?.length ?? 0} layers, the manifest ${manifest.layers.length}`);
      }
      const existed = this.deps.images.get(manifest.config.digest) !== undefined;
      await this.fetchLayers(repo, manifest.layers, diffIds, progress, lease);
      const id = this.deps.images.registerRaw(configBytes);
      if (id !== manifest.config.digest) throw invalid(`config digest mismatch: expected ${manifest.config.digest}, got ${id}`);
      const repoRef = { domain: ref.domain, path: ref.path };
      this.deps.images.addRepoDigest(repoRef, top.digest, id);
      if (ref.tag !== undefined) this.deps.images.setTagRef(ref, id);
      progress({ status: `Digest: ${top.digest}` });
      const name = familiarName(ref);
      progress({ status: existed ? `Status: Image is up to date for ${name}` : `Status: Downloaded newer image for ${name}` });
      this.deps.events.emit('image', 'pull', familiarName(ref), {});
      return { id, digest: top.digest };
    } finally {
      lease.release();
    }
  }

  /** Tags of a repository, for `pull --all-tags`. */
  async listTags(ref: Reference, creds: Credentials): Promise<string[]> {
    const [endpoint] = (await this.deps.registries.endpoints(ref.domain, true));
    const tags = await new Repository(this.deps.registries, endpoint, ref.path, creds, 'pull').listTags().catch((e) => {
      throw this.explain(e, ref);
    });
    if (tags.length === 0) throw new BerthError('not-found', `no tags found for ${familiarRepository(ref)}`);
    return tags;
  }

  private async fetchConfig(repo: Repository, desc: Descriptor): Promise<Buffer> {
    if (desc.size > MAX_CONFIG_BYTES) throw invalid(`image config of ${desc.size} bytes is over the ${MAX_CONFIG_BYTES} byte limit`);
    if (this.deps.content.has(desc.digest)) return this.deps.content.readSmall(desc.digest, MAX_CONFIG_BYTES);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of await repo.openBlob(desc.digest)) {
      n += c.length;
      if (n > desc.size) throw invalid(`config ${desc.digest} is longer than the ${desc.size} bytes its manifest says`);
      chunks.push(c);
    }
    const bytes = Buffer.concat(chunks);
    if (sha256(bytes) !== desc.digest) throw invalid(`digest mismatch for config: expected ${desc.digest}, got ${sha256(bytes)}`);
    return bytes;
  }

  private async fetchLayers(repo: Repository, descs: Descriptor[], diffIds: Digest[], progress: ProgressSink, lease: ReturnType<ContentStore['lease']>): Promise<void> {
    const chains: Digest[] = [];
    diffIds.forEach((d, i) => chains.push(chainIdOf(i === 0 ? null : chains[i - 1], d)));
    for (const c of chains) lease.add(c);
    for (const d of descs) lease.add(d.digest);
    const bars = descs.map((d) => new LayerProgress(progress, d.digest.slice(7, 19), 'Downloading', d.size));
    const todo: number[] = [];
    descs.forEach((_, i) => {
      if (this.deps.layers.get(chains[i])) bars[i].status('Already exists');
      else {
        bars[i].status('Pulling fs layer');
        todo.push(i);
      }
    });
    // committed[i] settles when layer i is in the store (its parent first).
    const committed: Promise<void>[] = [];
    const slots = new Semaphore(CONCURRENT_DOWNLOADS);
    const tasks = chains.map((chain, i) => {
      const parent = i === 0 ? Promise.resolve() : committed[i - 1];
      if (!todo.includes(i)) {
        committed[i] = parent;
        return parent;
      }
      const shared = this.inflight.get(chain);
      const work = shared
        ? shared.then(() => parent)
        : (async () => {
          if (slots.busy) bars[i].status('Waiting');
          await slots.take();
          let unpacked;
          try {
            unpacked = await this.download(repo, descs[i], diffIds[i], bars[i]);
          } finally {
            slots.give();
          }
          try {
            await parent;
          } catch (e) {
            unpacked.abort();
            throw e;
          }
          unpacked.commit(i === 0 ? null : chains[i - 1]);
          this.deps.sources.remember(descs[i].digest, repo.host, repo.path);
          if (layerCompression(descs[i].mediaType) !== 'none') {
            this.deps.layers.recordBlob(diffIds[i], { digest: descs[i].digest, mediaType: descs[i].mediaType, size: descs[i].size });
          }
          bars[i].status('Pull complete');
        })();
      if (!shared) {
        this.inflight.set(chain, work);
        void work.then(() => this.inflight.delete(chain), () => this.inflight.delete(chain));
      }
      committed[i] = work;
      return work;
    });
    // Wait for all, then report the first failure (the others stop on their own).
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** One layer: registry → (compressed blob file, gunzip → GNU tar), checked on both sides. */
  private async download(repo: Repository, desc: Descriptor, diffId: Digest, bar: LayerProgress) {
    const compression = layerCompression(desc.mediaType);
    if (compression === undefined) throw invalid(`unsupported layer media type ${desc.mediaType}`);
    if (compression === 'zstd') throw invalid(`unsupported compression: zstd (layer ${desc.digest}; berth reads gzip and uncompressed layers)`);
    const content = this.deps.content;
    if (content.has(desc.digest)) {
      // Fetched before (an interrupted pull, or the same blob under another image).
      bar.status('Extracting');
      const local = content.createReadStream(desc.digest);
      return this.deps.layers.unpack(compression === 'gzip' ? decompress(local) : local, { keepTar: compression === 'none', diffId });
    }
    // An uncompressed layer is its own tar: unpack keeps it, no second copy.
    const blob = compression === 'gzip' ? content.writer() : undefined;
    let received = 0;
    const source = async function* (this: Puller): AsyncGenerator<Buffer> {
      for (let resumes = 0; ; resumes++) {
        try {
          // Socket reads are 16–64 KiB; 1 MiB pieces cut the per-chunk work downstream (file
          // writes, gunzip round trips, tar pipe) by that factor.
          for await (const chunk of coalesce(await repo.openBlob(desc.digest, received), 1 << 20)) {
            received += chunk.length;
            if (received > desc.size) throw invalid(`blob ${desc.digest} is longer than the ${desc.size} bytes its manifest says`);
            if (blob) await blob.write(chunk);
            bar.update(received);
            yield chunk;
          }
          if (received < desc.size) throw new TransportError(new URL(`blob:${desc.digest}`), 'GET', new Error(`connection ended after ${received} of ${desc.size} bytes`));
          return;
        } catch (e) {
          const broken = e instanceof TransportError || (e as NodeJS.ErrnoException).code === 'ECONNRESET' || /aborted|socket hang up|terminated/i.test(messageOf(e));
          if (!broken || resumes >= RESUMES) throw e;
          bar.status(`Retrying from ${received} bytes`);
          await new Promise((r) => setTimeout(r, 200 * (resumes + 1)));
        }
      }
    }.call(this);
    try {
      // Large layers unpack (gunzip included) on a worker thread: this one keeps the download
      // and its digest.
      const offThread = desc.size > 4 << 20 && compression === 'gzip';
      const tar = compression === 'gzip' && !offThread ? decompress(source) : source;
      const unpacked = await this.deps.layers.unpack(tar, { keepTar: compression === 'none', diffId, offThread });
      bar.status('Verifying Checksum');
      try {
        if (blob) await blob.commit({ digest: desc.digest, size: desc.size });
        else if (received !== desc.size) throw invalid(`size mismatch for ${desc.digest}: expected ${desc.size}, got ${received}`);
      } catch (e) {
        unpacked.abort();
        throw e;
      }
      bar.status('Download complete');
      return unpacked;
    } catch (e) {
      await blob?.abort();
      if (e instanceof BerthError && /^digest mismatch/.test(e.message)) {
        throw invalid(`filesystem layer verification failed for digest ${desc.digest}: ${e.message}`);
      }
      throw e;
    }
  }

  /** Docker's wording for a manifest that cannot be had. */
  private explain(e: unknown, ref: Reference): unknown {
    if (!(e instanceof BerthError)) return e;
    const name = familiarRepository(ref);
    if (e.kind === 'not-found' && ref.tag !== undefined) return new BerthError('not-found', `manifest for ${familiarName(ref)} not found: ${e.message.replace(/^.*? not found: /, '')}`);
    if ((e.kind === 'unauthorized' || e.kind === 'forbidden') && !/^Get "/.test(e.message)) {
      // Not 401: the docker CLI answers a 401 to a pull by prompting for a login.
      return new BerthError('not-found', `pull access denied for ${name}, repository does not exist or may require 'docker login': ${e.message}`);
    }
    return e;
  }
}

class Semaphore {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  get busy(): boolean {
    return this.used >= this.size;
  }
  async take(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

