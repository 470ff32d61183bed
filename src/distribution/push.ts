/**
 * Push: for each layer, the cheapest way to get its blob into the repository: already there
 * (HEAD), mounted from another repository of the same registry where berth has seen it, an
 * upload of the compressed blob berth keeps, or — for layers made here — gzip on every core
 * streamed straight into the upload while the same bytes land in the content store (so the next
 * push of the layer, to any registry, sends identical bytes). Then the config and a Docker
 * schema 2 manifest.
 */
import { BerthError, invalid } from '../errors';
import { type ContentStore, type Digest, sha256 } from '../store/content-store';
import type { LayerBlob, LayerStore } from '../store/layers';
import { gzipParallel } from '../store/parallel-gzip';
import { familiarName, type Reference, repositoryName } from '../wire/reference';
import type { Credentials } from './auth';
import type { ConfigSummary, ImageEvents, LocalImages } from './local-images';
import type { BlobSources } from './blob-sources';
import { type Descriptor, MediaType } from './manifest';
import { LayerProgress, type ProgressSink } from './progress';
import { type Registries, Repository } from './registry';

export interface PushDeps {
  sources: BlobSources;
  registries: Registries;
  images: LocalImages;
  layers: LayerStore;
  content: ContentStore;
  events: ImageEvents;
}

export interface PushRequest {
  /** Normalized; without a tag, every tag of the repository is pushed. */
  ref: Reference;
  creds: Credentials;
  progress: ProgressSink;
}

const CONCURRENT_UPLOADS = 5;
const ATTEMPTS = 3;

export class Pusher {
  constructor(private readonly deps: PushDeps) {}

  async push(req: PushRequest): Promise<void> {
    const { ref, progress } = req;
    const targets = ref.tag !== undefined
      ? [{ ref, id: this.deps.images.lookup(familiarName(ref))?.id }]
      : this.deps.images.tagsInRepository(ref);
    if (targets.length === 0 || targets.some((t) => !t.id)) {
      throw new BerthError('not-found', `An image does not exist locally with the tag: ${familiarName({ domain: ref.domain, path: ref.path })}`);
    }
    const [endpoint] = await this.deps.registries.endpoints(ref.domain, true);
    const repo = new Repository(this.deps.registries, endpoint, ref.path, req.creds, 'pull,push');
    progress({ status: `The push refers to repository [${repositoryName(ref)}]` });
    for (const t of targets) await this.pushImage(repo, t.ref, t.id as Digest, progress);
  }

  private async pushImage(repo: Repository, ref: Reference, id: Digest, progress: ProgressSink): Promise<void> {
    const configBytes = this.deps.content.readSmall(id);
    const config = JSON.parse(configBytes.toString('utf8')) as ConfigSummary;
    const diffIds = config.rootfs?.diff_ids ?? [];
    const bars = diffIds.map((d) => new LayerProgress(progress, d.slice(7, 19), 'Pushing', this.deps.layers.tarSize(d) ?? 0));
    for (const b of bars) b.status('Preparing');
    const lease = this.deps.content.lease();
    try {
      // Shared layers within one image (the same diff id twice) upload once.
      const once = new Map<Digest, Promise<Descriptor>>();
      let running = 0;
      const waiters: (() => void)[] = [];
      const layers = await Promise.all(diffIds.map((diffId, i) => {
        let p = once.get(diffId);
        if (!p) {
          p = (async () => {
            if (running >= CONCURRENT_UPLOADS) {
              bars[i].status('Waiting');
              await new Promise<void>((r) => waiters.push(r));
            }
            running++;
            try {
              return await this.pushLayer(repo, diffId, bars[i], lease);
            } finally {
              running--;
              waiters.shift()?.();
            }
          })();
          once.set(diffId, p);
        }
        return p;
      }));
      const configDesc: Descriptor = { mediaType: MediaType.dockerConfig, digest: id, size: configBytes.length };
      if (!(await repo.blobExists(id))) {
        const location = await repo.startUpload();
        await repo.finishUpload(location, id, configBytes);
      }
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: configDesc,
        layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
      }, null, 3));
      const tag = ref.tag ?? 'latest';
      await repo.putManifest(tag, manifest, MediaType.dockerManifest);
      const digest = sha256(manifest);
      this.deps.images.addRepoDigest({ domain: ref.domain, path: ref.path }, digest, id);
      progress({ status: `${tag}: digest: ${digest} size: ${manifest.length}` });
      progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.length } });
      this.deps.events.emit('image', 'push', familiarName(ref), {});
    } finally {
      lease.release();
    }
  }

  private async pushLayer(repo: Repository, diffId: Digest, bar: LayerProgress, lease: { add(d: Digest): void }): Promise<Descriptor> {
    const registry = repo.host;
    for (let attempt = 1; ; attempt++) {
      try {
        const kept = this.deps.layers.blobsOf(diffId).filter((b) => b.mediaType.includes('gzip'));
        for (const b of kept) lease.add(b.digest);
        for (const b of kept) {
          if (await repo.blobExists(b.digest)) {
            this.deps.sources.remember(b.digest, registry, repo.path);
            bar.status('Layer already exists');
            return descriptorOf(b);
          }
        }
        let location: URL | undefined;
        for (const b of kept) {
          for (const from of this.deps.sources.elsewhere(b.digest, registry, repo.path)) {
            repo.addPullScope(from);
            location = await repo.mountBlob(b.digest, from);
            if (!location) {
              this.deps.sources.remember(b.digest, registry, repo.path);
              bar.status(`Mounted from ${from}`);
              return descriptorOf(b);
            }
            break;
          }
          if (location) break;
        }
        location ??= await repo.startUpload();
        const blob = kept[0] ?? (await this.uploadCompressing(repo, location, diffId, bar));
        if (kept[0]) await this.uploadKept(repo, location, blob, bar);
        this.deps.sources.remember(blob.digest, registry, repo.path);
        bar.status('Pushed');
        return descriptorOf(blob);
      } catch (e) {
        if (attempt >= ATTEMPTS || (e instanceof BerthError && ['unauthorized', 'forbidden', 'not-found', 'invalid'].includes(e.kind))) throw e;
        bar.status(`Retrying in ${attempt} second${attempt > 1 ? 's' : ''}`);
        await new Promise((r) => setTimeout(r, attempt * 1000));
      }
    }
  }

  /** A kept blob, monolithic: its size and digest are known, so one PUT carries it. */
  private async uploadKept(repo: Repository, location: URL, blob: LayerBlob, bar: LayerProgress): Promise<void> {
    const content = this.deps.content;
    const counted = async function* (): AsyncGenerator<Buffer> {
      let sent = 0;
      for await (const c of content.createReadStream(blob.digest)) {
        sent += (c as Buffer).length;
        bar.update(sent);
        yield c as Buffer;
      }
    };
    await repo.finishUpload(location, blob.digest, counted, blob.size);
  }

  /** Compresses the layer's tar on every core into one streamed PATCH and the content store. */
  private async uploadCompressing(repo: Repository, location: URL, diffId: Digest, bar: LayerProgress): Promise<LayerBlob> {
    const writer = this.deps.content.writer();
    const layers = this.deps.layers;
    try {
      let read = 0;
      const counted = async function* (): AsyncGenerator<Buffer> {
        for await (const c of layers.openTar(diffId)) {
          read += c.length;
          bar.update(read);
          yield c;
        }
      };
      const body = async function* (): AsyncGenerator<Buffer> {
        for await (const gz of gzipParallel(counted())) {
          await writer.write(gz);
          yield gz;
        }
      };
      let opened = false;
      const next = await repo.uploadChunk(location, () => {
        // The PATCH is sent once: a retry starts the layer again from the top.
        if (opened) throw invalid('internal: upload body opened twice');
        opened = true;
        return body();
      });
      const { digest, size } = await writer.commit();
      // Recorded at once: from here the blob belongs to its layer, also for garbage collection.
      const blob = { digest, mediaType: MediaType.dockerLayer, size };
      layers.recordBlob(diffId, blob);
      await repo.finishUpload(next, digest);
      return blob;
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }
}

function descriptorOf(b: LayerBlob): Descriptor {
  return { mediaType: MediaType.dockerLayer, digest: b.digest, size: b.size };
}
