/**
 * The test registry helper works: in each auth mode the real docker-registry answers /v2/ as
 * Docker clients expect, skopeo pushes a tiny OCI image and pulls it back, and wrong
 * credentials are refused. No berthd here: this checks the tool other e2e files rely on.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test, type TestContext } from 'node:test';
import { runSkopeo, TOKEN_SERVICE, TestRegistry, type RegistryOptions } from './registry';

const USERS = { alice: 'wonderland' };
const work = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-test-'));
let image: { layout: string; manifestDigest: string; layerDigest: string };

before(() => {
  image = writeOciImage(join(work, 'image'));
  // Our own policy: the host's policy.json may demand signatures or be missing.
  fs.writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  fs.mkdirSync(join(work, 'tmp'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** One registry for a describe block, stopped after it whatever happened; returns its test(). */
function useRegistry(opts: RegistryOptions): { reg: () => TestRegistry; it: (name: string, fn: (t: TestContext) => Promise<void>) => void } {
  let reg: TestRegistry | undefined;
  before(async () => {
    const t0 = Date.now();
    reg = await TestRegistry.start(opts);
    process.stderr.write(`# registry (${opts.auth ?? 'none'}) started in ${Date.now() - t0} ms\n`);
  });
  after(async () => {
    const dir = reg?.dir;
    await reg?.stop();
    if (dir) assert.equal(fs.existsSync(dir), false, `${dir} was left behind`);
  });
  const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, { timeout: 120_000 }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      t.diagnostic(`docker-registry log (last 40 lines):\n${reg?.log().split('\n').slice(-40).join('\n')}`);
      throw e;
    }
  });
  return { reg: () => reg!, it };
}

describe('no auth', () => {
  const { reg, it } = useRegistry({ auth: 'none' });

  it('/v2/ answers 200', async () => {
    assert.equal((await get(`http://${reg().host}/v2/`)).status, 200);
  });

  it('skopeo pushes an image and pulls it back', async () => {
    await roundTrip(reg(), 'plain/hello:1', ['--dest-no-creds'], ['--src-no-creds']);
  });
});

describe('basic auth', () => {
  const { reg, it } = useRegistry({ auth: 'basic', users: USERS });

  it('/v2/ asks for Basic credentials and accepts the right ones only', async () => {
    const anon = await get(`http://${reg().host}/v2/`);
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic realm=/);
    assert.equal((await get(`http://${reg().host}/v2/`, { Authorization: basic('alice', 'wonderland') })).status, 200);
    assert.equal((await get(`http://${reg().host}/v2/`, { Authorization: basic('alice', 'wrong') })).status, 401);
  });

  it('skopeo pushes and pulls with the right password', async () => {
    await roundTrip(reg(), 'basic/hello:1', ['--dest-creds', 'alice:wonderland'], ['--src-creds', 'alice:wonderland']);
  });

  it('skopeo fails with a wrong password or none', async () => {
    await refused(reg(), ['--dest-creds', 'alice:wrong'], ['--src-creds', 'alice:wrong'], 'basic/hello:1');
    const anon = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${reg().host}/basic/hello:1`]);
    assert.notEqual(anon.code, 0, 'an anonymous pull was let through');
  });
});

describe('token auth', () => {
  const { reg, it } = useRegistry({ auth: 'token', users: USERS, anonymousPull: true });

  it('/v2/ sends clients to the issuer, whose tokens it accepts', async () => {
    const anon = await get(`http://${reg().host}/v2/`);
    assert.equal(anon.status, 401);
    const challenge = String(anon.headers['www-authenticate']);
    const m = /^Bearer realm="([^"]+)",service="([^"]+)"/.exec(challenge);
    assert.ok(m, `challenge: ${challenge}`);
    assert.equal(m[2], TOKEN_SERVICE);
    const realm = `${m[1]}?service=${encodeURIComponent(m[2])}`;

    const denied = await get(realm, { Authorization: basic('alice', 'wrong') });
    assert.equal(denied.status, 401);
    assert.equal(JSON.parse(denied.body).errors[0].code, 'UNAUTHORIZED');

    const ok = await get(realm, { Authorization: basic('alice', 'wonderland') });
    assert.equal(ok.status, 200);
    const body = JSON.parse(ok.body) as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.equal((await get(`http://${reg().host}/v2/`, { Authorization: `Bearer ${body.token}` })).status, 200);
  });

  it('skopeo pushes and pulls with the right password; the issuer grants what was asked', async () => {
    reg().tokenRequests.length = 0;
    await roundTrip(reg(), 'team/hello:1', ['--dest-creds', 'alice:wonderland'], ['--src-creds', 'alice:wonderland']);
    const push = reg().tokenRequests.find((r) => r.scope.includes('repository:team/hello:pull,push'));
    assert.ok(push, `token requests: ${JSON.stringify(reg().tokenRequests)}`);
    assert.equal(push.user, 'alice');
    assert.deepEqual(push.granted, ['repository:team/hello:pull,push']);
  });

  it('anonymous requests may pull but not push', async () => {
    reg().tokenRequests.length = 0;
    const pulled = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${reg().host}/team/hello:1`]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(sha256(Buffer.from(pulled.stdout)), image.manifestDigest);
    const pushed = await skopeo(['copy', '--dest-tls-verify=false', '--dest-no-creds', `oci:${image.layout}:1`, `docker://${reg().host}/team/anon:1`]);
    assert.notEqual(pushed.code, 0, 'an anonymous push was let through');
    assert.match(pushed.stderr, /unauthorized|authentication required|denied/i);
    const asks = reg().tokenRequests;
    assert.ok(asks.length > 0 && asks.every((r) => r.user === undefined), JSON.stringify(asks));
    assert.ok(asks.flatMap((r) => r.granted).every((g) => g.endsWith(':pull')), JSON.stringify(asks));
  });

  it('skopeo fails with a wrong password', async () => {
    await refused(reg(), ['--dest-creds', 'alice:wrong'], ['--src-creds', 'alice:wrong'], 'team/hello:1');
  });
});

describe('token auth without anonymous pull', () => {
  const { reg, it } = useRegistry({ auth: 'token', users: USERS });

  it('an anonymous token grants nothing and the registry refuses it', async () => {
    const pulled = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${reg().host}/team/hello:1`]);
    assert.notEqual(pulled.code, 0);
    assert.match(pulled.stderr, /unauthorized|authentication required|denied/i);
    assert.ok(reg().tokenRequests.length > 0);
    assert.deepEqual(reg().tokenRequests.flatMap((r) => r.granted), []);
  });
});

/** Pushes the test image as `ref`, checks the registry holds the same manifest, pulls it back. */
async function roundTrip(reg: TestRegistry, ref: string, destAuth: string[], srcAuth: string[]): Promise<void> {
  const remote = `docker://${reg.host}/${ref}`;
  const push = await skopeo(['copy', '--dest-tls-verify=false', ...destAuth, `oci:${image.layout}:1`, remote]);
  assert.equal(push.code, 0, push.stderr);
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ...srcAuth.map((a) => a.replace(/^--src-/, '--')), remote]);
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(sha256(Buffer.from(raw.stdout)), image.manifestDigest, 'the registry holds a different manifest');
  const back = fs.mkdtempSync(join(work, 'pulled-'));
  const pull = await skopeo(['copy', '--src-tls-verify=false', ...srcAuth, remote, `oci:${back}:1`]);
  assert.equal(pull.code, 0, pull.stderr);
  const layer = join('blobs', 'sha256', image.layerDigest.slice('sha256:'.length));
  assert.deepEqual(fs.readFileSync(join(back, layer)), fs.readFileSync(join(image.layout, layer)));
}

/** A push and a pull with these (wrong) credentials both fail as unauthorized. */
async function refused(reg: TestRegistry, destAuth: string[], srcAuth: string[], existing: string): Promise<void> {
  const push = await skopeo(['copy', '--dest-tls-verify=false', ...destAuth, `oci:${image.layout}:1`, `docker://${reg.host}/refused/x:1`]);
  assert.notEqual(push.code, 0, 'a push with a wrong password was let through');
  assert.match(push.stderr, /unauthorized|authentication required|denied/i);
  const pull = await skopeo(['copy', '--src-tls-verify=false', ...srcAuth, `docker://${reg.host}/${existing}`, `oci:${fs.mkdtempSync(join(work, 'refused-'))}:1`]);
  assert.notEqual(pull.code, 0, 'a pull with a wrong password was let through');
  assert.match(pull.stderr, /unauthorized|authentication required|denied/i);
}

/**
 * An OCI image layout holding one image, tagged 1: a gzip layer with hello.txt and a minimal
 * config. Built here so the test needs no image from outside.
 */
function writeOciImage(layout: string): typeof image {
  const root = join(layout, '..', 'rootfs');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(join(root, 'hello.txt'), 'hello from the test registry\n');
  const tar = execFileSync('tar', ['-C', root, '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', 'hello.txt']);
  const blobs = join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer, mediaType: string) => {
    const digest = sha256(data);
    fs.writeFileSync(join(blobs, digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  };
  const layer = put(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const config = put(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
  })), 'application/vnd.oci.image.config.v1+json');
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer],
  })), 'application/vnd.oci.image.manifest.v1+json');
  fs.writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
  }));
  return { layout, manifestDigest: manifest.digest, layerDigest: layer.digest };
}

function skopeo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSkopeo(work, args);
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
  });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
