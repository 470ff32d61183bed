import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { BerthError } from '../errors';
import { decompress, detectCompression } from './compression';

const GZIP = Buffer.from([0x1f, 0x8b, 0x08, 0x00]);
const BZIP2 = Buffer.from('BZh91AY&SY');
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00]);

async function collect(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of decompress(Readable.from(chunks))) out.push(c);
  return Buffer.concat(out);
}

/** ~1 MB of partly compressible data: repeated text mixed with random runs. */
function sampleData(): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < 1_000_000; i++) {
    const text = Buffer.from(`line ${i}: the quick brown fox jumps over the lazy dog\n`);
    const noise = randomBytes(i % 64);
    parts.push(text, noise);
    total += text.length + noise.length;
  }
  return Buffer.concat(parts);
}

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const invalidMatching = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
  assert.equal(e.kind, 'invalid');
  assert.match(e.message, re);
  return true;
};

describe('detectCompression', () => {
  it('recognises each format by its magic number', () => {
    assert.equal(detectCompression(GZIP), 'gzip');
    assert.equal(detectCompression(BZIP2), 'bzip2');
    assert.equal(detectCompression(XZ), 'xz');
    assert.equal(detectCompression(ZSTD), 'zstd');
  });

  it('needs only the magic bytes themselves', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b])), 'gzip');
    assert.equal(detectCompression(Buffer.from('BZh')), 'bzip2');
    assert.equal(detectCompression(XZ.subarray(0, 6)), 'xz');
    assert.equal(detectCompression(ZSTD.subarray(0, 4)), 'zstd');
  });

  it('says none for tar and other data, truncated magic and empty input', () => {
    const tarHeader = Buffer.alloc(512);
    tarHeader.write('etc/passwd');
    tarHeader.write('ustar\u000000', 257, 'latin1');
    assert.equal(detectCompression(tarHeader), 'none');
    assert.equal(detectCompression(Buffer.from('hello world')), 'none');
    assert.equal(detectCompression(Buffer.from([0x1f])), 'none');
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8c])), 'none');
    assert.equal(detectCompression(XZ.subarray(0, 5)), 'none');
    assert.equal(detectCompression(ZSTD.subarray(0, 3)), 'none');
    assert.equal(detectCompression(Buffer.from('BZ')), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
  });
});

describe('decompress', () => {
  it('passes uncompressed input through byte for byte', async () => {
    const data = sampleData();
    const out = await collect(chunked(data, 65536));
    assert.ok(out.equals(data));
  });

  it('gunzips a ~1 MB gzip stream fed in chunks', async () => {
    const data = sampleData();
    const gz = gzipSync(data);
    assert.equal(detectCompression(gz), 'gzip');
    assert.ok((await collect(chunked(gz, 16384))).equals(data));
  });

  it('gunzips a gzip stream given as one chunk, and in odd-sized chunks', async () => {
    const data = Buffer.from('x'.repeat(300_000) + 'end');
    const gz = gzipSync(data);
    assert.ok((await collect([gz])).equals(data));
    assert.ok((await collect(chunked(gz, 7))).equals(data));
  });

  it('gunzips concatenated gzip members, as gzip -d does', async () => {
    const out = await collect([Buffer.concat([gzipSync('first '), gzipSync('second')])]);
    assert.equal(out.toString(), 'first second');
  });

  it(
    'detects gzip even when the first chunk is shorter than the magic number',
    async () => {
      const data = Buffer.from('payload '.repeat(1000));
      const gz = gzipSync(data);
      assert.ok((await collect([gz.subarray(0, 1), gz.subarray(1)])).equals(data));
    },
  );

  it('refuses bzip2, xz and zstd with "unsupported compression"', async () => {
    await assert.rejects(collect([BZIP2]), invalidMatching(/^unsupported compression: bzip2/));
    await assert.rejects(collect([XZ]), invalidMatching(/^unsupported compression: xz/));
    await assert.rejects(collect([ZSTD]), invalidMatching(/^unsupported compression: zstd/));
  });

  it('reports a corrupted gzip stream as "invalid gzip stream"', async () => {
    const gz = gzipSync(sampleData());
    const corrupt = Buffer.from(gz);
    for (let i = 20; i < 220; i++) corrupt[i] ^= 0x5a;
    await assert.rejects(collect(chunked(corrupt, 4096)), invalidMatching(/^invalid gzip stream/));
  });

  it('reports a bad gzip header as "invalid gzip stream"', async () => {
    await assert.rejects(collect([Buffer.from([0x1f, 0x8b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 2, 3])]), invalidMatching(/^invalid gzip stream/));
  });

  it('reports a truncated gzip stream as "invalid gzip stream"', async () => {
    const gz = gzipSync(sampleData());
    await assert.rejects(collect([gz.subarray(0, gz.length >> 1)]), invalidMatching(/^invalid gzip stream/));
  });

  it('yields nothing for empty input', async () => {
    const out: Buffer[] = [];
    for await (const c of decompress(Readable.from([]))) out.push(c);
    assert.equal(out.length, 0);
  });

  it('lets a consumer stop early without hanging', async () => {
    const gz = gzipSync(sampleData());
    let got = 0;
    for await (const c of decompress(Readable.from(chunked(gz, 1024)))) {
      got += c.length;
      break;
    }
    assert.ok(got > 0);
  });
});
