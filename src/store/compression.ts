/**
 * Recognises a compressed stream by its magic bytes and yields the uncompressed bytes.
 * Docker accepts gzip, bzip2, xz and zstd layers; Node 20 has only gzip built in, so the
 * others get a clear error rather than a tar parse failure further down.
 */
import { createGunzip } from 'node:zlib';
import { invalid } from '../errors';

const MAGIC_BYTES = 6;

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Yields the decompressed content of `source`, whatever of the supported formats it is in. */
export async function* decompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  // The magic numbers are up to 6 bytes long and a network read can be shorter.
  let head = Buffer.alloc(0);
  while (head.length < MAGIC_BYTES) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value as Buffer]);
  }
  if (head.length === 0) return;
  const kind = detectCompression(head);
  if (kind === 'none') {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    return;
  }
  if (kind !== 'gzip') throw invalid(`unsupported compression: ${kind} (berth reads gzip and uncompressed tars)`);
  // 64 KiB output chunks: twice the throughput of zlib's default 16 KiB (notes/storage.md).
  const gunzip = createGunzip({ chunkSize: 65536 });
  // Resolves on 'close' too, so a consumer that gives up never leaves the feeder waiting.
  const drained = () => new Promise((r) => { gunzip.once('drain', r); gunzip.once('close', r); });
  void (async () => {
    try {
      if (!gunzip.write(head)) await drained();
      for (let r = await it.next(); !r.done && !gunzip.destroyed; r = await it.next()) {
        if (!gunzip.write(r.value)) await drained();
      }
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e as Error);
    }
  })();
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (e) {
    throw invalid(`invalid gzip stream: ${(e as Error).message}`, e);
  } finally {
    gunzip.destroy();
  }
}
