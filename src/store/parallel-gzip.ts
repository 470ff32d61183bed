/**
 * gzip on every core, the way pigz does it: the input is cut into blocks, each block becomes raw
 * deflate on libuv's threadpool, and the pieces are joined into ONE gzip member. A block ends with
 * a sync flush (byte-aligned, not final), so the pieces concatenate into one valid deflate stream;
 * it is primed with the 32 KiB of input before it (the most deflate can refer back to), so the
 * ratio stays within a fraction of a percent of a single stream.
 *
 *   header (10 bytes) | block 1 | block 2 | … | 03 00 (empty final block) | CRC32 | ISIZE
 *
 * The bytes depend only on the input and the options, never on timing or chunk boundaries: the
 * blob digest of a layer is computed over them.
 */
import { availableParallelism } from 'node:os';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

export interface GzipOptions {
  /** zlib level, 0–9; -1 or absent means 6, the level Docker (Go's compress/gzip) uses. */
  level?: number;
  /** Bytes of input per block (default 1 MiB). */
  blockSize?: number;
  /** Blocks compressing at once (default: cores + 1, at most UV_THREADPOOL_SIZE - 1). */
  concurrency?: number;
}

const DEFAULT_LEVEL = 6;
const DEFAULT_BLOCK = 1 << 20;
const WINDOW = 32 << 10;
// Random bytes deflate at ~40 MB/s per core even at level 1; stored blocks cost a memcpy. The
// decision looks at 32 KiB per block, taken from four places so that a block holding both an
// image and some text is not stored whole.
const SAMPLES = 4;
const SAMPLE_BYTES = 8 << 10;
// Level 1 gets random bytes to just above 100% and even poorly compressible text well below 97%.
const STORE_RATIO = 0.97;
const LOW_ENTROPY = 7.5;
// A final fixed-Huffman block holding only end-of-block: what zlib emits for Z_FINISH with no input.
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * Yields the gzip form of `input`. Input is pulled only as the consumer pulls output, and at most
 * 2 x concurrency blocks (input and output) are held at any time.
 */
export async function* gzipParallel(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: GzipOptions = {},
): AsyncGenerator<Buffer> {
  const level = opts.level === undefined || opts.level === -1 ? DEFAULT_LEVEL : opts.level;
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK;
  const concurrency = opts.concurrency ?? defaultConcurrency();
  check('level', level, 0, 9);
  check('blockSize', blockSize, 1, 1 << 30);
  check('concurrency', concurrency, 1, 1024);
  // Finished blocks wait here for the ones before them, so one slow block does not idle a core.
  const maxQueued = 2 * concurrency;

  yield header(level);
  const queue: Job[] = [];
  let crc = 0;
  let size = 0;
  let window: Buffer | undefined;
  for await (const block of blocks(input, blockSize)) {
    // Wait for a free thread, handing out finished blocks meanwhile.
    while (running(queue) >= concurrency || queue.length >= maxQueued) {
      if (queue[0].done) yield await queue.shift()!.output;
      else await Promise.race(queue.filter((j) => !j.done).map((j) => j.settled));
    }
    crc = crc32(block, crc);
    size = (size + block.length) >>> 0;
    const dictionary = window;
    queue.push(startJob(onThread(() => deflateBlock(block, dictionary, level))));
    window = lastWindow(window, block);
    // Only now, with every thread given work, let the consumer take its time.
    while (queue.length > 0 && queue[0].done) yield await queue.shift()!.output;
  }
  for (let job = queue.shift(); job; job = queue.shift()) yield await job.output;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}

interface Job {
  output: Promise<Buffer>;
  /** Never rejects: `output` carries the error, to be thrown when the job's turn comes. */
  settled: Promise<void>;
  done: boolean;
}

function startJob(output: Promise<Buffer>): Job {
  const job: Job = { output, settled: Promise.resolve(), done: false };
  const finish = () => {
    job.done = true;
  };
  job.settled = output.then(finish, finish);
  return job;
}

const running = (queue: Job[]) => queue.reduce((n, j) => (j.done ? n : n + 1), 0);

// libuv's threadpool also serves fs and dns.lookup; if compressions held every thread, the tar
// feeding us (and the rest of the daemon) would wait for whole blocks. So all gzipParallel calls
// together (a push sends several layers at once) use at most all threads but one.
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const threads = { free: Math.max(1, POOL - 1), waiting: [] as (() => void)[] };

async function onThread<T>(work: () => Promise<T>): Promise<T> {
  if (threads.free > 0) threads.free--;
  else await new Promise<void>((resolve) => threads.waiting.push(resolve));
  try {
    return await work();
  } finally {
    const next = threads.waiting.shift();
    if (next) next();
    else threads.free++;
  }
}

/**
 * One block more than cores: a block makes two or three threadpool round trips, and with only as
 * many blocks as cores the cores idled between them (1.6 of 2 cores busy, text at level 1; 1.9 with
 * one more).
 */
function defaultConcurrency(): number {
  return Math.max(1, Math.min(availableParallelism() + 1, POOL - 1));
}

function check(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`gzip ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** mtime 0 and no name keep the bytes reproducible; XFL and OS as Go's compress/gzip writes them. */
function header(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
}

/** Re-cuts the input into blocks of exactly `size` bytes (the last may be shorter). */
async function* blocks(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of input) {
    let rest = chunk;
    while (length + rest.length >= size) {
      if (length === 0) {
        // A whole block inside one input chunk (1 MiB file reads): no copy. Input chunks are
        // never reused by their producers (streams hand out fresh buffers).
        yield Buffer.from(rest.buffer, rest.byteOffset, size);
        rest = rest.subarray(size);
        continue;
      }
      const take = size - length;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      length = 0;
      rest = rest.subarray(take);
    }
    if (rest.length > 0) {
      parts.push(rest);
      length += rest.length;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/** The last 32 KiB of input so far; blocks smaller than the window need the ones before. */
function lastWindow(prev: Buffer | undefined, block: Buffer): Buffer {
  if (block.length >= WINDOW || !prev) return block.subarray(-WINDOW);
  return Buffer.concat([prev, block]).subarray(-WINDOW);
}

async function deflateBlock(block: Buffer, window: Buffer | undefined, level: number): Promise<Buffer> {
  const chosen = level > 0 && (await incompressible(block)) ? 0 : level;
  // One output buffer big enough for the whole block: zlib's 16 KiB default would cost a
  // threadpool round trip per 16 KiB of output. Stored data grows by 5 bytes per 64 KiB.
  const options: ZlibOptions = {
    level: chosen,
    finishFlush: constants.Z_SYNC_FLUSH,
    chunkSize: block.length + (block.length >> 10) + 64,
  };
  if (window && chosen > 0) options.dictionary = window;
  return deflate(block, options);
}

async function incompressible(block: Buffer): Promise<boolean> {
  let sample = block;
  if (block.length > SAMPLES * SAMPLE_BYTES) {
    const step = Math.floor((block.length - SAMPLE_BYTES) / (SAMPLES - 1));
    const parts = Array.from({ length: SAMPLES }, (_, i) => block.subarray(i * step, i * step + SAMPLE_BYTES));
    sample = Buffer.concat(parts);
  }
  // Below 7.5 bits per byte, Huffman coding alone gets under 97%: the common case (text, code)
  // skips the zlib call, whose set-up and work cost ~5% of the CPU time of text at level 1.
  if (byteEntropy(sample) < LOW_ENTROPY) return false;
  // High entropy can still hide repeats that deflate finds: only deflate can tell.
  const out = await deflate(sample, { level: 1, chunkSize: sample.length + 1024 });
  return out.length >= sample.length * STORE_RATIO;
}

/** Shannon entropy of the byte values, in bits per byte. */
function byteEntropy(data: Buffer): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < data.length; i++) counts[data[i]]++;
  let bits = 0;
  for (const n of counts) if (n > 0) bits -= n * Math.log2(n / data.length);
  return bits / data.length;
}

function deflate(data: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out))));
}
