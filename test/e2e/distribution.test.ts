/**
 * Pull and push against real registries (Debian's docker-registry on loopback), through the
 * docker CLI and the API: by tag and by digest, cross-repository mounts, token auth with a
 * token issuer (login, wrong credentials), a multi-arch index, skopeo both ways, a broken and a
 * tampered download, and a daemon killed mid-pull.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before } from 'node:test';
import { busyboxTar, Daemon, sleep, until, useDaemon } from './harness';
import { runSkopeo, TestRegistry } from './registry';
import { TcpProxy } from './tcp-proxy';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
let reg: TestRegistry;
let secure: TestRegistry;
const work = fs.mkdtempSync(join(os.tmpdir(), 'berth-distribution-'));

before(async () => {
  reg = await TestRegistry.start();
  secure = await TestRegistry.start({ auth: 'token', users: { alice: 'wonderland' } });
});
after(async () => {
  await reg?.stop();
  await secure?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const ok = (args: string[]) => d.dockerOk(args);
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobCount = () => fs.readdirSync(join(d.dataRoot, 'content', 'blobs', 'sha256')).length;
const leftovers = () => [
  ...fs.readdirSync(join(d.dataRoot, 'content', 'ingest')),
  ...fs.readdirSync(join(d.dataRoot, 'snapshots')).filter((n) => n.startsWith('ingest-')),
];

test('push, remove, pull back by tag and by digest, run; a second push mounts or skips', async () => {
  const name = `${reg.host}/test/bb:1`;
  // Its own image (busybox's layer, its own config), so removing the name removes the image.
  await d.importBusybox(name);
  const before = blobCount();
  const pushed = await ok(['push', name]);
  assert.match(pushed, new RegExp(`The push refers to repository \\[${reg.host}/test/bb\\]`));
  assert.match(pushed, /: Pushed/);
  const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', name])).trim();
  await ok(['rmi', name]);

  const pulled = await ok(['pull', name]);
  assert.match(pulled, /1: Pulling from test\/bb/);
  assert.match(pulled, new RegExp(`Digest: ${digest}`));
  assert.match(pulled, new RegExp(`Status: Downloaded newer image for ${name}`));
  assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}}', name])).trim(), id);
  assert.equal(await ok(['run', '--rm', name, 'echo', 'pulled by tag']), 'pulled by tag\n');
  assert.match(await ok(['pull', name]), /Status: Image is up to date/);
  assert.match(await ok(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}']), new RegExp(`${reg.host}/test/bb ${digest}`));

  await ok(['rmi', name]);
  assert.equal(leftovers().length, 0);
  const byDigest = `${reg.host}/test/bb@${digest}`;
  await ok(['pull', byDigest]);
  assert.equal(await ok(['run', '--rm', byDigest, 'echo', 'pulled by digest']), 'pulled by digest\n');
  assert.match(await ok(['image', 'inspect', '-f', '{{json .RepoDigests}}', id]), new RegExp(`${reg.host}/test/bb@${digest}`));

  // Another repository of the same registry: the layer is mounted, not sent again; then it exists.
  await ok(['tag', id, `${reg.host}/other/bb:2`]);
  assert.match(await ok(['push', `${reg.host}/other/bb:2`]), /Mounted from test\/bb/);
  assert.match(await ok(['push', `${reg.host}/other/bb:2`]), /Layer already exists/);
  await ok(['rmi', `${reg.host}/other/bb:2`]);
  assert.equal(await ok(['rmi', byDigest]), `Untagged: ${byDigest}\nDeleted: ${id}\n`);
  // Busybox itself still holds its own blobs; nothing of the pulled image stays behind.
  assert.equal(blobCount(), before, 'the image\'s config went, the busybox layer gained the gzip form the push made');

  const missing = await d.docker(['pull', `${reg.host}/test/bb:nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`manifest for ${reg.host}/test/bb:nope not found: manifest unknown`));
});

test('token auth: docker login, push and pull with the token; wrong credentials are unauthorized', async () => {
  const name = `${secure.host}/sec/bb:1`;
  const bad = await d.docker(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 'nope\n' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unauthorized/);
  const login = await d.docker(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 'wonderland\n' });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  await ok(['tag', 'busybox', name]);
  await ok(['push', name]);
  assert.ok(secure.tokenRequests.some((r) => r.user === 'alice' && r.granted.some((g) => g === 'repository:sec/bb:pull,push')), JSON.stringify(secure.tokenRequests));
  await ok(['rmi', name]);
  await ok(['pull', name]);
  assert.equal(await ok(['run', '--rm', name, 'echo', 'secure']), 'secure\n');
  await ok(['rmi', name]);

  // Wrong credentials in X-Registry-Auth: the daemon answers unauthorized.
  const header = Buffer.from(JSON.stringify({ username: 'alice', password: 'wrong', serveraddress: secure.host })).toString('base64url');
  const r = await d.api('POST', `/images/create?fromImage=${encodeURIComponent(`${secure.host}/sec/bb`)}&tag=1`, undefined, { 'X-Registry-Auth': header });
  assert.equal(r.status, 401, r.body);
  assert.match(r.body, /unauthorized/);

  await ok(['logout', secure.host]);
  const anon = await d.docker(['pull', name]);
  assert.equal(anon.code, 1);
  assert.match(anon.stderr, /pull access denied for .*sec\/bb, repository does not exist or may require 'docker login': unauthorized/);
});

test('the berth CLI: login, push with progress lines, pull by tag, wrong credentials exit 1 with unauthorized', async () => {
  const name = `${secure.host}/cli/bb:1`;
  const bad = await d.berth(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 'nope\n' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unauthorized/);
  const login = await d.berth(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 'wonderland\n' });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  const saved = JSON.parse(fs.readFileSync(join(d.dir, 'berth-config', 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(saved.auths[secure.host].auth, 'base64').toString(), 'alice:wonderland');

  assert.equal((await d.berth(['tag', 'busybox', name])).code, 0);
  const push = await d.berth(['push', name]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /: (Pushed|Layer already exists|Mounted from)/);
  assert.match(push.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.equal((await d.berth(['rmi', name])).code, 0);
  const pull = await d.berth(['pull', name]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Status: (Downloaded newer image|Image is up to date) for ${name}`));

  assert.equal((await d.berth(['logout', secure.host])).code, 0);
  const anon = await d.berth(['pull', name]);
  assert.equal(anon.code, 1);
  assert.match(anon.stderr, /pull access denied/);
  await d.berth(['rmi', name]);
});

test('a multi-arch index: the host platform by default, --platform linux/arm64 on request', async () => {
  const repo = `${reg.host}/multi/app`;
  await ok(['tag', 'busybox', `${repo}:amd64`]);
  await ok(['push', `${repo}:amd64`]);
  const amd = await registryGet(reg.host, '/v2/multi/app/manifests/amd64', { Accept: 'application/vnd.docker.distribution.manifest.v2+json' });
  const manifest = JSON.parse(amd.toString()) as { config: { digest: string }; layers: unknown[] };
  const amdConfig = JSON.parse((await registryGet(reg.host, `/v2/multi/app/blobs/${manifest.config.digest}`)).toString()) as Record<string, unknown>;
  const armConfig = Buffer.from(JSON.stringify({ ...amdConfig, architecture: 'arm64', variant: 'v8' }));
  await registryUpload(reg.host, 'multi/app', armConfig);
  const armManifest = Buffer.from(JSON.stringify({ ...manifest, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(armConfig), size: armConfig.length } }));
  await registryPut(reg.host, '/v2/multi/app/manifests/arm64', armManifest, 'application/vnd.docker.distribution.manifest.v2+json');
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: [
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256(amd), size: amd.length, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256(armManifest), size: armManifest.length, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
  }));
  await registryPut(reg.host, '/v2/multi/app/manifests/both', index, 'application/vnd.docker.distribution.manifest.list.v2+json');

  await ok(['pull', `${repo}:both`]);
  assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}} {{.Architecture}}', `${repo}:both`])).trim(), `${manifest.config.digest} amd64`);
  assert.match(await ok(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${repo}:both`]), new RegExp(sha256(index)));
  await ok(['pull', '--platform', 'linux/arm64', `${repo}:both`]);
  assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}} {{.Architecture}}', `${repo}:both`])).trim(), `${sha256(armConfig)} arm64`);
  const none = await d.docker(['pull', '--platform', 'linux/s390x', `${repo}:both`]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
});

test('skopeo copies a berth-pushed image out, and an image skopeo pushed pulls and runs in berth', async () => {
  await ok(['tag', 'busybox', `${reg.host}/sk/out:1`]);
  await ok(['push', `${reg.host}/sk/out:1`]);
  const out = await runSkopeo(work, ['copy', '--src-tls-verify=false', `docker://${reg.host}/sk/out:1`, `oci-archive:${join(work, 'out.tar')}`]);
  assert.equal(out.code, 0, out.stderr);

  const layout = writeBusyboxLayout(join(work, 'layout'));
  const pushed = await runSkopeo(work, ['copy', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${reg.host}/sk/in:1`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await ok(['pull', `${reg.host}/sk/in:1`]);
  assert.equal(await ok(['run', '--rm', `${reg.host}/sk/in:1`, 'echo', 'from skopeo']), 'from skopeo\n');
});

test('a connection broken mid-layer resumes; a tampered blob fails the pull and leaves nothing', async () => {
  await ok(['run', '--name', 'big', 'busybox', 'sh', '-c', 'head -c 24000000 /dev/urandom > /big && md5sum /big > /big.md5']);
  await ok(['commit', 'big', `${reg.host}/big/img:1`]);
  await ok(['rm', 'big']);
  await ok(['push', `${reg.host}/big/img:1`]);
  await ok(['rmi', `${reg.host}/big/img:1`]);

  const proxy = await TcpProxy.start(reg.host, { cutAfter: 8_000_000 });
  try {
    const name = `${proxy.host}/big/img:1`;
    const pulled = await d.docker(['pull', name]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(proxy.cuts, 1);
    assert.equal(await ok(['run', '--rm', name, 'md5sum', '-c', '/big.md5']), '/big: OK\n');
    await ok(['rmi', name]);
  } finally {
    await proxy.close();
  }

  // Flip bytes in the middle of the big layer's blob in the registry's storage.
  const m = JSON.parse((await registryGet(reg.host, '/v2/big/img/manifests/1', { Accept: 'application/vnd.docker.distribution.manifest.v2+json' })).toString()) as { layers: { digest: string; size: number }[] };
  const big = m.layers.reduce((a, b) => (a.size > b.size ? a : b));
  const file = join(reg.dir, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', big.digest.slice(7, 9), big.digest.slice(7), 'data');
  const saved = fs.readFileSync(file);
  const tampered = Buffer.from(saved);
  for (let i = 0; i < 64; i++) tampered[Math.floor(saved.length / 2) + i] ^= 0xff;
  fs.writeFileSync(file, tampered);
  try {
    const before = await ok(['images', '-q', '--no-trunc']);
    const r = await d.docker(['pull', `${reg.host}/big/img:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr + r.stdout, /verification failed|digest mismatch|invalid gzip|failed to extract/);
    assert.equal(await ok(['images', '-q', '--no-trunc']), before);
    assert.equal(leftovers().length, 0);
  } finally {
    fs.writeFileSync(file, saved);
  }
});

test('berthd killed mid-pull: the next start cleans up and the next pull completes', async () => {
  const proxy = await TcpProxy.start(reg.host, { bytesPerSecond: 8_000_000 });
  const name = `${proxy.host}/big/img:1`;
  try {
    const pull = spawn('docker', ['pull', name], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }, stdio: 'ignore' });
    const exited = new Promise((r) => pull.on('exit', r));
    // Wait until a good part of the layer is in, then kill the daemon.
    await until(() => fs.readdirSync(join(d.dataRoot, 'content', 'ingest')).some((f) => fs.statSync(join(d.dataRoot, 'content', 'ingest', f)).size > 4_000_000), 20_000, 'the download to be under way');
    await d.crash();
    await exited;
    await sleep(100);
    await d.launch();
    assert.deepEqual(leftovers(), []);
    assert.equal((await d.docker(['image', 'inspect', name])).code, 1);
    await proxy.close();
    await ok(['pull', `${reg.host}/big/img:1`]);
    assert.equal(await ok(['run', '--rm', `${reg.host}/big/img:1`, 'md5sum', '-c', '/big.md5']), '/big: OK\n');
  } finally {
    await proxy.close().catch(() => {});
  }
});

/** An OCI layout holding busybox as one gzip layer, as another tool would have made it. */
function writeBusyboxLayout(layout: string): string {
  const blobs = join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer, mediaType: string) => {
    fs.writeFileSync(join(blobs, sha256(data).slice(7)), data);
    return { mediaType, digest: sha256(data), size: data.length };
  };
  const tar = fs.readFileSync(busyboxTar());
  const layer = put(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } })), 'application/vnd.oci.image.config.v1+json');
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })), 'application/vnd.oci.image.manifest.v1+json');
  fs.writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  return layout;
}

function registryRequest(host: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${host}${path}`, { method, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

async function registryGet(host: string, path: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const r = await registryRequest(host, 'GET', path, headers);
  assert.equal(r.status, 200, `GET ${path}: ${r.body.toString()}`);
  return r.body;
}

async function registryPut(host: string, path: string, body: Buffer, contentType: string): Promise<void> {
  const r = await registryRequest(host, 'PUT', path, { 'Content-Type': contentType }, body);
  assert.equal(r.status, 201, `PUT ${path}: ${r.body.toString()}`);
}

async function registryUpload(host: string, repo: string, blob: Buffer): Promise<void> {
  const start = await registryRequest(host, 'POST', `/v2/${repo}/blobs/uploads/`, {});
  assert.equal(start.status, 202);
  const loc = new URL(String(start.headers.location), `http://${host}`);
  loc.searchParams.set('digest', sha256(blob));
  const put = await registryRequest(host, 'PUT', loc.pathname + loc.search, { 'Content-Type': 'application/octet-stream' }, blob);
  assert.equal(put.status, 201, put.body.toString());
}


test('--registry-mirror: Docker Hub names are pulled from the mirror', async () => {
  // The mirror holds library/mirrored:1; with it configured, `mirrored:1` (docker.io) never
  // needs Docker Hub, so nothing leaves the machine.
  await ok(['tag', 'busybox', `${reg.host}/library/mirrored:1`]);
  await ok(['push', `${reg.host}/library/mirrored:1`]);
  await d.stop();
  d.extraArgs = ['--registry-mirror', `http://${reg.host}`];
  try {
    await d.launch();
    const pulled = await ok(['pull', 'mirrored:1']);
    assert.match(pulled, /Status: (Downloaded newer image|Image is up to date) for mirrored:1/);
    assert.equal(await ok(['run', '--rm', 'mirrored:1', 'echo', 'via the mirror']), 'via the mirror\n');
    assert.match(await ok(['image', 'inspect', '-f', '{{json .RepoDigests}}', 'mirrored:1']), /"mirrored@sha256:[a-f0-9]{64}"/);
  } finally {
    await d.stop();
    d.extraArgs = [];
    await d.launch();
  }
});
