/**
 * berth's own registry server (`berth registry serve`) with real clients: the berth CLI and the
 * docker CLI through berthd, skopeo, two concurrent pushes sharing a layer, `berth registry gc`
 * after a manifest is deleted, and a 200 MB chunked upload interrupted and resumed over raw HTTP.
 * Each registry is its own child process on 127.0.0.1 with its own temp root, stopped by PID.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { BerthRegistry } from './berth-registry';
import { Daemon, REPO, sleep, useDaemon } from './harness';
import { runSkopeo } from './registry';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** `node bin/berth registry serve` on a free loopback port over a temp root of its own. */
async function startRegistry(): Promise<BerthRegistry> {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-server-'));
  const reg = await BerthRegistry.start(root, root, ['--root', root]);
  started.push(reg);
  return reg;
}

const started: BerthRegistry[] = [];
let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
let reg: BerthRegistry;
const work = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-server-work-'));

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  for (const r of started) await r.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

async function berth(args: string[], input?: string): Promise<string> {
  const r = await d.berth(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}
const docker = (args: string[]) => d.dockerOk(args);

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with its own connection; the body is sent whole. */
function request(method: string, url: string, headers: Record<string, string | number> = {}, body?: Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.end(body);
  });
}

interface Manifest {
  digest: string;
  config: string;
  layers: string[];
}

async function manifestOf(r: BerthRegistry, repo: string, ref: string): Promise<Manifest> {
  const res = await request('GET', r.url(`/v2/${repo}/manifests/${ref}`), { Accept: MANIFEST_TYPES });
  assert.equal(res.status, 200, res.body.toString());
  const doc = JSON.parse(res.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
  assert.equal(res.headers['docker-content-digest'], digest);
  return { digest, config: doc.config.digest, layers: doc.layers.map((l) => l.digest) };
}

const blobsOf = (m: Manifest) => [m.digest, m.config, ...m.layers];
const imageGone = async (name: string) => (await d.berth(['image', 'inspect', name])).code !== 0;

/** A built image: busybox's layer and one of its own holding /marker. */
async function buildOnBusybox(name: string, marker: string): Promise<void> {
  await berth(['build', '-q', '-t', name, '-'], `FROM busybox\nRUN echo ${marker} > /marker\nCMD ["cat", "/marker"]\n`);
}

test('the berth CLI through berthd: push, remove, pull back, run', async () => {
  const name = `${reg.host}/berth/busybox:1`;
  await d.importBusybox('local/berth-src:1');
  await berth(['tag', 'local/berth-src:1', name]);
  const pushed = await berth(['push', name]);
  assert.match(pushed, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
  const m = await manifestOf(reg, 'berth/busybox', '1');
  assert.match(pushed, new RegExp(`digest: ${m.digest}`));
  for (const b of blobsOf(m)) assert.ok(fs.existsSync(join(reg.root, 'blobs', 'sha256', b.slice(7))), b);

  await berth(['rmi', name, 'local/berth-src:1']);
  assert.ok(await imageGone(name));
  const pulled = await berth(['pull', name]);
  assert.match(pulled, new RegExp(`Digest: ${m.digest}`));
  assert.equal((await berth(['image', 'inspect', '--format', '{{.Id}}', name])).trim(), m.config);
  assert.equal(await berth(['run', '--rm', name, 'echo', 'berth pulled it']), 'berth pulled it\n');
});

test('the docker CLI through berthd: tag, push, rmi, pull, run', async () => {
  const name = `${reg.host}/docker/busybox:1`;
  await d.importBusybox('local/docker-src:1');
  await docker(['tag', 'local/docker-src:1', name]);
  const pushed = await docker(['push', name]);
  assert.match(pushed, new RegExp(`The push refers to repository \\[${reg.host}/docker/busybox\\]`));
  const m = await manifestOf(reg, 'docker/busybox', '1');
  assert.match(pushed, new RegExp(`1: digest: ${m.digest} size: \\d+`));
  await docker(['rmi', name, 'local/docker-src:1']);
  assert.ok(await imageGone(name));
  const pulled = await docker(['pull', name]);
  assert.match(pulled, new RegExp(`Digest: ${m.digest}`));
  assert.match(pulled, new RegExp(`Status: Downloaded newer image for ${name}`));
  assert.equal(await docker(['run', '--rm', name, 'echo', 'docker pulled it']), 'docker pulled it\n');
});

test('skopeo copies between repositories keeping the digest; berthd pulls and runs the copy', async () => {
  const src = await manifestOf(reg, 'berth/busybox', '1');
  const copy = await runSkopeo(work, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/berth/busybox:1`, `docker://${reg.host}/skopeo/copy:1`]);
  assert.equal(copy.code, 0, copy.stderr);
  const inspect = await runSkopeo(work, ['inspect', '--tls-verify=false', `docker://${reg.host}/skopeo/copy:1`]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal((JSON.parse(inspect.stdout) as { Digest: string }).Digest, src.digest);
  assert.deepEqual(await manifestOf(reg, 'skopeo/copy', '1'), src);

  const name = `${reg.host}/skopeo/copy:1`;
  assert.match(await berth(['pull', name]), new RegExp(`Digest: ${src.digest}`));
  assert.equal(await berth(['run', '--rm', name, 'echo', 'skopeo copied it']), 'skopeo copied it\n');
});

test('two concurrent pushes sharing the busybox layer both land; the layer is stored once', async () => {
  // A registry of its own: nothing is there yet, so both pushes send the shared layer.
  const r4 = await startRegistry();
  const base = `${r4.host}/conc/base:1`;
  const built = `${r4.host}/conc/built:1`;
  await d.importBusybox(base);
  await buildOnBusybox(built, 'concurrent-marker');
  const [a, b] = await Promise.all([d.berth(['push', base]), d.berth(['push', built])]);
  assert.equal(a.code, 0, `${a.stderr}\nregistry requests:\n${r4.requests().join('\n')}`);
  assert.equal(b.code, 0, `${b.stderr}\nregistry requests:\n${r4.requests().join('\n')}`);

  const mBase = await manifestOf(r4, 'conc/base', '1');
  const mBuilt = await manifestOf(r4, 'conc/built', '1');
  const shared = mBase.layers.filter((l) => mBuilt.layers.includes(l));
  assert.equal(shared.length, 1, `one shared layer: ${JSON.stringify({ mBase, mBuilt })}`);
  assert.equal(mBuilt.layers.length, 2);
  assert.deepEqual(r4.blobs(), [...new Set([...blobsOf(mBase), ...blobsOf(mBuilt)])].sort());
  assert.deepEqual(fs.readdirSync(join(r4.root, 'uploads')), [], 'no upload left behind');
  for (const repo of ['conc/base', 'conc/built']) assert.ok(fs.existsSync(join(r4.root, 'repositories', repo, '_layers', 'sha256', shared[0].slice(7))), `${shared[0]} is part of ${repo}`);

  // berthd may well mount the layer from the push that got there first; over raw HTTP the same
  // new blob goes up into two repositories with the uploads interleaved and finished together.
  const blob = chunkBytes(99, 1 << 20);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const uploads = await Promise.all(['conc/raw-a', 'conc/raw-b'].map(async (repo) => {
    const res = await request('POST', r4.url(`/v2/${repo}/blobs/uploads/`));
    assert.equal(res.status, 202, res.body.toString());
    return new URL(String(res.headers.location), r4.url('/')).toString();
  }));
  for (const [from, to] of [[0, blob.length / 2], [blob.length / 2, blob.length]]) {
    const sent = await Promise.all(uploads.map((u) => request('PATCH', u, { 'Content-Range': `${from}-${to - 1}`, 'Content-Length': to - from }, blob.subarray(from, to))));
    assert.deepEqual(sent.map((r) => r.status), [202, 202]);
  }
  const puts = await Promise.all(uploads.map((u) => request('PUT', `${u}?digest=${digest}`, { 'Content-Length': 0 })));
  assert.deepEqual(puts.map((r) => r.status), [201, 201], puts.map((r) => r.body.toString()).join('\n'));
  for (const repo of ['conc/raw-a', 'conc/raw-b']) assert.equal(Number((await request('HEAD', r4.url(`/v2/${repo}/blobs/${digest}`))).headers['content-length']), blob.length);
  assert.equal(r4.blobs().filter((b) => b === digest).length, 1);
  assert.deepEqual(fs.readdirSync(join(r4.root, 'uploads')), []);

  await berth(['rmi', base, built]);
  await berth(['pull', base]);
  await berth(['pull', built]);
  assert.equal(await berth(['run', '--rm', base, 'echo', 'base back']), 'base back\n');
  assert.equal(await berth(['run', '--rm', built]), 'concurrent-marker\n');
  await berth(['rmi', base, built]);
});

test('gc after a manifest DELETE: the dry run deletes nothing, the real one exactly the unique blobs', async () => {
  const r5 = await startRegistry();
  const keep = `${r5.host}/gc/keep:1`;
  const drop = `${r5.host}/gc/drop:1`;
  await d.importBusybox(keep);
  await buildOnBusybox(drop, 'gc-marker');
  await berth(['push', keep]);
  await berth(['push', drop]);
  const mKeep = await manifestOf(r5, 'gc/keep', '1');
  const mDrop = await manifestOf(r5, 'gc/drop', '1');
  const unique = blobsOf(mDrop).filter((b) => !blobsOf(mKeep).includes(b)).sort();
  assert.equal(unique.length, 3, 'the manifest, its config and its own layer');
  const all = r5.blobs();
  assert.deepEqual(all, [...new Set([...blobsOf(mKeep), ...blobsOf(mDrop)])].sort());

  const del = await request('DELETE', r5.url(`/v2/gc/drop/manifests/${mDrop.digest}`));
  assert.equal(del.status, 202, del.body.toString());
  assert.equal((await request('GET', r5.url('/v2/gc/drop/manifests/1'), { Accept: MANIFEST_TYPES })).status, 404);

  const dry = await runBerthCli(['registry', 'gc', '--root', r5.root, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(eligible(dry.stdout), unique);
  assert.match(dry.stdout, /\d+ blobs marked, 3 blobs eligible for deletion \(/);
  assert.deepEqual(r5.blobs(), all, 'a dry run deletes nothing');

  const real = await runBerthCli(['registry', 'gc', '--root', r5.root]);
  assert.equal(real.code, 0, real.stderr);
  assert.deepEqual(eligible(real.stdout), unique);
  assert.match(real.stdout, /\d+ blobs marked, 3 blobs deleted \(/);
  assert.deepEqual(r5.blobs(), all.filter((b) => !unique.includes(b)));
  for (const b of unique) assert.equal((await request('HEAD', r5.url(`/v2/gc/drop/blobs/${b}`))).status, 404, b);

  await berth(['rmi', keep, drop]);
  const gone = await d.berth(['pull', drop]);
  assert.notEqual(gone.code, 0, 'the deleted image no longer pulls');
  await berth(['pull', keep]);
  assert.equal(await berth(['run', '--rm', keep, 'echo', 'survived gc']), 'survived gc\n');
  await berth(['rmi', keep]);
});

test('a 200 MB blob in 5 MB PATCH chunks, one interrupted midway and resumed from the reported offset', async () => {
  const CHUNK = 5 << 20;
  const CHUNKS = 40;
  const BROKEN = 17;
  const repo = 'big/blob';
  const start = await request('POST', reg.url(`/v2/${repo}/blobs/uploads/`));
  assert.equal(start.status, 202, start.body.toString());
  const location = new URL(String(start.headers.location), reg.url('/')).toString();
  const hash = createHash('sha256');

  for (let i = 0; i < CHUNKS; i++) {
    const chunk = chunkBytes(i, CHUNK);
    hash.update(chunk);
    let from = i * CHUNK;
    const end = from + CHUNK - 1;
    if (i === BROKEN) {
      await sendCut(location, chunk, from, end, CHUNK / 2);
      from = await settledOffset(location);
      assert.ok(from > i * CHUNK && from <= i * CHUNK + CHUNK / 2, `the upload kept part of the cut chunk: offset ${from}`);
    }
    const body = chunk.subarray(from - i * CHUNK);
    const res = await request('PATCH', location, { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${end}`, 'Content-Length': body.length }, body);
    assert.equal(res.status, 202, `chunk ${i}: ${res.body.toString()}`);
    assert.equal(res.headers.range, `0-${end}`);
  }

  const digest = `sha256:${hash.digest('hex')}`;
  const put = await request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { 'Content-Length': 0 });
  assert.equal(put.status, 201, put.body.toString());
  assert.equal(put.headers['docker-content-digest'], digest);
  const head = await request('HEAD', reg.url(`/v2/${repo}/blobs/${digest}`));
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), CHUNK * CHUNKS);
  // The bytes around the cut are the generator's.
  const at = BROKEN * CHUNK + CHUNK / 2 - 1000;
  const part = await request('GET', reg.url(`/v2/${repo}/blobs/${digest}`), { Range: `bytes=${at}-${at + 1999}` });
  assert.equal(part.status, 206);
  assert.ok(part.body.equals(chunkBytes(BROKEN, CHUNK).subarray(CHUNK / 2 - 1000, CHUNK / 2 + 1000)));
}, { timeout: 90_000 });

/** Chunk `i` of the big blob: AES-CTR keystream, deterministic and fast, each chunk its own counter range. */
function chunkBytes(i: number, size: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(i, 4);
  return createCipheriv('aes-128-ctr', Buffer.from('berth-registry-e'), iv).update(Buffer.alloc(size));
}

/** A PATCH that promises the whole chunk, sends `sent` bytes of it and then drops the connection. */
async function sendCut(location: string, chunk: Buffer, from: number, end: number, sent: number): Promise<void> {
  const req = http.request(location, {
    method: 'PATCH',
    agent: false,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${end}`, 'Content-Length': chunk.length },
  });
  const failed = new Promise<void>((resolve) => req.on('error', () => resolve()));
  req.on('response', (res) => res.resume());
  await new Promise<void>((resolve) => req.write(chunk.subarray(0, sent), () => resolve()));
  await sleep(300); // let the server write what it got
  req.destroy();
  await failed;
}

/** The upload's offset once the server has noticed the cut (two equal answers in a row). */
async function settledOffset(location: string): Promise<number> {
  let last = -1;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await request('GET', location);
    assert.equal(res.status, 204, res.body.toString());
    const m = /^0-(\d+)$/.exec(String(res.headers.range));
    assert.ok(m, `Range ${res.headers.range}`);
    const offset = Number(m[1]) + 1;
    if (offset === last) return offset;
    if (Date.now() > deadline) throw new Error(`the upload's offset did not settle (last ${offset})`);
    last = offset;
    await sleep(150);
  }
}

/** The digests a gc run lists as eligible for deletion, sorted. */
function eligible(stdout: string): string[] {
  return [...stdout.matchAll(/^blob eligible for deletion: (sha256:[a-f0-9]{64})$/gm)].map((m) => m[1]).sort();
}

/** The berth CLI without a daemon (registry gc works on the directory). */
function runBerthCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, 'bin', 'berth'), ...args], { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
