import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { collectGarbage } from './gc';
import type { Sha256 } from './names';
import { createRegistryServer } from './server';
import { RegistryStorage } from './storage';

const HOST = '127.0.0.1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface Registry {
  root: string;
  port: number;
  store: RegistryStorage;
  logs: string[];
  request(method: string, path: string, opts?: { headers?: Record<string, string | number>; body?: Buffer | string; chunked?: boolean }): Promise<Reply>;
  close(): Promise<void>;
}

const sha = (b: Buffer | string): Sha256 => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hexOf = (d: string) => d.slice('sha256:'.length);
const errorCode = (r: Reply) => (JSON.parse(r.body.toString()) as { errors: { code: string }[] }).errors[0].code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `cond` every 10ms for at most 5s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A registry on 127.0.0.1 over a fresh temp dir; every request on its own connection. */
async function startRegistry(): Promise<Registry> {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-test-'));
  const store = new RegistryStorage(root);
  const logs: string[] = [];
  const server = createRegistryServer({ store, log: (line) => logs.push(line) });
  server.listen(0, HOST);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const request: Registry['request'] = (method, path, opts = {}) =>
    new Promise((resolve, reject) => {
      const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
      // Without a header of its own, node would give a body sent with end() a Content-Length.
      if (body) headers[opts.chunked ? 'Transfer-Encoding' : 'Content-Length'] = opts.chunked ? 'chunked' : body.length;
      const req = http.request({ host: HOST, port, method, path, headers, agent: false, timeout: 30_000 });
      let answered = false;
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      // The server may answer (a 413, a 416) and hang up before the body is all sent.
      req.on('error', (e) => (answered ? undefined : reject(e)));
      req.on('response', (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.end(body);
    });
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(root, { recursive: true, force: true });
  };
  return { root, port, store, logs, request, close };
}

/** Pushes a blob in one POST; returns its digest. */
async function pushBlob(reg: Registry, repo: string, bytes: Buffer): Promise<Sha256> {
  const d = sha(bytes);
  const r = await reg.request('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
  assert.equal(r.status, 201, r.body.toString());
  return d;
}

interface Pushed {
  reply: Reply;
  bytes: Buffer;
  digest: Sha256;
}

async function putManifest(reg: Registry, repo: string, ref: string, doc: unknown, mediaType = OCI_MANIFEST): Promise<Pushed> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const reply = await reg.request('PUT', `/v2/${repo}/manifests/${ref}`, { headers: { 'Content-Type': mediaType }, body: bytes });
  return { reply, bytes, digest: sha(bytes) };
}

const desc = (mediaType: string, bytes: Buffer) => ({ mediaType, digest: sha(bytes), size: bytes.length });

/** Pushes a config and layers and returns an image manifest naming them (not yet pushed). */
async function pushImage(reg: Registry, repo: string, layers: Buffer[], docker = false): Promise<Record<string, unknown>> {
  // A random field keeps two images' configs apart.
  const rootfs = { type: 'layers', diff_ids: layers.map((l) => sha(l)) };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs, n: randomBytes(4).toString('hex') }));
  for (const b of [config, ...layers]) await pushBlob(reg, repo, b);
  return {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: desc(docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', config),
    layers: layers.map((l) => desc(docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', l)),
  };
}

/** Starts a session upload; returns its Location. */
async function startSession(reg: Registry, repo: string): Promise<string> {
  const r = await reg.request('POST', `/v2/${repo}/blobs/uploads/`);
  assert.equal(r.status, 202);
  return r.headers.location as string;
}

async function patch(reg: Registry, location: string, chunk: Buffer, start: number): Promise<Reply> {
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + chunk.length - 1}` };
  return reg.request('PATCH', location, { headers, body: chunk });
}

const withDigest = (location: string, d: string) => `${location}${location.includes('?') ? '&' : '?'}digest=${d}`;

describe('registry server', () => {
  let reg: Registry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  it('answers the base endpoint with the API version', async () => {
    const r = await reg.request('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('takes a monolithic upload and serves the blob, whole and in ranges', async () => {
    const bytes = randomBytes(1000);
    const d = sha(bytes);
    const put = await reg.request('POST', `/v2/mono/blobs/uploads/?digest=${d}`, { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/mono/blobs/${d}`);
    assert.equal(put.headers['docker-content-digest'], d);

    const head = await reg.request('HEAD', `/v2/mono/blobs/${d}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(head.headers['docker-content-digest'], d);
    assert.equal(head.body.length, 0);

    const get = await reg.request('GET', `/v2/mono/blobs/${d}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-length'], '1000');
    assert.equal(get.headers['docker-content-digest'], d);
    assert.deepEqual(get.body, bytes);

    const part = await reg.request('GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 10-19/1000');
    assert.equal(part.headers['content-length'], '10');
    assert.deepEqual(part.body, bytes.subarray(10, 20));

    const beyond = await reg.request('GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=1000-1010' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */1000');

    const suffix = await reg.request('GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=-5' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers['content-range'], 'bytes 995-999/1000');
    assert.deepEqual(suffix.body, bytes.subarray(995));
  });

  it('takes a chunked session upload and refuses a chunk out of order', async () => {
    const start = await reg.request('POST', '/v2/chunky/blobs/uploads/');
    assert.equal(start.status, 202);
    const uuid = start.headers['docker-upload-uuid'] as string;
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    assert.equal(start.headers.location, `/v2/chunky/blobs/uploads/${uuid}`);
    assert.equal(start.headers.range, '0-0');

    const chunks = [randomBytes(300 << 10), randomBytes(200 << 10), randomBytes(250 << 10)];
    const all = Buffer.concat(chunks);
    let location = start.headers.location as string;
    let offset = 0;
    for (const c of chunks) {
      const r = await patch(reg, location, c, offset);
      offset += c.length;
      assert.equal(r.status, 202);
      assert.equal(r.headers.range, `0-${offset - 1}`);
      assert.equal(r.headers['docker-upload-uuid'], uuid);
      location = r.headers.location as string;
    }
    const status = await reg.request('GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, `0-${all.length - 1}`);
    assert.equal(status.headers['docker-upload-uuid'], uuid);

    const wrong = await patch(reg, location, randomBytes(100), all.length + 10);
    assert.equal(wrong.status, 416);
    assert.equal(wrong.headers.range, `0-${all.length - 1}`);
    const still = await reg.request('GET', location);
    assert.equal(still.headers.range, `0-${all.length - 1}`);

    const done = await reg.request('PUT', withDigest(location, sha(all)));
    assert.equal(done.status, 201);
    assert.equal(done.headers.location, `/v2/chunky/blobs/${sha(all)}`);
    assert.equal(done.headers['docker-content-digest'], sha(all));
    const get = await reg.request('GET', `/v2/chunky/blobs/${sha(all)}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, all);
  });

  it('finishes an upload with the last chunk in the PUT', async () => {
    const [a, b] = [randomBytes(4000), randomBytes(3000)];
    const all = Buffer.concat([a, b]);
    const first = await patch(reg, await startSession(reg, 'chunky'), a, 0);
    assert.equal(first.status, 202);
    const done = await reg.request('PUT', withDigest(first.headers.location as string, sha(all)), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${a.length}-${all.length - 1}` },
      body: b,
    });
    assert.equal(done.status, 201);
    assert.equal(done.headers['docker-content-digest'], sha(all));
    assert.deepEqual((await reg.request('GET', `/v2/chunky/blobs/${sha(all)}`)).body, all);
  });

  it('resumes an upload whose PATCH was cut off midway', async () => {
    const all = randomBytes(1 << 20);
    const location = await startSession(reg, 'resume');
    const uuid = location.split('/').pop() as string;
    const data = join(reg.root, 'uploads', uuid, 'data');
    const sent = 300 << 10;
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': all.length };
    const cut = http.request({ host: HOST, port: reg.port, method: 'PATCH', path: location, agent: false, headers });
    cut.on('error', () => {});
    cut.write(all.subarray(0, sent));
    await waitFor(() => fs.existsSync(data) && fs.statSync(data).size === sent, 'the first part to reach the upload');
    cut.destroy();
    await waitFor(() => reg.logs.some((l) => l.includes(`PATCH ${location}`)), 'the server to see the cut');

    const status = await reg.request('GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, `0-${sent - 1}`);
    const rest = await patch(reg, location, all.subarray(sent), sent);
    assert.equal(rest.status, 202, rest.body.toString());
    assert.equal(rest.headers.range, `0-${all.length - 1}`);
    const done = await reg.request('PUT', withDigest(rest.headers.location as string, sha(all)));
    assert.equal(done.status, 201, done.body.toString());
    assert.deepEqual((await reg.request('GET', `/v2/resume/blobs/${sha(all)}`)).body, all);
  });

  it('refuses a wrong digest and stores nothing', async () => {
    const blobs = join(reg.root, 'blobs', 'sha256');
    const before = fs.readdirSync(blobs).sort();
    const bytes = randomBytes(2048);
    const other = sha(randomBytes(16));
    const location = await startSession(reg, 'wrong');
    assert.equal((await patch(reg, location, bytes, 0)).status, 202);
    const put = await reg.request('PUT', withDigest(location, other));
    assert.equal(put.status, 400);
    assert.equal(errorCode(put), 'DIGEST_INVALID');
    for (const d of [other, sha(bytes)]) {
      assert.equal((await reg.request('HEAD', `/v2/wrong/blobs/${d}`)).status, 404);
      const get = await reg.request('GET', `/v2/wrong/blobs/${d}`);
      assert.equal(get.status, 404);
      assert.equal(errorCode(get), 'BLOB_UNKNOWN');
    }
    // Monolithic, with a digest of other bytes and with one that is not a digest at all.
    const uploads = fs.readdirSync(join(reg.root, 'uploads')).sort();
    for (const d of [other, 'sha256:nothex']) {
      const mono = await reg.request('POST', `/v2/wrong/blobs/uploads/?digest=${d}`, { body: bytes });
      assert.equal(mono.status, 400);
      assert.equal(errorCode(mono), 'DIGEST_INVALID');
    }
    assert.deepEqual(fs.readdirSync(blobs).sort(), before);
    assert.deepEqual(fs.readdirSync(join(reg.root, 'uploads')).sort(), uploads);
  });

  it('cancels an upload', async () => {
    const location = await startSession(reg, 'cancel');
    assert.equal((await patch(reg, location, randomBytes(100), 0)).status, 202);
    assert.equal((await reg.request('DELETE', location)).status, 204);
    const status = await reg.request('GET', location);
    assert.equal(status.status, 404);
    assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('mounts a blob from another repository, or starts an upload when it cannot', async () => {
    const d = await pushBlob(reg, 'mount/a', randomBytes(500));
    const mounted = await reg.request('POST', `/v2/mount/b/blobs/uploads/?mount=${d}&from=mount/a`);
    assert.equal(mounted.status, 201);
    assert.equal(mounted.headers.location, `/v2/mount/b/blobs/${d}`);
    assert.equal(mounted.headers['docker-content-digest'], d);
    assert.equal((await reg.request('HEAD', `/v2/mount/b/blobs/${d}`)).status, 200);

    const missing = sha(randomBytes(8));
    const fallback = await reg.request('POST', `/v2/mount/b/blobs/uploads/?mount=${missing}&from=mount/a`);
    assert.equal(fallback.status, 202);
    assert.match(fallback.headers.location as string, /^\/v2\/mount\/b\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.ok(fallback.headers['docker-upload-uuid']);
  });

  it('stores and serves OCI and Docker manifests and indexes', async () => {
    const oci = await pushImage(reg, 'app', [randomBytes(700), randomBytes(900)]);
    const put = await putManifest(reg, 'app', 'v1', oci);
    assert.equal(put.reply.status, 201);
    assert.equal(put.reply.headers['docker-content-digest'], put.digest);
    assert.equal(put.reply.headers.location, `/v2/app/manifests/${put.digest}`);
    for (const ref of ['v1', put.digest]) {
      const get = await reg.request('GET', `/v2/app/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(get.status, 200);
      assert.equal(get.headers['content-type'], OCI_MANIFEST);
      assert.equal(get.headers['docker-content-digest'], put.digest);
      assert.deepEqual(get.body, put.bytes);
      const head = await reg.request('HEAD', `/v2/app/manifests/${ref}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(put.bytes.length));
      assert.equal(head.headers['docker-content-digest'], put.digest);
      assert.equal(head.body.length, 0);
    }

    const docker = await putManifest(reg, 'app', 'docker', await pushImage(reg, 'app', [randomBytes(300)], true), DOCKER_MANIFEST);
    assert.equal(docker.reply.status, 201);
    const dget = await reg.request('GET', '/v2/app/manifests/docker');
    assert.equal(dget.headers['content-type'], DOCKER_MANIFEST);
    assert.deepEqual(dget.body, docker.bytes);

    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...desc(OCI_MANIFEST, put.bytes), platform: { os: 'linux', architecture: 'amd64' } }] };
    const iput = await putManifest(reg, 'app', 'multi', index, OCI_INDEX);
    assert.equal(iput.reply.status, 201);
    const iget = await reg.request('GET', `/v2/app/manifests/${iput.digest}`);
    assert.equal(iget.headers['content-type'], OCI_INDEX);
    assert.deepEqual(iget.body, iput.bytes);

    // Content negotiation: a client that takes image manifests but no index gets the index's
    // linux/amd64 image; one that takes neither the type nor a wildcard finds nothing.
    const old = await reg.request('GET', '/v2/app/manifests/multi', { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` } });
    assert.equal(old.status, 200);
    assert.equal(old.headers['docker-content-digest'], put.digest);
    assert.deepEqual(old.body, put.bytes);
    const wildcard = await reg.request('GET', '/v2/app/manifests/multi', { headers: { Accept: '*/*' } });
    assert.equal(wildcard.headers['docker-content-digest'], iput.digest);
    const schema2Only = await reg.request('GET', '/v2/app/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(schema2Only.status, 404);
    assert.equal(errorCode(schema2Only), 'MANIFEST_UNKNOWN');

    const wrong = await putManifest(reg, 'app', sha('something else'), oci);
    assert.equal(wrong.reply.status, 400);
    assert.equal(errorCode(wrong.reply), 'DIGEST_INVALID');
    const byDigest = await putManifest(reg, 'app', put.digest, oci);
    assert.equal(byDigest.reply.status, 201);
  });

  it('refuses bad manifests and names', async () => {
    const image = await pushImage(reg, 'bad', [randomBytes(100)]);
    assert.equal((await putManifest(reg, 'bad', 'ok', image)).reply.status, 201);
    const hole = { ...image, layers: [desc('application/vnd.oci.image.layer.v1.tar+gzip', randomBytes(64))] };
    const missing = await putManifest(reg, 'bad', 'broken', hole);
    assert.equal(missing.reply.status, 400);
    assert.equal(errorCode(missing.reply), 'MANIFEST_BLOB_UNKNOWN');
    const gone = await reg.request('GET', '/v2/bad/manifests/broken');
    assert.equal(gone.status, 404);
    assert.equal(errorCode(gone), 'MANIFEST_UNKNOWN');
    assert.deepEqual(JSON.parse((await reg.request('GET', '/v2/bad/tags/list')).body.toString()).tags, ['ok']);

    const huge = Buffer.from(JSON.stringify({ ...image, annotations: { pad: 'x'.repeat(4 << 20) } }));
    for (const chunked of [false, true]) {
      const big = await reg.request('PUT', '/v2/bad/manifests/huge', { headers: { 'Content-Type': OCI_MANIFEST }, body: huge, chunked });
      assert.equal(big.status, 413, `chunked=${chunked}`);
    }
    const notJson = await reg.request('PUT', '/v2/bad/manifests/nj', { headers: { 'Content-Type': OCI_MANIFEST }, body: '{"schemaVersion": 2,' });
    assert.equal(notJson.status, 400);
    assert.equal(errorCode(notJson), 'MANIFEST_INVALID');

    // Dot segments are refused as they come, not resolved into another repository's path.
    for (const name of ['a..b', 'a%2F..%2Fb', 'Upper', '_x', 'ok/_x', 'a/../b', 'a/%2e%2e/b', './a']) {
      const r = await reg.request('GET', `/v2/${name}/tags/list`);
      assert.equal(r.status, 400, name);
      assert.equal(errorCode(r), 'NAME_INVALID', name);
    }
    const unknown = await reg.request('GET', '/v2/bad/manifests/nope');
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'MANIFEST_UNKNOWN');
    const noRepo = await reg.request('GET', '/v2/no/such/repo/tags/list');
    assert.equal(noRepo.status, 404);
    assert.equal(errorCode(noRepo), 'NAME_UNKNOWN');
  });

  it('paginates the tags list and the catalog', async () => {
    const image = await pushImage(reg, 'paged', [randomBytes(50)]);
    for (const tag of ['e', 'c', 'a', 'd', 'b']) assert.equal((await putManifest(reg, 'paged', tag, image)).reply.status, 201);
    const pages: string[][] = [];
    let next: string | undefined = '/v2/paged/tags/list?n=2';
    for (let i = 0; next && i < 10; i++) {
      const r = await reg.request('GET', next);
      assert.equal(r.status, 200);
      const doc = JSON.parse(r.body.toString()) as { name: string; tags: string[] };
      assert.equal(doc.name, 'paged');
      pages.push(doc.tags);
      const link = r.headers.link as string | undefined;
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
      if (link) assert.ok(next, link);
    }
    assert.deepEqual(pages, [['a', 'b'], ['c', 'd'], ['e']]);

    const all = JSON.parse((await reg.request('GET', '/v2/_catalog')).body.toString()).repositories as string[];
    assert.ok(all.includes('paged') && all.includes('app'));
    assert.deepEqual(all, [...all].sort());
    const first = await reg.request('GET', '/v2/_catalog?n=2');
    assert.deepEqual(JSON.parse(first.body.toString()).repositories, all.slice(0, 2));
    assert.equal(first.headers.link, `</v2/_catalog?n=2&last=${encodeURIComponent(all[1])}>; rel="next"`);
    const after = await reg.request('GET', `/v2/_catalog?n=2&last=${encodeURIComponent(all[1])}`);
    assert.deepEqual(JSON.parse(after.body.toString()).repositories, all.slice(2, 4));
    const tail = await reg.request('GET', `/v2/_catalog?n=100&last=${encodeURIComponent(all[all.length - 2])}`);
    assert.deepEqual(JSON.parse(tail.body.toString()).repositories, all.slice(-1));
    assert.equal(tail.headers.link, undefined);
  });

  it('lists referrers of a subject, filtered by artifact type', async () => {
    const subject = await putManifest(reg, 'refs', 'base', await pushImage(reg, 'refs', [randomBytes(80)]));
    const empty = Buffer.from('{}');
    await pushBlob(reg, 'refs', empty);
    const artifact = (type: string) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: type,
      config: desc('application/vnd.oci.empty.v1+json', empty),
      layers: [],
      subject: desc(OCI_MANIFEST, subject.bytes),
      annotations: { kind: type },
    });
    const sig = await putManifest(reg, 'refs', sha(JSON.stringify(artifact('application/x.sig'))), artifact('application/x.sig'));
    assert.equal(sig.reply.status, 201);
    assert.equal(sig.reply.headers['oci-subject'], subject.digest);
    const sbom = await putManifest(reg, 'refs', 'sbom', artifact('application/x.sbom'));
    assert.equal(sbom.reply.status, 201);

    const list = await reg.request('GET', `/v2/refs/referrers/${subject.digest}`);
    assert.equal(list.status, 200);
    assert.equal(list.headers['content-type'], OCI_INDEX);
    const doc = JSON.parse(list.body.toString()) as { schemaVersion: number; mediaType: string; manifests: { digest: string }[] };
    assert.equal(doc.schemaVersion, 2);
    assert.equal(doc.mediaType, OCI_INDEX);
    assert.deepEqual(doc.manifests.map((m) => m.digest).sort(), [sig.digest, sbom.digest].sort());
    const s = doc.manifests.find((m) => m.digest === sig.digest);
    const annotations = { kind: 'application/x.sig' };
    assert.deepEqual(s, { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.bytes.length, artifactType: 'application/x.sig', annotations });

    const filtered = await reg.request('GET', `/v2/refs/referrers/${subject.digest}?artifactType=application/x.sbom`);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((JSON.parse(filtered.body.toString()) as typeof doc).manifests.map((m) => m.digest), [sbom.digest]);
    const none = await reg.request('GET', `/v2/refs/referrers/${sha('no subject')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(JSON.parse(none.body.toString()).manifests, []);
  });

  it('deletes manifests by digest and by tag', async () => {
    const image = await pushImage(reg, 'del', [randomBytes(60)]);
    const m = await putManifest(reg, 'del', 'one', image);
    await putManifest(reg, 'del', 'two', image);
    const other = await putManifest(reg, 'del', 'keep', await pushImage(reg, 'del', [randomBytes(61)]));
    assert.equal((await reg.request('DELETE', `/v2/del/manifests/${m.digest}`)).status, 202);
    for (const ref of ['one', 'two', m.digest]) assert.equal((await reg.request('GET', `/v2/del/manifests/${ref}`)).status, 404, ref);
    assert.deepEqual(JSON.parse((await reg.request('GET', '/v2/del/tags/list')).body.toString()).tags, ['keep']);

    assert.equal((await reg.request('DELETE', '/v2/del/manifests/keep')).status, 202);
    const tagGone = await reg.request('GET', '/v2/del/manifests/keep');
    assert.equal(tagGone.status, 404);
    assert.equal(errorCode(tagGone), 'MANIFEST_UNKNOWN');
    assert.equal((await reg.request('GET', `/v2/del/manifests/${other.digest}`)).status, 200);
    assert.equal((await reg.request('DELETE', '/v2/del/manifests/keep')).status, 404);
  });

  it('finishes two concurrent uploads of the same bytes into one blob', async () => {
    const bytes = randomBytes(1 << 20);
    const d = sha(bytes);
    const locations = await Promise.all(['twin/a', 'twin/b'].map((repo) => startSession(reg, repo)));
    const patched = await Promise.all(locations.map((l) => patch(reg, l, bytes, 0)));
    assert.deepEqual(patched.map((r) => r.status), [202, 202]);
    const done = await Promise.all(patched.map((r) => reg.request('PUT', withDigest(r.headers.location as string, d))));
    assert.deepEqual(done.map((r) => r.status), [201, 201]);
    assert.equal(fs.readdirSync(join(reg.root, 'blobs', 'sha256')).filter((n) => n === hexOf(d)).length, 1);
    for (const l of locations) assert.equal(fs.existsSync(join(reg.root, 'uploads', l.split('/').pop() as string)), false);
    for (const repo of ['twin/a', 'twin/b']) assert.deepEqual((await reg.request('GET', `/v2/${repo}/blobs/${d}`)).body, bytes);
  });

  it('sends large blobs whole and in ranges, and outlives a client that leaves midway', async () => {
    // Over the sendfile threshold: the kernel moves these bytes, on a keep-alive connection.
    const bytes = randomBytes(3 << 20);
    const d = await pushBlob(reg, 'big', bytes);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        http
          .get({ host: HOST, port: reg.port, path: `/v2/big/blobs/${d}`, headers, agent }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
          })
          .on('error', reject);
      });
    for (let i = 0; i < 3; i++) assert.ok((await get()).body.equals(bytes), `whole, request ${i + 1} on one connection`);
    const part = await get({ Range: 'bytes=100000-1099999' });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(bytes.subarray(100000, 1100000)));
    agent.destroy();

    // A client that reads a little and hangs up: the server goes on serving others.
    await new Promise<void>((resolve) => {
      const req = http.get({ host: HOST, port: reg.port, path: `/v2/big/blobs/${d}`, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
    assert.ok((await get()).body.equals(bytes), 'served again after a client left midway');
    const metrics = (await reg.request('GET', '/metrics')).body.toString();
    const out = Number(/^berth_registry_bytes_sent_total (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(out > 5 * bytes.length, `bytes sent by the kernel are counted (${out})`);
  });

  it('serves Prometheus metrics', async () => {
    const r = await reg.request('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] as string, /^text\/plain/);
    const text = r.body.toString();
    assert.match(text, /^# TYPE berth_registry_requests_total counter$/m);
    assert.match(text, /^berth_registry_requests_total\{method="GET",route="base",code="200"\} [1-9]\d*$/m);
  });
});

describe('registry garbage collection', () => {
  let reg: Registry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  it('deletes only the blobs no manifest reaches', async () => {
    const shared = randomBytes(400);
    const [onlyOne, onlyTwo] = [randomBytes(401), randomBytes(402)];
    const one = await pushImage(reg, 'gc/app', [shared, onlyOne]);
    const two = await pushImage(reg, 'gc/app', [shared, onlyTwo]);
    const m1 = await putManifest(reg, 'gc/app', 'one', one);
    const m2 = await putManifest(reg, 'gc/app', 'two', two);
    assert.deepEqual([m1.reply.status, m2.reply.status], [201, 201]);
    assert.equal((await reg.request('DELETE', `/v2/gc/app/manifests/${m1.digest}`)).status, 202);

    const config1 = (one.config as { digest: Sha256 }).digest;
    const expected = [config1, sha(onlyOne), m1.digest].sort();
    const blobs = () => fs.readdirSync(join(reg.root, 'blobs', 'sha256')).sort();
    const stored = blobs();
    const dry = collectGarbage(reg.store, { dryRun: true });
    assert.deepEqual(dry.deleted.map((d) => d.digest).sort(), expected);
    assert.equal(dry.deleted.find((d) => d.digest === sha(onlyOne))?.size, onlyOne.length);
    assert.deepEqual(blobs(), stored);

    const real = collectGarbage(reg.store);
    assert.deepEqual(real.deleted.map((d) => d.digest).sort(), expected);
    assert.equal(real.marked, 4); // manifest two, its config, the shared layer and its own
    assert.deepEqual(blobs(), stored.filter((h) => !expected.map(hexOf).includes(h)));
    assert.equal((await reg.request('HEAD', `/v2/gc/app/blobs/${sha(onlyOne)}`)).status, 404);

    const get = await reg.request('GET', '/v2/gc/app/manifests/two');
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, m2.bytes);
    const layers = two.layers as { digest: Sha256 }[];
    for (const [d, bytes] of [[layers[0].digest, shared], [layers[1].digest, onlyTwo]] as const) {
      assert.deepEqual((await reg.request('GET', `/v2/gc/app/blobs/${d}`)).body, bytes);
    }
    assert.equal((await reg.request('GET', `/v2/gc/app/blobs/${(two.config as { digest: Sha256 }).digest}`)).status, 200);
  });
});
