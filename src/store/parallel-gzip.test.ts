import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { gzipParallel, type GzipOptions } from './parallel-gzip';

const KiB = 1024;
const MiB = 1024 * KiB;

async function gzip(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: GzipOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of gzipParallel(input, opts)) out.push(c);
  return Buffer.concat(out);
}

/** Cuts `buf` into chunks whose sizes cycle through `sizes`. */
function chunked(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const size = sizes[k % sizes.length];
    out.push(buf.subarray(i, i + size));
    i += size;
  }
  return out;
}

/** Source-code-like text, reproducible (a small LCG picks the words). */
function text(bytes: number): Buffer {
  const words = ['const', 'return', 'await', 'layer', 'digest', 'buffer', 'snapshot', 'mount', '=>', '{', '}', 'if', '(err)', 'this.store'];
  const lines: string[] = [];
  let seed = 1;
  for (let n = 0; n < bytes; ) {
    let line = '';
    for (let w = 0; w < 8; w++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      line += words[seed % words.length] + ' ';
    }
    lines.push(line);
    n += line.length + 1;
  }
  return Buffer.from(lines.join('\n')).subarray(0, bytes);
}

/** One member and nothing else: the raw deflate ends exactly where the 8-byte trailer starts. */
function assertSingleMember(gz: Buffer, input: Buffer): void {
  assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'deflate, no flags (no name, no extra)');
  assert.equal(gz.readUInt32LE(4), 0, 'mtime 0');
  const { buffer, engine } = inflateRawSync(gz.subarray(10), { info: true }) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  assert.ok(buffer.equals(input));
  assert.equal(engine.bytesWritten, gz.length - 18, 'the final deflate block ends just before the trailer');
  assert.equal(gz.readUInt32LE(gz.length - 8), crc32(input));
  assert.equal(gz.readUInt32LE(gz.length - 4), input.length % 2 ** 32);
}

describe('gzipParallel', () => {
  it('round-trips empty, tiny, one-block and many-block inputs', async () => {
    const mixed = Buffer.concat([text(3 * MiB), randomBytes(MiB + 7)]);
    const cases: [string, Buffer[]][] = [
      ['empty', []],
      ['tiny', [Buffer.from('x')]],
      ['exactly one block', chunked(text(MiB), [65536])],
      ['many blocks, odd chunks', chunked(mixed, [1, 7, 4093, 65537, 200_001, 3 * MiB])],
    ];
    for (const [name, chunks] of cases) {
      const input = Buffer.concat(chunks);
      const gz = await gzip(chunks);
      assert.ok(gunzipSync(gz).equals(input), name);
      assertSingleMember(gz, input);
    }
  });

  it('keeps the 32 KiB window across blocks smaller than the window', async () => {
    const input = text(200 * KiB);
    const gz = await gzip([input], { blockSize: 1000 });
    assertSingleMember(gz, input);
    assert.ok(gz.length < gzipSync(input).length * 1.5, `${gz.length} bytes`);
  });

  it('compresses text about as well as one zlib stream', async () => {
    const input = text(4 * MiB);
    for (const level of [1, 6]) {
      const gz = await gzip(chunked(input, [10_000]), { level });
      const single = gzipSync(input, { level }).length;
      assert.ok(gz.length / input.length < 0.5, `level ${level}: ratio ${gz.length / input.length}`);
      assert.ok(gz.length < single * 1.01, `level ${level}: ${gz.length} vs ${single} for one stream`);
    }
  });

  it('stores random data with at most 0.1% overhead', async () => {
    const input = randomBytes(5 * MiB + 3);
    const gz = await gzip(chunked(input, [65536]));
    assert.ok(gunzipSync(gz).equals(input));
    assert.ok(gz.length <= input.length * 1.001, `${gz.length - input.length} bytes over`);
  });

  it('spends far less CPU on random data than deflating it would', async () => {
    // Level 1 deflates random bytes at ~40 MB per CPU-second; stored blocks pass 200-400. CPU time,
    // unlike wall time, hardly moves when other processes load the machine.
    const input = randomBytes(32 * MiB);
    const before = process.cpuUsage();
    await gzip(chunked(input, [65536]), { level: 6 });
    const used = process.cpuUsage(before);
    const seconds = (used.user + used.system) / 1e6;
    assert.ok(input.length / 1e6 / seconds > 80, `${(input.length / 1e6 / seconds).toFixed(0)} MB per CPU-second`);
  });

  it('compresses a block that is half random, half text', async () => {
    const input = Buffer.concat([randomBytes(512 * KiB), text(512 * KiB)]);
    const gz = await gzip([input]);
    assert.ok(gunzipSync(gz).equals(input));
    assert.ok(gz.length < input.length * 0.6, `ratio ${gz.length / input.length}`);
  });

  it('compresses bytes that look random but repeat', async () => {
    const input = Buffer.concat(Array(256).fill(randomBytes(4 * KiB)));
    const gz = await gzip([input]);
    assert.ok(gunzipSync(gz).equals(input));
    assert.ok(gz.length < input.length * 0.1, `ratio ${gz.length / input.length}`);
  });

  it('gives the same bytes whatever the chunking and concurrency', async () => {
    const input = Buffer.concat([text(2 * MiB), randomBytes(MiB), text(MiB + 1)]);
    const first = await gzip([input]);
    assert.ok((await gzip([input])).equals(first));
    assert.ok((await gzip(chunked(input, [1, 999, 65536, 77_777]))).equals(first));
    assert.ok((await gzip([input], { concurrency: 1 })).equals(first));
    assert.ok((await gzip([input], { concurrency: 5 })).equals(first));
  });

  it('is accepted by gunzip(1)', { skip: spawnSync('gunzip', ['--version']).status !== 0 }, async () => {
    const input = Buffer.concat([text(3 * MiB), randomBytes(2 * MiB)]);
    for (const level of [0, 1, 6, 9]) {
      const r = spawnSync('gunzip', ['-c'], { input: await gzip([input], { level }), maxBuffer: 64 * MiB });
      assert.equal(r.status, 0, r.stderr.toString());
      assert.ok(r.stdout.equals(input), `level ${level}`);
    }
  });

  it('leaves a libuv thread for fs calls while several compressions run', async () => {
    const input = text(4 * MiB);
    const solo = await gzip([input], { level: 9 });
    let finished = false;
    const all = Promise.all(Array.from({ length: 4 }, () => gzip(chunked(input, [65536]), { level: 9 })));
    void all.finally(() => (finished = true)).catch(() => {});
    const waits: number[] = [];
    while (!finished) {
      const start = performance.now();
      await stat(__filename);
      waits.push(performance.now() - start);
      await sleep(5);
    }
    for (const gz of await all) assert.ok(gz.equals(solo));
    // Without a free thread a stat waits behind level-9 blocks: tens to hundreds of ms.
    const median = waits.sort((a, b) => a - b)[waits.length >> 1];
    assert.ok(median < 5, `median stat of ${waits.length} took ${median.toFixed(1)} ms`);
  });

  it('passes on an error from the input', async () => {
    async function* failing() {
      yield text(3 * MiB);
      throw new Error('disk gone');
    }
    await assert.rejects(gzip(failing(), { blockSize: 64 * KiB }), /disk gone/);
  });

  it('closes the input when the consumer stops early', async () => {
    let closed = false;
    async function* source() {
      try {
        for (;;) yield randomBytes(64 * KiB);
      } finally {
        closed = true;
      }
    }
    for await (const chunk of gzipParallel(source(), { blockSize: 64 * KiB })) if (chunk.length > 10) break;
    assert.ok(closed);
  });

  it('serves a consumer slower than the threads (pushes of large layers failed with "reading \'done\'")', async () => {
    const input = Buffer.concat([text(MiB), randomBytes(MiB)]);
    const out: Buffer[] = [];
    for await (const chunk of gzipParallel(chunked(input, [65536]), { blockSize: 64 * KiB })) {
      out.push(chunk);
      await sleep(10);
    }
    assertSingleMember(Buffer.concat(out), input);
  });

  it('reads ahead of a slow consumer by a bounded number of blocks', async () => {
    const blockSize = 64 * KiB;
    const concurrency = 2;
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 160; i++) {
        pulled += blockSize;
        yield text(blockSize);
      }
    }
    const it = gzipParallel(source(), { blockSize, concurrency });
    for (let i = 0; i < 3; i++) await it.next();
    await sleep(200);
    // Taken so far: the header and two blocks. Held: 2 x concurrency blocks, one being cut.
    assert.ok(pulled <= (2 + 2 * concurrency + 1) * blockSize, `pulled ${pulled / blockSize} blocks`);
    await it.return(undefined);
  });

  it('keeps memory flat over 200 MB of input', async () => {
    async function* source() {
      for (let i = 0; i < 3200; i++) yield randomBytes(64 * KiB);
    }
    const before = process.memoryUsage().rss;
    let peak = before;
    const hash = createHash('sha256');
    for await (const chunk of gzipParallel(source())) {
      hash.update(chunk);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    assert.ok(peak - before < 100 * MiB, `rss grew by ${Math.round((peak - before) / MiB)} MiB`);
  });

  it('refuses bad options', async () => {
    for (const opts of [{ level: 10 }, { level: 1.5 }, { blockSize: 0 }, { concurrency: 0 }]) {
      await assert.rejects(gzip([Buffer.from('x')], opts), RangeError);
    }
  });
});
