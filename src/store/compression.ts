/**
 * Recognises a compressed stream by its magic bytes and yields the uncompressed bytes.
 * Docker accepts gzip, bzip2, xz and zstd layers; Node 20 has only gzip built in, so the
 * others get a clear error rather than a tar parse failure further down.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { invalid } from '../errors';
import { coalesce } from './stream-write';

const MAGIC_BYTES = 6;

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Yields the decompressed content of `source`, whatever of the supported formats it is in.
 * Written as an iterator rather than generators: an uncompressed stream (a build context, a
 * docker cp) then passes straight through to the source, and each chunk costs one call instead of
 * a hop through every nested generator (about 30 ms on a 50 MB context of 32 KiB chunks).
 */
export function decompress(source: AsyncIterable<Buffer>): AsyncIterableIterator<Buffer> {
  return new Decompressed(source[Symbol.asyncIterator]());
}

class Decompressed implements AsyncIterableIterator<Buffer> {
  /** The bytes read to sniff the format, yielded first when nothing decompresses them. */
  private head: Buffer | undefined;
  private body: AsyncIterator<Buffer> | undefined;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    if (!this.body) this.body = await this.open();
    if (this.head) {
      const value = this.head;
      this.head = undefined;
      return { done: false, value };
    }
    return this.body.next();
  }

  /** A consumer that stops early ends the source too (a file closes, a download stops). */
  async return(): Promise<IteratorResult<Buffer>> {
    this.head = undefined;
    await (this.body ?? this.source).return?.();
    return { done: true, value: undefined };
  }

  private async open(): Promise<AsyncIterator<Buffer>> {
    // The magic numbers are up to 6 bytes long and a network read can be shorter.
    let head = Buffer.alloc(0);
    while (head.length < MAGIC_BYTES) {
      const r = await this.source.next();
      if (r.done) break;
      head = Buffer.concat([head, r.value as Buffer]);
    }
    const kind = detectCompression(head);
    if (kind === 'none') {
      if (head.length > 0) this.head = head;
      return this.source;
    }
    if (kind !== 'gzip') {
      await this.source.return?.();
      throw invalid(`unsupported compression: ${kind} (berth reads gzip and uncompressed tars)`);
    }
    return gunzip(head, this.source);
  }
}

async function* gunzip(head: Buffer, it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  const whole = async function* (): AsyncGenerator<Buffer> {
    try {
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  };
  // 256 KiB output chunks: each chunk is a round trip to the threadpool, and layers are mostly
  // large files (stored or well-compressed blocks): 64 KiB gave 320 MB/s here, 256 KiB 840 MB/s.
  // It may work 4 MiB ahead of its reader, so decompression overlaps with what consumes it.
  const z = createGunzip({ chunkSize: 256 << 10, highWaterMark: 4 << 20 } as ZlibOptions);
  // Input is coalesced to 256 KiB too: network reads are 16–64 KiB, and each write is a round
  // trip. A failing source destroys gunzip with its error, which the loop below then throws.
  pipeline(Readable.from(coalesce(whole(), 256 << 10)), z).catch(() => {});
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (e) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR…) mean bad data; the source's keep their words.
    if (/^Z_/.test(String((e as NodeJS.ErrnoException).code))) throw invalid(`invalid gzip stream: ${(e as Error).message}`, e);
    throw e;
  } finally {
    z.destroy();
  }
}
