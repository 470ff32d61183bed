/**
 * Content-addressed blobs: <root>/blobs/sha256/<hex>. Writers stream into <root>/ingest/,
 * hashing as they go, and publish with one rename once the digest is known (and, when the
 * caller expected one, verified). A blob is therefore either whole or absent; a crash leaves
 * only ingest files, which open() sweeps.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, invalid } from '../errors';

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw invalid(`invalid digest "${s}"`);
  return s;
}

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export class ContentStore {
  /** Blobs a transfer in progress is writing or relies on: garbage collection keeps them. */
  private readonly leases = new Map<Digest, number>();

  private constructor(private readonly root: string) {}

  /** Protects `digests` from garbage collection until the returned function is called. */
  lease(): { add(d: Digest): void; release(): void } {
    const held: Digest[] = [];
    return {
      add: (d) => {
        held.push(d);
        this.leases.set(d, (this.leases.get(d) ?? 0) + 1);
      },
      release: () => {
        for (const d of held.splice(0)) {
          const n = (this.leases.get(d) ?? 1) - 1;
          if (n > 0) this.leases.set(d, n);
          else this.leases.delete(d);
        }
      },
    };
  }

  isLeased(d: Digest): boolean {
    return this.leases.has(d);
  }

  /** Every published blob. */
  list(): Digest[] {
    return fs.readdirSync(join(this.root, 'blobs', 'sha256')).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  static open(root: string): ContentStore {
    fs.mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    fs.rmSync(join(root, 'ingest'), { recursive: true, force: true });
    fs.mkdirSync(join(root, 'ingest'), { recursive: true });
    return new ContentStore(root);
  }

  path(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', digest.slice(7));
  }

  has(digest: Digest): boolean {
    return fs.existsSync(this.path(digest));
  }

  size(digest: Digest): number {
    return fs.statSync(this.path(digest)).size;
  }

  /** Small blobs only (configs, manifests): the caller states the cap. */
  readSmall(digest: Digest, maxBytes = 4 << 20): Buffer {
    const p = this.path(digest);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new BerthError('not-found', `content ${digest} not found`);
    }
    if (st.size > maxBytes) throw invalid(`content ${digest} is ${st.size} bytes, over the ${maxBytes} limit`);
    return fs.readFileSync(p);
  }

  createReadStream(digest: Digest): fs.ReadStream {
    // 1 MiB reads: each read is a threadpool round trip, and blobs are read whole (3x faster
    // than the 64 KiB default for a 100 MB layer).
    return createReadStream(this.path(digest), { highWaterMark: 1 << 20 });
  }

  /** Writes a small blob whole; an existing blob with that digest counts as success. */
  putSmall(data: Buffer | string): Digest {
    const digest = sha256(data);
    if (this.has(digest)) return digest;
    const tmp = this.ingestPath();
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, this.path(digest));
    return digest;
  }

  writer(): BlobWriter {
    return new BlobWriter(this.ingestPath(), (d) => this.path(d));
  }

  delete(digest: Digest): void {
    fs.rmSync(this.path(digest), { force: true });
  }

  private ingestPath(): string {
    return join(this.root, 'ingest', randomBytes(8).toString('hex'));
  }
}

/** Streams a blob to disk while hashing it; commit() publishes it under its digest. */
export class BlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly out: WriteStream;
  private bytes = 0;
  private done = false;

  private failure: Error | undefined;

  constructor(
    private readonly tmp: string,
    private readonly finalPath: (d: Digest) => string,
  ) {
    this.out = createWriteStream(tmp);
    // Always listened for: an error with no listener (a write still in flight when abort()
    // destroys the stream) would be an uncaught exception and take the daemon down.
    this.out.on('error', (e) => (this.failure ??= e));
  }

  get size(): number {
    return this.bytes;
  }

  /** Resolves once the chunk is queued below the high-water mark (honours backpressure). */
  write(chunk: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.done) return Promise.reject(new Error('blob writer already finished'));
    this.hash.update(chunk);
    this.bytes += chunk.length;
    // Up to 8 MiB may queue before the writer waits: disk writes then overlap with the rest.
    if (this.out.write(chunk) || this.out.writableLength < 8 << 20) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => { this.out.off('error', onError); resolve(); };
      const onError = (e: Error) => { this.out.off('drain', onDrain); reject(e); };
      this.out.once('drain', onDrain);
      this.out.once('error', onError);
    });
  }

  async commit(expected?: { digest?: Digest; size?: number }): Promise<{ digest: Digest; size: number }> {
    this.done = true;
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const digest: Digest = `sha256:${this.hash.digest('hex')}`;
    if (expected?.digest && expected.digest !== digest) {
      fs.rmSync(this.tmp, { force: true });
      throw invalid(`digest mismatch: expected ${expected.digest}, got ${digest}`);
    }
    if (expected?.size !== undefined && expected.size !== this.bytes) {
      fs.rmSync(this.tmp, { force: true });
      throw invalid(`size mismatch for ${digest}: expected ${expected.size}, got ${this.bytes}`);
    }
    fs.renameSync(this.tmp, this.finalPath(digest));
    return { digest, size: this.bytes };
  }

  /** Discards the partial blob. The file may still be opening: remove it once the stream closed. */
  abort(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    const removed = new Promise<void>((resolve) => {
      const rm = () => {
        fs.rmSync(this.tmp, { force: true });
        resolve();
      };
      if (this.out.closed) rm();
      else this.out.once('close', rm);
    });
    this.out.destroy();
    return removed;
  }
}
