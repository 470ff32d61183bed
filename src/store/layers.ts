/**
 * Layers: an uncompressed tar (diff id) applied on a parent stack (chain id). Each layer is
 * unpacked once into a committed snapshot and kept as a blob in the content store (for save
 * and push). Rows in `layers` exist only for complete layers: the row is written after the
 * snapshot is committed, and start-up deletes snapshots without a row.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BerthError, invalid, messageOf } from '../errors';
import { type ContentStore, type Digest, sha256 } from './content-store';
import type { Db } from './db';
import { decompress } from './compression';
import { startExtraction } from './layer-apply';
import { writeTo } from './stream-write';
import type { OverlaySnapshotter } from './snapshots';
import { createTarValidator, UnsafeTarError } from './tar-validate';
import type { FromWorker, ToWorker } from './unpack-worker';

export interface Layer {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  size: number;
}

interface LayerRow {
  chain_id: Digest;
  diff_id: Digest;
  parent: Digest | null;
  size: number;
}

const toLayer = (r: LayerRow): Layer => ({ chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size });

export function chainIdOf(parent: Digest | null, diffId: Digest): Digest {
  return parent === null ? diffId : sha256(`${parent} ${diffId}`);
}

/** A compressed form of a layer the store holds (as pulled, or as made for a push). */
export interface LayerBlob {
  digest: Digest;
  mediaType: string;
  size: number;
}

/** A layer unpacked into a private directory: not yet part of the store. */
export interface UnpackedLayer {
  diffId: Digest;
  /** Bytes of file content. */
  size: number;
  /** Publishes it on `parent` (a chain id); an existing identical layer wins. */
  commit(parent: Digest | null): Layer;
  abort(): void;
}

export class LayerStore {
  constructor(
    private readonly db: Db,
    private readonly content: ContentStore,
    private readonly snapshots: OverlaySnapshotter,
  ) {}

  /** Unpacks `tar` (uncompressed bytes) on top of `parent`, keeping the tar as a blob. */
  async apply(parent: Digest | null, tar: AsyncIterable<Buffer>): Promise<Layer> {
    const unpacked = await this.unpack(tar, { keepTar: true });
    return unpacked.commit(parent);
  }

  /**
   * Unpacks `tar` (uncompressed bytes) into a private snapshot. The bytes go at once to a hasher
   * (the diff id; with `keepTar` also written as a blob), a path-safety validator and GNU tar,
   * so an unsafe or corrupt layer fails without a second pass and leaves nothing behind.
   * Layers that arrive compressed (pulls) skip the uncompressed copy: their compressed blob is
   * kept instead and `openTar` decompresses it when a save or a push needs the tar.
   */
  async unpack(tar: AsyncIterable<Buffer>, opts: { keepTar: boolean; diffId?: Digest; offThread?: boolean }): Promise<UnpackedLayer> {
    // Off the thread, the input may still be gzip: the worker decompresses it.
    if (opts.offThread && !opts.keepTar) return this.unpackOffThread(tar, opts.diffId);
    const blob: TarSink = opts.keepTar ? this.content.writer() : new DigestOnly();
    const validator = createTarValidator();
    const ingest = this.snapshots.ingest();
    const extraction = startExtraction(ingest.dir);
    let diffId: Digest;
    let size: number;
    try {
      let validatorError: unknown;
      validator.on('error', (e) => (validatorError ??= e));
      for await (const chunk of tar) {
        if (validatorError) throw validatorError;
        await Promise.all([blob.write(chunk), writeTo(validator, chunk), extraction.write(chunk)]);
      }
      validator.end();
      const summary = await validator.result;
      await extraction.finish();
      ({ digest: diffId } = await blob.commit(opts.diffId ? { digest: opts.diffId } : undefined));
      size = summary.bytes;
    } catch (e) {
      validator.destroy();
      await Promise.all([blob.abort(), extraction.abort()]);
      ingest.abort();
      if (e instanceof BerthError) throw e;
      // The validator's own words ("invalid tar entry …", "invalid tar archive: …") say it all.
      if (e instanceof UnsafeTarError || /^invalid tar/.test(messageOf(e))) throw invalid(messageOf(e), e);
      throw invalid(`invalid layer: ${messageOf(e)}`, e);
    }
    return this.unpacked(ingest, diffId, size);
  }

  /**
   * A layer whose files are already laid out as an unpacked layer (a build step's writable
   * snapshot, `dir`): `tar`, made from `dir`, is kept as its blob and names it, and `dir` itself
   * becomes the unpacked layer by a rename, so its bytes are not extracted a second time.
   */
  async adopt(parent: Digest | null, dir: string, tar: AsyncIterable<Buffer>): Promise<Layer> {
    const blob = this.content.writer();
    try {
      for await (const chunk of tar) await blob.write(chunk);
    } catch (e) {
      await blob.abort();
      throw e;
    }
    const { digest: diffId } = await blob.commit();
    const size = fileBytes(dir);
    return this.unpacked(this.snapshots.adopt(dir), diffId, size).commit(parent);
  }

  private unpacked(ingest: ReturnType<OverlaySnapshotter['ingest']>, diffId: Digest, size: number): UnpackedLayer {
    return {
      diffId,
      size,
      commit: (parent) => {
        const chainId = chainIdOf(parent, diffId);
        ingest.commit(chainId);
        this.db
          .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, created) VALUES (?, ?, ?, ?, ?)')
          .run(chainId, diffId, parent, size, new Date().toISOString());
        return this.get(chainId)!;
      },
      abort: () => ingest.abort(),
    };
  }

  /**
   * unpack() with the per-byte work (hash, validator, feeding tar) on a worker thread, for large
   * layers that arrive compressed: the caller's thread keeps the download and its digest.
   */
  private async unpackOffThread(tar: AsyncIterable<Buffer>, expected: Digest | undefined): Promise<UnpackedLayer> {
    const ingest = this.snapshots.ingest();
    const worker = takeWorker();
    let inflight = 0;
    let wake: (() => void) | undefined;
    let outcome: FromWorker | undefined;
    let crashed = false;
    let onMessage: (m: FromWorker) => void = () => {};
    let onGone: (e?: unknown) => void = () => {};
    const finished = new Promise<FromWorker>((resolve) => {
      onMessage = (m) => {
        if ('ack' in m) inflight -= m.ack;
        else {
          outcome = m;
          resolve(m);
        }
        wake?.();
      };
      onGone = (e) => {
        crashed = true;
        outcome ??= { error: e ? messageOf(e) : 'the unpacking thread exited', unsafe: false };
        resolve(outcome);
        wake?.();
      };
    });
    worker.on('message', onMessage);
    worker.on('error', onGone);
    worker.on('exit', onGone);
    const release = () => {
      worker.off('message', onMessage);
      worker.off('error', onGone);
      worker.off('exit', onGone);
    };
    const toWorker = (m: ToWorker) => worker.postMessage(m);
    toWorker({ start: ingest.dir });
    let result: FromWorker;
    try {
      for await (const chunk of tar) {
        if (outcome) break;
        toWorker(chunk);
        inflight += chunk.length;
        // At most 32 MiB in flight: the thread works ahead, memory stays bounded.
        while (inflight > 32 << 20 && !outcome) await new Promise<void>((r) => (wake = r));
      }
      if (!outcome) toWorker({ end: true });
      result = await finished;
    } catch (e) {
      if (!outcome) toWorker({ abort: true });
      await finished;
      release();
      giveBack(worker, crashed);
      ingest.abort();
      throw e;
    }
    release();
    giveBack(worker, crashed);
    if ('error' in result) {
      ingest.abort();
      throw invalid(result.unsafe ? result.error : `invalid layer: ${result.error}`);
    }
    if (!('done' in result)) throw new BerthError('internal', 'unexpected answer from the unpacking thread');
    const { diffId, size } = result.done;
    if (expected && expected !== diffId) {
      ingest.abort();
      throw invalid(`digest mismatch: expected ${expected}, got ${diffId}`);
    }
    return this.unpacked(ingest, diffId, size);
  }

  /** Remembers that `blob` decompresses to the layer tar `diffId`. */
  recordBlob(diffId: Digest, blob: LayerBlob): void {
    this.db.prepare('INSERT OR IGNORE INTO layer_blobs (digest, diff_id, media_type, size) VALUES (?, ?, ?, ?)').run(blob.digest, diffId, blob.mediaType, blob.size);
  }

  /** The compressed forms of `diffId` whose bytes are in the content store. */
  blobsOf(diffId: Digest): LayerBlob[] {
    const rows = this.db.prepare('SELECT digest, media_type, size FROM layer_blobs WHERE diff_id = ? ORDER BY rowid').all(diffId) as { digest: Digest; media_type: string; size: number }[];
    return rows.filter((r) => this.content.has(r.digest)).map((r) => ({ digest: r.digest, mediaType: r.media_type, size: r.size }));
  }

  /** The diff id a compressed blob stands for, if berth knows it. */
  diffIdOfBlob(digest: Digest): Digest | undefined {
    return (this.db.prepare('SELECT diff_id FROM layer_blobs WHERE digest = ?').get(digest) as { diff_id: Digest } | undefined)?.diff_id;
  }

  /** The uncompressed tar of a layer: its own blob, or a kept gzip form decompressed. */
  openTar(diffId: Digest): AsyncIterable<Buffer> {
    if (this.content.has(diffId)) return this.content.createReadStream(diffId);
    const gz = this.blobsOf(diffId).find((b) => b.mediaType.includes('gzip'));
    if (gz) {
      // decompress() stops reading when its consumer gives up but leaves the source open: close the file here.
      const file = this.content.createReadStream(gz.digest);
      return (async function* () {
        try {
          yield* decompress(file);
        } finally {
          file.destroy();
        }
      })();
    }
    throw new BerthError('not-found', `layer ${diffId} has no data in the store`);
  }

  /** Uncompressed size of a layer's tar, when the tar itself is kept. */
  tarSize(diffId: Digest): number | undefined {
    return this.content.has(diffId) ? this.content.size(diffId) : undefined;
  }

  get(chainId: Digest): Layer | undefined {
    const row = this.db.prepare('SELECT chain_id, diff_id, parent, size FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
    return row && toLayer(row);
  }

  /** The stack for mounting: this layer first, then its parents down to the base. */
  stack(chainId: Digest): Digest[] {
    const out: Digest[] = [];
    for (let id: Digest | null = chainId; id !== null; ) {
      const layer = this.get(id);
      if (!layer) throw invalid(`layer ${id} is missing from the store`);
      out.push(layer.chainId);
      id = layer.parent;
    }
    return out;
  }

  /** Deletes a layer no image uses, then its parents while they are unused too. */
  releaseUnused(chainId: Digest, inUse: (chainId: Digest) => boolean): void {
    for (let id: Digest | null = chainId; id !== null && !inUse(id); ) {
      const layer = this.get(id);
      if (!layer) return;
      const children = this.db.prepare('SELECT count(*) AS n FROM layers WHERE parent = ?').get(id) as { n: number };
      if (children.n > 0) return;
      this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(id);
      this.snapshots.removeCommitted(id);
      const shared = this.db.prepare('SELECT count(*) AS n FROM layers WHERE diff_id = ?').get(layer.diffId) as { n: number };
      if (shared.n === 0) this.forgetData(layer.diffId);
      id = layer.parent;
    }
  }

  /** Deletes the tar and every compressed form of a diff id no layer has any more. */
  private forgetData(diffId: Digest): void {
    const blobs = this.db.prepare('SELECT digest FROM layer_blobs WHERE diff_id = ?').all(diffId) as { digest: Digest }[];
    this.db.prepare('DELETE FROM layer_blobs WHERE diff_id = ?').run(diffId);
    for (const b of blobs) this.content.delete(b.digest);
    this.content.delete(diffId);
  }

  /** Chain ids of every complete layer, for start-up reconciliation. */
  all(): Digest[] {
    return (this.db.prepare('SELECT chain_id FROM layers').all() as { chain_id: Digest }[]).map((r) => r.chain_id);
  }
}

/** Idle unpacking threads, kept for the next large layer (they do not hold the process open). */
const idleWorkers: Worker[] = [];
const MAX_IDLE_WORKERS = 3;

function takeWorker(): Worker {
  const w = idleWorkers.pop() ?? new Worker(join(__dirname, 'unpack-worker.js'));
  w.ref();
  return w;
}

function giveBack(w: Worker, broken: boolean): void {
  if (broken || idleWorkers.length >= MAX_IDLE_WORKERS) {
    void w.terminate();
    return;
  }
  w.unref();
  idleWorkers.push(w);
}

/** What a layer's bytes are hashed into: a blob writer, or only a hash when no copy is kept. */
interface TarSink {
  write(chunk: Buffer): Promise<void>;
  commit(expected?: { digest?: Digest }): Promise<{ digest: Digest }>;
  abort(): Promise<void>;
}

class DigestOnly implements TarSink {
  private readonly hash = createHash('sha256');
  write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    return Promise.resolve();
  }
  commit(expected?: { digest?: Digest }): Promise<{ digest: Digest }> {
    const digest: Digest = `sha256:${this.hash.digest('hex')}`;
    if (expected?.digest && expected.digest !== digest) return Promise.reject(invalid(`digest mismatch: expected ${expected.digest}, got ${digest}`));
    return Promise.resolve({ digest });
  }
  abort(): Promise<void> {
    return Promise.resolve();
  }
}

/** Bytes of regular files under `dir` (a layer's size, as the tar validator counts it). */
function fileBytes(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += fs.lstatSync(p).size;
    }
  }
  return total;
}
