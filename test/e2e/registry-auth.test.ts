/**
 * berth's own registry server with auth, against real clients: the berth CLI and the docker CLI
 * through berthd, skopeo and raw HTTP, in both auth modes (htpasswd basic auth and bearer tokens
 * from the server's /token), with one access list: alice may do everything, bob may pull and push
 * bob/*, everyone may pull public/*. Token mode also meets forged, expired and password-grant
 * tokens; a last server speaks HTTPS with a self-signed certificate. Each server is a child
 * process on 127.0.0.1 with a temp dir of its own, stopped by PID.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { TokenClaims } from '../../src/registry/jwt';
import { BerthRegistry } from './berth-registry';
import { Daemon, useDaemon } from './harness';
import { bcrypt, runSkopeo } from './registry';

const SERVICE = 'berth-registry';
const USERS = { alice: 'secret', bob: 'pw' };

type Mode = 'basic' | 'token';

const ACCESS = `access:
  - { account: alice, name: "*", actions: [pull, push, delete] }
  - { account: bob, name: "bob/*", actions: [pull, push] }
  - { account: "", name: "public/*", actions: [pull] }
`;

/**
 * `berth registry serve --config DIR/config.yml` on a free loopback port. The dir holds htpasswd,
 * config.yml and root/ (the storage, and the token key in token mode).
 */
async function startRegistry(mode: Mode | 'none', tls?: { cert: string; key: string }): Promise<BerthRegistry> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), `berth-registry-auth-${mode}-`));
  const lines = await Promise.all(Object.entries(USERS).map(async ([u, p]) => `${u}:${await bcrypt(p)}\n`));
  fs.writeFileSync(join(dir, 'htpasswd'), lines.join(''));
  const auth =
    mode === 'basic'
      ? 'auth:\n  htpasswd: { path: htpasswd, realm: berth-test }\n'
      : mode === 'token'
        ? `auth:\n  token: { htpasswd: htpasswd, service: ${SERVICE}, issuer: ${SERVICE}, expiration: 60 }\n`
        : '';
  fs.writeFileSync(join(dir, 'config.yml'), `root: root\n${auth}${mode === 'none' ? '' : ACCESS}`);
  const reg = await BerthRegistry.start(dir, join(dir, 'root'), ['--config', join(dir, 'config.yml'), ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : [])]);
  started.push(reg);
  return reg;
}

const started: BerthRegistry[] = [];
let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
const regs = {} as Record<Mode, BerthRegistry>;
const work = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-auth-work-'));

before(async () => {
  [regs.basic, regs.token] = await Promise.all([startRegistry('basic'), startRegistry('token')]);
});
after(async () => {
  for (const r of started) await r.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

async function berth(args: string[]): Promise<string> {
  const r = await d.berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(method: string, url: string, headers: Record<string, string | number> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.end(body);
  });
}

/** What the test signs itself: the server's claims, less the id it adds. */
type Claims = Omit<TokenClaims, 'jti'>;

const claimsOf = (jwt: string): Claims => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Claims;

/** An ES256 JWT with `claims`, signed by `key`, as the server's own tokens are made. */
function signJwt(key: KeyObject, claims: Claims): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ ...claims, jti: randomBytes(8).toString('hex') })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const aliceClaims = (now: number, exp: number): Claims => ({
  iss: SERVICE, sub: 'alice', aud: SERVICE, iat: now, nbf: now - 1, exp, access: [{ type: 'repository', name: 'alice/bb', actions: ['pull'] }],
});

const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

for (const mode of ['basic', 'token'] as const) {
  test(`${mode}: anonymous requests are challenged with the mode's WWW-Authenticate`, async () => {
    const reg = regs[mode];
    const base = await request('GET', reg.url('/v2/'));
    assert.equal(base.status, 401, `GET /v2/ without credentials: ${base.body}`);
    if (mode === 'basic') {
      assert.equal(base.headers['www-authenticate'], 'Basic realm="berth-test"');
      return;
    }
    assert.equal(base.headers['www-authenticate'], `Bearer realm="http://${reg.host}/token",service="${SERVICE}"`);
    for (const scope of ['repository:public/x:pull', 'repository:public/x:pull,push']) {
      const t = await request('GET', reg.url(`/token?service=${SERVICE}&scope=${scope}`));
      assert.equal(t.status, 200, t.body);
      const { token } = JSON.parse(t.body) as { token: string };
      const c = claimsOf(token);
      assert.equal(c.sub, '');
      assert.equal(c.aud, SERVICE);
      assert.deepEqual(c.access, [{ type: 'repository', name: 'public/x', actions: ['pull'] }], scope);
      // The token opens the repository for reading (nothing is there: 404, not 401) and no more.
      const tags = await request('GET', reg.url('/v2/public/x/tags/list'), { Authorization: `Bearer ${token}` });
      assert.equal(tags.status, 404, tags.body);
      const upload = await request('POST', reg.url('/v2/public/x/blobs/uploads/'), { Authorization: `Bearer ${token}`, 'Content-Length': 0 });
      assert.equal(upload.status, 401, upload.body);
      assert.match(String(upload.headers['www-authenticate']), /error="insufficient_scope"/);
    }
  });

  test(`${mode}: the berth CLI through berthd: login, push, logout, anonymous pull of public only`, async () => {
    const reg = regs[mode];
    const pub = `${reg.host}/public/bb:1`;
    const own = `${reg.host}/alice/bb:1`;
    await berth(['tag', 'busybox', pub]);
    await berth(['tag', 'busybox', own]);
    const anon = await d.berth(['push', pub]);
    assert.notEqual(anon.code, 0, `an anonymous push must fail:\n${anon.stdout}\nregistry requests:\n${reg.requests().join('\n')}`);
    assert.match(anon.stderr, /unauthorized|authentication required|denied/);

    const login = await d.berth(['login', '-u', 'alice', '-p', 'secret', reg.host]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    for (const name of [pub, own]) assert.match(await berth(['push', name]), /1: digest: sha256:[a-f0-9]{64} size: \d+/);
    await berth(['logout', reg.host]);

    await berth(['rmi', pub, own]);
    assert.match(await berth(['pull', pub]), new RegExp(`Digest: sha256:[a-f0-9]{64}\n.*Status: (Downloaded newer image|Image is up to date) for ${pub}`, 's'));
    assert.equal(await berth(['run', '--rm', pub, 'echo', 'public pull']), 'public pull\n');
    const denied = await d.berth(['pull', own]);
    assert.equal(denied.code, 1, `an anonymous pull of alice/bb must fail: ${denied.stdout}`);
    assert.match(denied.stderr, /pull access denied|unauthorized/);
    await berth(['rmi', pub]);

    const bad = await d.berth(['login', '-u', 'alice', '-p', 'wrong', reg.host]);
    assert.equal(bad.code, 1, `a wrong password must not log in: ${bad.stdout}`);
    assert.match(bad.stderr, /unauthorized/);
  });

  test(`${mode}: the docker CLI through berthd as bob: push to bob/* only, pull back and run`, async () => {
    const reg = regs[mode];
    const mine = `${reg.host}/bob/x:1`;
    const theirs = `${reg.host}/alice/y:1`;
    const login = await d.docker(['login', '-u', 'bob', '-p', 'pw', reg.host]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    await d.dockerOk(['tag', 'busybox', mine]);
    await d.dockerOk(['tag', 'busybox', theirs]);
    assert.match(await d.dockerOk(['push', mine]), /1: digest: sha256:[a-f0-9]{64} size: \d+/);
    const denied = await d.docker(['push', theirs]);
    assert.equal(denied.code, 1, `bob must not push alice/y: ${denied.stdout}\nregistry requests:\n${reg.requests().join('\n')}`);
    assert.match(denied.stderr, /denied|unauthorized/);
    await d.dockerOk(['rmi', mine, theirs]);
    assert.match(await d.dockerOk(['pull', mine]), new RegExp(`Digest: sha256:[a-f0-9]{64}\n.*Status: (Downloaded newer image|Image is up to date) for ${mine}`, 's'));
    assert.equal(await d.dockerOk(['run', '--rm', mine, 'echo', 'bob pulled it']), 'bob pulled it\n');
    await d.dockerOk(['rmi', mine]);
    await d.dockerOk(['logout', reg.host]);
  });

  test(`${mode}: skopeo copies alice/bb with alice's credentials; the copy does not inspect anonymously`, async () => {
    const reg = regs[mode];
    const copy = await runSkopeo(work, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'alice:secret', '--dest-creds', 'alice:secret',
      `docker://${reg.host}/alice/bb:1`, `docker://${reg.host}/alice/copy:1`]);
    assert.equal(copy.code, 0, `${copy.stderr}\nregistry requests:\n${reg.requests().join('\n')}`);
    const withCreds = await runSkopeo(work, ['inspect', '--tls-verify=false', '--creds', 'alice:secret', `docker://${reg.host}/alice/copy:1`]);
    assert.equal(withCreds.code, 0, withCreds.stderr);
    assert.match((JSON.parse(withCreds.stdout) as { Digest: string }).Digest, /^sha256:[a-f0-9]{64}$/);
    const anon = await runSkopeo(work, ['inspect', '--tls-verify=false', '--no-creds', `docker://${reg.host}/alice/copy:1`]);
    assert.notEqual(anon.code, 0, `an anonymous inspect of alice/copy must fail: ${anon.stdout}`);
    assert.match(anon.stderr, /unauthorized|authentication required|denied/);
  });
}

test('token: forged and expired tokens are refused; the password grant signs alice in', async () => {
  const reg = regs.token;
  const manifest = reg.url('/v2/alice/bb/manifests/1');
  const now = Math.floor(Date.now() / 1000);
  const real = createPrivateKey(fs.readFileSync(join(reg.root, 'token-key.pem')));
  const get = (token: string) => request('GET', manifest, { Authorization: `Bearer ${token}`, Accept: MANIFEST_ACCEPT });
  // The server's own key with the same claims opens it: the refusals below are about the key and the time.
  const good = await get(signJwt(real, aliceClaims(now, now + 60)));
  assert.equal(good.status, 200, good.body);

  const { privateKey: other } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (const [what, token] of [['another key', signJwt(other, aliceClaims(now, now + 60))], ['expired an hour ago', signJwt(real, aliceClaims(now - 7200, now - 3600))]]) {
    const r = await get(token);
    assert.equal(r.status, 401, `${what}: ${r.body}`);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm="[^"]+\/token",service="berth-registry",scope="repository:alice\/bb:pull",error="invalid_token"$/, what);
    const base = await request('GET', reg.url('/v2/'), { Authorization: `Bearer ${token}` });
    assert.equal(base.status, 401, `${what} at /v2/: ${base.body}`);
    assert.match(String(base.headers['www-authenticate']), /error="invalid_token"/, what);
  }

  const form = (password: string) => new URLSearchParams({ grant_type: 'password', username: 'alice', password, service: SERVICE, scope: 'repository:alice/bb:pull,push', client_id: 'berth-e2e' }).toString();
  const post = (password: string) => request('POST', reg.url('/token'), { 'Content-Type': 'application/x-www-form-urlencoded' }, form(password));
  const granted = await post('secret');
  assert.equal(granted.status, 200, granted.body);
  const body = JSON.parse(granted.body) as { access_token: string; expires_in: number };
  assert.equal(body.expires_in, 60);
  const c = claimsOf(body.access_token);
  assert.equal(c.sub, 'alice');
  assert.deepEqual(c.access, [{ type: 'repository', name: 'alice/bb', actions: ['pull', 'push'] }]);
  assert.equal((await get(body.access_token)).status, 200);
  const wrong = await post('nope');
  assert.equal(wrong.status, 401, wrong.body);
  assert.equal((JSON.parse(wrong.body) as { error: string }).error, 'invalid_grant');
});

test('TLS with a self-signed certificate: curl -k sees /v2/, berthd pushes and pulls over https', async () => {
  const cert = join(work, 'tls-cert.pem');
  const key = join(work, 'tls-key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert]);
  const reg = await startRegistry('none', { cert, key });
  assert.equal(reg.scheme, 'https');
  assert.equal((await run('curl', ['-k', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `https://${reg.host}/v2/`])).trim(), '200');
  // Without -k curl refuses the certificate: it really is TLS with an unknown issuer.
  await assert.rejects(run('curl', ['-s', '--max-time', '10', `https://${reg.host}/v2/`]));

  const name = `${reg.host}/tls/bb:1`;
  await berth(['tag', 'busybox', name]);
  assert.match(await berth(['push', name]), /1: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.match(reg.requests().join('\n'), /PUT \/v2\/tls\/bb\/manifests\/1 201/);
  await berth(['rmi', name]);
  assert.match(await berth(['pull', name]), new RegExp(`Digest: sha256:[a-f0-9]{64}\n.*Status: (Downloaded newer image|Image is up to date) for ${name}`, 's'));
  assert.equal(await berth(['run', '--rm', name, 'echo', 'over tls']), 'over tls\n');
  await berth(['rmi', name]);
});

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
