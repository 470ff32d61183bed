import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hashSync } from 'bcryptjs';
import { AccessList, Htpasswd } from './auth';
import { authorizerFor, ConfigError, loadConfig } from './config';
import { TokenKey } from './jwt';

const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-auth-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the access list: accounts, everyone, globs and actions', () => {
  const list = new AccessList([
    { account: 'alice', name: '*', actions: ['*'] },
    { account: 'bob', name: 'bob/*', actions: ['pull', 'push'] },
    { account: '*', name: 'shared', actions: ['pull'] },
    { account: '', name: 'public/*', actions: ['pull'] },
  ]);
  assert.deepEqual(list.granted('alice', 'any/thing', ['pull', 'push', 'delete']), ['pull', 'push', 'delete']);
  assert.deepEqual(list.granted('bob', 'bob/app', ['pull', 'push', 'delete']), ['pull', 'push']);
  assert.deepEqual(list.granted('bob', 'alice/app', ['pull']), []);
  // '*' is any signed-in account, '' everyone.
  assert.deepEqual(list.granted('carol', 'shared', ['pull', 'push']), ['pull']);
  assert.deepEqual(list.granted(undefined, 'shared', ['pull']), []);
  assert.deepEqual(list.granted(undefined, 'public/x', ['pull', 'push']), ['pull']);
  assert.deepEqual(list.granted('bob', 'public/x', ['pull']), ['pull']);
  // A glob's dot is a dot, not any character.
  assert.deepEqual(new AccessList([{ account: '', name: 'a.b', actions: ['pull'] }]).granted(undefined, 'axb', ['pull']), []);
});

test('htpasswd: bcrypt hashes ($2y$ from htpasswd -B too) and nothing else', () => {
  const path = join(dir, 'users');
  fs.writeFileSync(path, `# comment\nalice:${hashSync('secret', 4).replace(/^\$2b\$/, '$2y$')}\n\nbob:${hashSync('pw', 4)}\n`);
  const users = new Htpasswd(path);
  assert.equal(users.check('alice', 'secret'), true);
  assert.equal(users.check('alice', 'wrong'), false);
  assert.equal(users.check('bob', 'pw'), true);
  assert.equal(users.check('carol', 'pw'), false);
  fs.writeFileSync(path, 'alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
  assert.throws(() => new Htpasswd(path), /not bcrypt/);
});

test('tokens: signed and checked by the same key; another key, another audience or an expired token fail', () => {
  const key = TokenKey.load(join(dir, 'key.pem'));
  assert.equal(fs.statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'me', sub: 'alice', aud: 'svc', iat: now, nbf: now, exp: now + 60, access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] };
  const token = key.sign(claims);
  assert.deepEqual(key.verify(token, { iss: 'me', aud: 'svc' })?.access, claims.access);
  assert.equal(key.verify(token, { iss: 'me', aud: 'other' }), undefined);
  assert.equal(key.verify(token, { iss: 'you', aud: 'svc' }), undefined);
  assert.equal(key.verify(key.sign({ ...claims, exp: now - 120 }), { iss: 'me', aud: 'svc' }), undefined);
  // Reloading gives the same key; a second key does not verify the first one's tokens.
  assert.ok(TokenKey.load(join(dir, 'key.pem')).verify(token, { iss: 'me', aud: 'svc' }));
  const other = TokenKey.load(join(dir, 'other.pem'));
  assert.equal(other.verify(token, { iss: 'me', aud: 'svc' }), undefined);
  // A tampered payload fails the signature.
  const [h, , s] = token.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'a/b', actions: ['push'] }] })).toString('base64url')}.${s}`;
  assert.equal(key.verify(forged, { iss: 'me', aud: 'svc' }), undefined);
  // Only EC P-256 keys are taken.
  fs.writeFileSync(join(dir, 'rsa.pem'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  assert.throws(() => TokenKey.load(join(dir, 'rsa.pem')), /P-256/);
});

test('the config file: defaults, relative paths, flags of each mode, and clear errors', () => {
  const users = join(dir, 'cfg-users');
  fs.writeFileSync(users, `alice:${hashSync('secret', 4)}\n`);
  const write = (text: string) => {
    const p = join(dir, 'registry.yml');
    fs.writeFileSync(p, text);
    return p;
  };
  const defaults = { addr: '127.0.0.1:5000', root: join(dir, 'root') };
  assert.deepEqual(loadConfig(undefined, defaults), { addr: '127.0.0.1:5000', root: join(dir, 'root'), access: [{ account: '*', name: '*', actions: ['pull', 'push', 'delete'] }] });
  const basic = loadConfig(write('root: data\nauth:\n  htpasswd: { path: cfg-users }\naccess:\n  - { account: "", name: "public/*", actions: [pull] }\n'), defaults);
  assert.equal(basic.root, join(dir, 'data'));
  assert.deepEqual(basic.auth, { htpasswd: { path: users, realm: 'berth-registry' } });
  assert.equal(authorizerFor(basic)?.constructor.name, 'BasicAuth');
  const token = loadConfig(write('root: data\nauth:\n  token: { htpasswd: cfg-users, expiration: 60 }\n'), defaults);
  assert.deepEqual(token.auth, { token: { htpasswd: users, service: 'berth-registry', issuer: 'berth-registry', expiration: 60 } });
  assert.equal(authorizerFor(token)?.constructor.name, 'TokenAuth');
  assert.ok(fs.existsSync(join(dir, 'data', 'token-key.pem')), 'the token key is made in the root');
  assert.equal(authorizerFor(loadConfig(undefined, defaults)), undefined);
  for (const [text, message] of [
    ['auth:\n  htpasswd: { path: x }\n  token: { htpasswd: x }\n', /exclude each other/],
    ['auth:\n  ldap: {}\n', /unknown field "ldap"/],
    ['access:\n  - { account: a, name: "*", actions: [write] }\n', /actions/],
    ['access: {}\n', /want a list/],
    ['auth:\n  token: { htpasswd: x, expiration: 1 }\n', /expiration/],
    ['tls: { cert: c.pem }\n', /tls.key is required/],
    ['addr: [\n', /registry.yml/],
  ] as const) {
    assert.throws(() => loadConfig(write(text), defaults), (e: unknown) => e instanceof ConfigError && message.test((e as Error).message), text);
  }
});
