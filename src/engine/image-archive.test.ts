import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extract, pack, type Pack } from 'tar-stream';
import { BerthError } from '../errors';
import type { ProgressMessage } from '../distribution/progress';
import { ContentStore, type Digest, sha256 } from '../store/content-store';
import { openDb } from '../store/db';
import { LayerStore } from '../store/layers';
import { OverlaySnapshotter } from '../store/snapshots';
import { EventBus } from './events';
import { hostArchitecture } from './image-config';
import { ImageArchive } from './image-archive';
import { namesOf } from './image-archive-load';
import { ImageService } from './images';

const scratch = fs.mkdtempSync(join(os.tmpdir(), 'berth-archive-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let roots = 0;

function store() {
  const root = join(scratch, `root-${roots++}`);
  fs.mkdirSync(root);
  const db = openDb(join(root, 'berth.db'));
  const content = ContentStore.open(join(root, 'content'));
  const snapshots = OverlaySnapshotter.open(join(root, 'snapshots'));
  const layers = new LayerStore(db, content, snapshots);
  const events = new EventBus();
  const images = new ImageService(db, content, layers, events);
  const archive = new ImageArchive({ images, layers, content, db, events });
  const snapshotDirs = () => fs.readdirSync(join(root, 'snapshots'));
  return { root, db, content, layers, images, archive, snapshotDirs };
}

type Entry = Parameters<Pack['entry']>[0] & { body?: Buffer | string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const { body, ...h } of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (h.type === undefined || h.type === 'file') p.entry(h, body ?? '', cb);
      else p.entry(h, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  ex.end(buf);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of it) chunks.push(c);
  return Buffer.concat(chunks);
}

async function* chunked(buf: Buffer, size = 7000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function load(s: ReturnType<typeof store>, archive: Buffer) {
  const messages: ProgressMessage[] = [];
  const ids = await s.archive.load(chunked(archive), (m) => messages.push(m));
  return { ids, lines: messages.filter((m) => m.stream).map((m) => m.stream!) };
}

const rootfs = (tag: string) => tarOf([
  { name: 'etc/', type: 'directory' },
  { name: 'etc/hostname', body: `${tag}\n` },
  { name: 'bin/', type: 'directory' },
  { name: 'bin/tool', body: Buffer.alloc(100_000, tag), mode: 0o755 },
]);

async function imported(s: ReturnType<typeof store>, repo: string, tag: string) {
  return s.images.import(chunked(await rootfs(`${repo}:${tag}`)), { repo, tag });
}

/** A config over `diffIds`, as the bytes of a Docker or OCI archive. */
const configOf = (diffIds: Digest[]) => Buffer.from(JSON.stringify({ architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));

const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && re.test(e.message));

describe('ImageArchive: save', () => {
  it("writes Docker 25's layout: OCI blobs, index.json, manifest.json, oci-layout, repositories", async () => {
    const s = store();
    const id = await imported(s, 'busybox', 'latest');
    await s.images.tag(id, 'example.com/team/app', 'v1');
    const files = await untar(await collect(s.archive.save(s.archive.planSave(['busybox', 'example.com/team/app:v1']))));
    const [diffId] = s.images.config(id).rootfs.diff_ids;
    assert.deepEqual([...files.keys()].filter((n) => !/^blobs\/sha256\/./.test(n)), ['blobs/', 'blobs/sha256/', 'index.json', 'manifest.json', 'oci-layout', 'repositories']);
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()), [
      { Config: `blobs/sha256/${id.slice(7)}`, RepoTags: ['busybox:latest', 'example.com/team/app:v1'], Layers: [`blobs/sha256/${diffId.slice(7)}`] },
    ]);
    assert.equal(sha256(files.get(`blobs/sha256/${diffId.slice(7)}`)!), diffId, 'the layer is its uncompressed tar');
    assert.equal(sha256(files.get(`blobs/sha256/${id.slice(7)}`)!), id);
    assert.deepEqual(JSON.parse(files.get('repositories')!.toString()), { busybox: { latest: diffId.slice(7) }, 'example.com/team/app': { v1: diffId.slice(7) } });
    assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion": "1.0.0"}');
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations), [
      { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
      { 'io.containerd.image.name': 'example.com/team/app:v1', 'org.opencontainers.image.ref.name': 'v1' },
    ]);
    const manifestBytes = files.get(`blobs/${index.manifests[0].digest.replace(':', '/')}`)!;
    const manifest = JSON.parse(manifestBytes.toString());
    assert.deepEqual(manifest.layers, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: diffId, size: files.get(`blobs/sha256/${diffId.slice(7)}`)!.length }]);
    assert.equal(manifest.config.digest, id);
  });

  it('names by id save without tags; a missing image fails before any byte', async () => {
    const s = store();
    const id = await imported(s, 'busybox', 'latest');
    const files = await untar(await collect(s.archive.save(s.archive.planSave([id.slice(7, 19)]))));
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString())[0].RepoTags, null);
    assert.equal(files.has('repositories'), false);
    assert.throws(() => s.archive.planSave(['nosuch']), (e: unknown) => e instanceof BerthError && e.kind === 'not-found' && e.message === 'No such image: nosuch:latest');
  });

  it('a consumer that stops early stops the save', async () => {
    const s = store();
    await imported(s, 'busybox', 'latest');
    const it = s.archive.save(s.archive.planSave(['busybox']))[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    await it.return(undefined);
  });
});

describe('ImageArchive: load', () => {
  it('loads what save wrote: same id, tags, layers; loading it again changes nothing', async () => {
    const a = store();
    const id = await imported(a, 'busybox', 'latest');
    const saved = await collect(a.archive.save(a.archive.planSave(['busybox'])));
    const b = store();
    const { ids, lines } = await load(b, saved);
    assert.deepEqual(ids, [id]);
    assert.deepEqual(lines, ['Loaded image: busybox:latest\n']);
    assert.equal(b.images.resolve('busybox').id, id);
    const [diffId] = b.images.config(id).rootfs.diff_ids;
    assert.equal(b.layers.tarSize(diffId), a.layers.tarSize(diffId), 'the spooled tar is the layer blob');
    const blobs = b.content.list().sort();
    assert.deepEqual((await load(b, saved)).lines, ['Loaded image: busybox:latest\n']);
    assert.deepEqual(b.content.list().sort(), blobs, 'the second load left no blobs and took none away');
  });

  it('reports a tag that moves, and loads untagged images by id', async () => {
    const a = store();
    const one = await imported(a, 'app', 'latest');
    const b = store();
    await load(b, await collect(a.archive.save(a.archive.planSave(['app']))));
    const two = await imported(a, 'app', 'latest');
    const { lines } = await load(b, await collect(a.archive.save(a.archive.planSave(['app']))));
    assert.deepEqual(lines, [`The image app:latest already exists, renaming the old one with ID ${one} to empty string\n`, 'Loaded image: app:latest\n']);
    assert.equal(b.images.resolve('app').id, two);
    const byId = await load(store(), await collect(a.archive.save(a.archive.planSave([one]))));
    assert.deepEqual(byId.lines, [`Loaded image ID: ${one}\n`]);
  });

  it('reads old Docker archives: <hex>.json, <id>/layer.tar gzipped, a symlinked duplicate layer; saves them back', async () => {
    const base = await rootfs('old');
    const diffId = sha256(base);
    const config = configOf([diffId, diffId]);
    const archive = await tarOf([
      { name: 'aaa/', type: 'directory' },
      { name: 'aaa/layer.tar', body: gzipSync(base) },
      { name: 'aaa/VERSION', body: '1.0' },
      { name: 'bbb/', type: 'directory' },
      { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
      { name: `${sha256(config).slice(7)}.json`, body: config },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha256(config).slice(7)}.json`, RepoTags: ['old:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]) },
      { name: 'repositories', body: '{"old":{"1":"bbb"}}' },
    ]);
    const s = store();
    const { ids } = await load(s, gzipSync(archive));
    assert.deepEqual(ids, [sha256(config)]);
    assert.equal(s.images.resolve('old:1').id, sha256(config));
    assert.equal(s.layers.tarSize(diffId), undefined, 'kept gzipped, as pulls keep layers');
    assert.equal(s.layers.blobsOf(diffId).length, 1);
    // Saved back, the gzip-only layer is written once, uncompressed, with its size counted first.
    const files = await untar(await collect(s.archive.save(s.archive.planSave(['old:1']))));
    assert.deepEqual(files.get(`blobs/sha256/${diffId.slice(7)}`), base);
    assert.equal([...files.keys()].filter((n) => /^blobs\/sha256\/./.test(n)).length, 3);
    // Cancelled while the gzip form streams: the save ends, nothing waits forever.
    const cancel = new AbortController();
    const it = s.archive.save(s.archive.planSave(['old:1']), cancel.signal)[Symbol.asyncIterator]();
    await it.next();
    cancel.abort();
    await assert.rejects(async () => { while (!(await it.next()).done); }, /save cancelled/);
  });

  it('reads OCI layouts: nested indexes, the host platform, names from annotations', async () => {
    const base = await rootfs('oci');
    const gz = gzipSync(base);
    const config = configOf([sha256(base)]);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(gz), size: gz.length }],
    }));
    const desc = (b: Buffer, mediaType: string, extra = {}) => ({ mediaType, digest: sha256(b), size: b.length, ...extra });
    const inner = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        desc(manifest, 'application/vnd.oci.image.manifest.v1+json', { digest: `sha256:${'0'.repeat(64)}`, platform: { architecture: 'riscv64', os: 'linux' } }),
        desc(manifest, 'application/vnd.oci.image.manifest.v1+json', { platform: { architecture: hostArchitecture(), os: 'linux' } }),
      ],
    }));
    const index = {
      schemaVersion: 2,
      manifests: [
        desc(inner, 'application/vnd.oci.image.index.v1+json', { annotations: { 'org.opencontainers.image.ref.name': 'skopeo/img:1' } }),
        desc(manifest, 'application/vnd.oci.image.manifest.v1+json', { annotations: { 'org.opencontainers.image.ref.name': 'latest' } }),
      ],
    };
    const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, body: b });
    const s = store();
    const { ids, lines } = await load(s, await tarOf([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' }, blob(gz), blob(config), blob(manifest), blob(inner),
      { name: 'index.json', body: JSON.stringify(index) },
    ]));
    assert.deepEqual(ids, [sha256(config)]);
    assert.deepEqual(lines, ['Loaded image: skopeo/img:1\n']);
  });

  it('names: a full name or a ref.name that is a name; a bare tag names nothing', () => {
    assert.deepEqual(namesOf({ 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' }).map((r) => r.path), ['library/busybox']);
    assert.deepEqual(namesOf({ 'org.opencontainers.image.ref.name': '1.0' }), []);
    assert.deepEqual(namesOf(undefined), []);
  });

  describe('refuses bad archives and leaves nothing behind', () => {
    const good = async () => {
      const a = store();
      await imported(a, 'busybox', 'latest');
      return untar(await collect(a.archive.save(a.archive.planSave(['busybox']))));
    };
    const rebuild = (files: Map<string, Buffer>, extra: Entry[] = []) => tarOf([...extra, ...[...files].map(([name, body]) => (name.endsWith('/') ? { name, type: 'directory' as const } : { name, body }))]);
    const nothingLeft = (s: ReturnType<typeof store>) => {
      assert.deepEqual(s.images.list(), []);
      assert.deepEqual(s.content.list(), [], 'no spooled blob is left');
      assert.deepEqual(s.snapshotDirs(), [], 'no unpacked layer is left');
    };

    it('an entry outside the archive', async () => {
      const s = store();
      await rejects(load(s, await rebuild(await good(), [{ name: '../evil', body: 'x' }])), /entry "\.\.\/evil" is outside the archive/);
      await rejects(load(s, await tarOf([{ name: '/etc/evil', body: 'x' }])), /outside the archive/);
      nothingLeft(s);
    });

    it('a link that leaves the archive, or a device', async () => {
      const s = store();
      await rejects(load(s, await tarOf([{ name: 'x/layer.tar', type: 'symlink', linkname: '../../etc/passwd' }])), /link "x\/layer.tar" points outside the archive/);
      await rejects(load(s, await tarOf([{ name: 'null', type: 'character-device' }])), /only files and directories/);
      nothingLeft(s);
    });

    it('manifest.json naming a missing layer or a path outside', async () => {
      const s = store();
      const files = await good();
      const m = JSON.parse(files.get('manifest.json')!.toString());
      files.set('manifest.json', Buffer.from(JSON.stringify([{ ...m[0], Layers: ['blobs/sha256/nope'] }])));
      await rejects(load(s, await rebuild(files)), /layer "blobs\/sha256\/nope" is not in the archive/);
      files.set('manifest.json', Buffer.from(JSON.stringify([{ ...m[0], Layers: ['../../../etc/passwd'] }])));
      await rejects(load(s, await rebuild(files)), /points outside the archive/);
      nothingLeft(s);
    });

    it('a layer whose content does not match its diff id', async () => {
      const s = store();
      const files = await good();
      const m = JSON.parse(files.get('manifest.json')!.toString());
      // Same name, other content: a different (valid) tar under the old diff id's path.
      files.set(m[0].Layers[0], await rootfs('tampered'));
      await rejects(load(s, await rebuild(files)), /layer blobs\/sha256\/\S+ does not match the image config/);
      // gzipped, the mismatch is found while unpacking.
      files.set(m[0].Layers[0], gzipSync(await rootfs('tampered')));
      await rejects(load(s, await rebuild(files)), /does not match the image config: expected diff id sha256:\S+, got sha256:/);
      nothingLeft(s);
    });

    it('not an image archive, or not a tar', async () => {
      const s = store();
      await rejects(load(s, await tarOf([{ name: 'hello.txt', body: 'hi' }])), /neither manifest.json nor index.json/);
      await rejects(load(s, Buffer.alloc(3000, 'x')), /invalid archive/);
      nothingLeft(s);
    });
  });
});
