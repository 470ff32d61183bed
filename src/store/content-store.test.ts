import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../errors';
import { ContentStore, type Digest, isDigest, parseDigest, sha256 } from './content-store';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newStore(): { root: string; store: ContentStore } {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-cs-'));
  dirs.push(root);
  return { root, store: ContentStore.open(root) };
}

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const ingestFiles = (root: string) => fs.readdirSync(join(root, 'ingest'));
const blobFiles = (root: string) => fs.readdirSync(join(root, 'blobs', 'sha256'));
const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const invalidMatching = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
  assert.equal(e.kind, 'invalid');
  assert.match(e.message, re);
  return true;
};

describe('digests', () => {
  it('sha256() gives the sha256:<hex> digest', () => {
    assert.equal(sha256(''), EMPTY);
    assert.equal(sha256(Buffer.from('abc')), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('isDigest accepts only sha256 with 64 lowercase hex digits', () => {
    assert.equal(isDigest(EMPTY), true);
    assert.equal(isDigest(EMPTY.toUpperCase()), false);
    assert.equal(isDigest('sha256:' + 'A'.repeat(64)), false);
    assert.equal(isDigest('sha256:' + 'a'.repeat(63)), false);
    assert.equal(isDigest('sha256:' + 'a'.repeat(65)), false);
    assert.equal(isDigest('sha512:' + 'a'.repeat(64)), false);
    assert.equal(isDigest('a'.repeat(64)), false);
    assert.equal(isDigest(''), false);
  });

  it('parseDigest returns a valid digest and rejects others with a quoted message', () => {
    assert.equal(parseDigest(EMPTY), EMPTY);
    assert.throws(() => parseDigest('sha256:xyz'), (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && e.message === 'invalid digest "sha256:xyz"');
  });
});

describe('ContentStore', () => {
  it('open() creates the layout and sweeps stale ingest files, keeping blobs', () => {
    const { root, store } = newStore();
    const d = store.putSmall('keep me');
    fs.writeFileSync(join(root, 'ingest', 'stale-1'), 'half a layer');
    fs.mkdirSync(join(root, 'ingest', 'stale-dir'));
    fs.writeFileSync(join(root, 'ingest', 'stale-dir', 'x'), 'x');
    const again = ContentStore.open(root);
    assert.deepEqual(ingestFiles(root), []);
    assert.ok(again.has(d));
    assert.equal(again.readSmall(d).toString(), 'keep me');
  });

  it('putSmall stores under the sha256 digest and is idempotent', () => {
    const { root, store } = newStore();
    const d1 = store.putSmall('{"config":1}');
    assert.equal(d1, `sha256:${hex('{"config":1}')}`);
    assert.ok(isDigest(d1));
    const d2 = store.putSmall(Buffer.from('{"config":1}'));
    assert.equal(d2, d1);
    assert.deepEqual(blobFiles(root), [d1.slice(7)]);
    assert.equal(fs.readFileSync(join(root, 'blobs', 'sha256', d1.slice(7)), 'utf8'), '{"config":1}');
    assert.deepEqual(ingestFiles(root), []);
    assert.equal(store.path(d1), join(root, 'blobs', 'sha256', d1.slice(7)));
  });

  it('has/size/readSmall/delete', () => {
    const { store } = newStore();
    const d = store.putSmall(Buffer.alloc(1000, 7));
    assert.equal(store.has(d), true);
    assert.equal(store.size(d), 1000);
    assert.ok(store.readSmall(d).equals(Buffer.alloc(1000, 7)));
    store.delete(d);
    assert.equal(store.has(d), false);
    store.delete(d); // deleting twice is fine
  });

  it('readSmall refuses blobs over the cap and reports missing ones as not found', () => {
    const { store } = newStore();
    const d = store.putSmall(Buffer.alloc(101));
    assert.throws(() => store.readSmall(d, 100), invalidMatching(new RegExp(`^content ${d} is 101 bytes, over the 100 limit$`)));
    assert.equal(store.readSmall(d, 101).length, 101);
    const missing = sha256('never stored');
    assert.throws(() => store.readSmall(missing), (e: unknown) => e instanceof BerthError && e.kind === 'not-found' && e.message === `content ${missing} not found`);
  });

  it('createReadStream streams the blob', async () => {
    const { store } = newStore();
    const d = store.putSmall('streamed');
    const chunks: Buffer[] = [];
    for await (const c of store.createReadStream(d)) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'streamed');
  });
});

describe('BlobWriter', () => {
  const payload = () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 64; i++) parts.push(Buffer.alloc(32 * 1024, i));
    return parts;
  };

  it('streams chunks and commits under the right digest and size', async () => {
    const { root, store } = newStore();
    const parts = payload();
    const all = Buffer.concat(parts);
    const w = store.writer();
    for (const p of parts) await w.write(p);
    assert.equal(w.size, all.length);
    const r = await w.commit();
    assert.deepEqual(r, { digest: `sha256:${hex(all)}`, size: all.length });
    assert.ok(fs.readFileSync(store.path(r.digest)).equals(all));
    assert.deepEqual(ingestFiles(root), []);
  });

  it('commits an empty blob', async () => {
    const { store } = newStore();
    const r = await store.writer().commit();
    assert.deepEqual(r, { digest: EMPTY, size: 0 });
    assert.equal(store.has(EMPTY as Digest), true);
  });

  it('accepts matching expected digest and size', async () => {
    const { store } = newStore();
    const w = store.writer();
    await w.write(Buffer.from('layer'));
    const r = await w.commit({ digest: sha256('layer'), size: 5 });
    assert.equal(r.digest, sha256('layer'));
  });

  it('a digest mismatch throws and leaves neither blob nor ingest file', async () => {
    const { root, store } = newStore();
    const w = store.writer();
    await w.write(Buffer.from('actual content'));
    const expected = sha256('something else');
    await assert.rejects(
      w.commit({ digest: expected }),
      invalidMatching(new RegExp(`^digest mismatch: expected ${expected}, got ${sha256('actual content')}$`)),
    );
    assert.deepEqual(blobFiles(root), []);
    assert.deepEqual(ingestFiles(root), []);
    assert.equal(store.has(sha256('actual content')), false);
  });

  it('a size mismatch throws and leaves neither blob nor ingest file', async () => {
    const { root, store } = newStore();
    const w = store.writer();
    await w.write(Buffer.from('12345'));
    await assert.rejects(w.commit({ size: 6 }), invalidMatching(new RegExp(`^size mismatch for ${sha256('12345')}: expected 6, got 5$`)));
    assert.deepEqual(blobFiles(root), []);
    assert.deepEqual(ingestFiles(root), []);
  });

  it('abort() after writing removes the temporary file', async () => {
    const { root, store } = newStore();
    const w = store.writer();
    // Above the 8 MiB the writer lets queue, write() resolves on 'drain': the bytes are on disk
    // and no write is in flight (aborting during one is the separate, todo-marked case below).
    await w.write(Buffer.alloc(9 << 20, 1));
    assert.equal(ingestFiles(root).length, 1);
    assert.equal(fs.statSync(join(root, 'ingest', ingestFiles(root)[0])).size, 9 << 20);
    w.abort();
    await sleep(20);
    assert.deepEqual(ingestFiles(root), []);
    assert.deepEqual(blobFiles(root), []);
    w.abort(); // a second abort is harmless
  });

  it('abort() after commit does not remove the published blob', async () => {
    const { store } = newStore();
    const w = store.writer();
    await w.write(Buffer.from('kept'));
    const { digest } = await w.commit();
    w.abort();
    assert.equal(store.readSmall(digest).toString(), 'kept');
  });

  it(
    'abort() while a write is still in flight does not crash the process',
    () => {
      // Run in a child process so the uncaught exception cannot disturb this test run.
      const script = `
        const { ContentStore } = require(${JSON.stringify(join(__dirname, 'content-store.js'))});
        const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cs-child-'));
        process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
        (async () => {
          const w = ContentStore.open(root).writer();
          await w.write(Buffer.alloc(1024, 1));
          await new Promise((r) => setTimeout(r, 20)); // the stream is open and idle
          await w.write(Buffer.alloc(1024, 2)); // resolves at once (below the high-water mark)
          w.abort(); // e.g. the layer turned out corrupt
          await new Promise((r) => setTimeout(r, 100));
          console.log('survived');
        })();`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'survived');
    },
  );

  it(
    'abort() straight after writer() leaves no ingest file behind',
    async () => {
      const { root, store } = newStore();
      const w = store.writer();
      w.abort();
      await sleep(50);
      assert.deepEqual(ingestFiles(root), []);
    },
  );
});
