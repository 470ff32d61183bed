/**
 * Layers: an uncompressed tar (diff id) applied on a parent stack (chain id). Each layer is
 * unpacked once into a committed snapshot and kept as a blob in the content store (for save
 * and push). Rows in `layers` exist only for complete layers: the row is written after the
 * snapshot is committed, and start-up deletes snapshots without a row.
 */
import type { Writable } from 'node:stream';
import { BerthError, invalid, messageOf } from '../errors';
import { type ContentStore, type Digest, sha256 } from './content-store';
import type { Db } from './db';
import { startExtraction } from './layer-apply';
import type { OverlaySnapshotter } from './snapshots';
import { createTarValidator, UnsafeTarError } from './tar-validate';

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

export class LayerStore {
  constructor(
    private readonly db: Db,
    private readonly content: ContentStore,
    private readonly snapshots: OverlaySnapshotter,
  ) {}

  /**
   * Unpacks `tar` (uncompressed bytes) on top of `parent`. The bytes go at once to the blob
   * writer (which hashes them: the diff id), a path-safety validator and GNU tar, so an unsafe
   * or corrupt layer fails without a second pass and leaves nothing behind.
   */
  async apply(parent: Digest | null, tar: AsyncIterable<Buffer>): Promise<Layer> {
    const blob = this.content.writer();
    const validator = createTarValidator();
    const ingest = this.snapshots.ingest();
    const extraction = startExtraction(ingest.dir);
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
      const { digest: diffId } = await blob.commit();
      const chainId = chainIdOf(parent, diffId);
      ingest.commit(chainId);
      this.db
        .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, created) VALUES (?, ?, ?, ?, ?)')
        .run(chainId, diffId, parent, summary.bytes, new Date().toISOString());
      return this.get(chainId)!;
    } catch (e) {
      validator.destroy();
      await Promise.all([blob.abort(), extraction.abort()]);
      ingest.abort();
      if (e instanceof BerthError) throw e;
      // The validator's own words ("invalid tar entry …", "invalid tar archive: …") say it all.
      if (e instanceof UnsafeTarError || /^invalid tar/.test(messageOf(e))) throw invalid(messageOf(e), e);
      throw invalid(`invalid layer: ${messageOf(e)}`, e);
    }
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
      if (shared.n === 0) this.content.delete(layer.diffId);
      id = layer.parent;
    }
  }

  /** Chain ids of every complete layer, for start-up reconciliation. */
  all(): Digest[] {
    return (this.db.prepare('SELECT chain_id FROM layers').all() as { chain_id: Digest }[]).map((r) => r.chain_id);
  }
}

function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (w.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => { w.off('error', onError); w.off('close', onDrain); resolve(); };
    const onError = (e: Error) => { w.off('drain', onDrain); reject(e); };
    w.once('drain', onDrain);
    w.once('close', onDrain);
    w.once('error', onError);
  });
}
