import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { authKeyForDomain, configFilePath, convertToHostname, DockerConfigFile, encodeRegistryAuth, INDEX_SERVER, registryAuthFor } from './credentials';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-creds-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => fs.mkdtempSync(path.join(tmp, `c${n++}-`));
const b64 = (s: string) => Buffer.from(s).toString('base64');
const decodeHeader = (h: string) => JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;

describe('X-Registry-Auth', () => {
  it('is "{}" encoded when there are no credentials', () => {
    assert.equal(encodeRegistryAuth(undefined), 'e30=');
    assert.equal(encodeRegistryAuth({}), 'e30=');
  });

  it('is base64url JSON in AuthConfig field order, empty fields left out', () => {
    const h = encodeRegistryAuth({ serveraddress: 'r.example', password: 'p>?>', username: 'u', identitytoken: '' });
    assert.equal(Buffer.from(h, 'base64url').toString(), '{"username":"u","password":"p>?>","serveraddress":"r.example"}');
    // Standard base64 of this JSON has '+' or '/'; the URL-safe alphabet has neither.
    assert.match(Buffer.from('{"username":"u","password":"p>?>","serveraddress":"r.example"}').toString('base64'), /[+/]/);
    assert.doesNotMatch(h, /[+/]/);
    assert.equal(Buffer.from(encodeRegistryAuth({ username: 'u', identitytoken: 'tok', serveraddress: 's' }), 'base64url').toString(),
      '{"username":"u","serveraddress":"s","identitytoken":"tok"}');
  });
});

describe('registry keys', () => {
  it('Docker Hub uses its v1 index address, other registries host[:port]', () => {
    assert.equal(authKeyForDomain('docker.io'), INDEX_SERVER);
    assert.equal(authKeyForDomain('index.docker.io'), INDEX_SERVER);
    assert.equal(authKeyForDomain('localhost:5000'), 'localhost:5000');
  });

  it('convertToHostname strips a scheme and a path', () => {
    assert.equal(convertToHostname('https://registry.example:5000/v2/'), 'registry.example:5000');
    assert.equal(convertToHostname('http://r.example'), 'r.example');
    assert.equal(convertToHostname('r.example/some/path'), 'r.example');
    assert.equal(convertToHostname('localhost:5000'), 'localhost:5000');
  });

  it('the config lives in $DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(configFilePath({ DOCKER_CONFIG: '/x' }), '/x/config.json');
    assert.equal(configFilePath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
  });
});

describe('the docker config file', () => {
  it('a missing file is empty; set writes it 0600 with tab indentation, keeping every other key', () => {
    const file = path.join(freshDir(), 'sub', 'config.json');
    const c = DockerConfigFile.load(file);
    assert.equal(c.get(INDEX_SERVER), undefined);
    assert.equal(c.set('r.example', { username: 'u', password: 'p' }), true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8'), `{\n\t"auths": {\n\t\t"r.example": {\n\t\t\t"auth": "${b64('u:p')}"\n\t\t}\n\t}\n}`);

    fs.writeFileSync(file, JSON.stringify({ psFormat: 'x', auths: { other: { auth: b64('a:b'), email: 'e' } }, plugins: { p: { k: 'v' } } }));
    fs.chmodSync(file, 0o640);
    const d = DockerConfigFile.load(file);
    assert.equal(d.set('r.example', { username: 'u', password: 'p', identitytoken: 'tok' }), true);
    assert.equal(d.set('r.example', { username: 'u', password: 'p', identitytoken: 'tok' }), false);
    const back = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(back, { psFormat: 'x', auths: { other: { auth: b64('a:b'), email: 'e' }, 'r.example': { auth: b64('u:p'), identitytoken: 'tok' } }, plugins: { p: { k: 'v' } } });
    assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'an existing file keeps its mode');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['config.json'], 'no temp file left');
  });

  it('get decodes auth; finds legacy URL keys and Hub aliases; erase removes', () => {
    const file = path.join(freshDir(), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ auths: { 'https://legacy.example:5000/v1/': { auth: b64('l:pw') }, 'registry-1.docker.io': { auth: b64('hub:pw') }, tok: { auth: b64('t:'), identitytoken: 'it' } } }));
    const c = DockerConfigFile.load(file);
    assert.deepEqual(c.get('legacy.example:5000'), { username: 'l', password: 'pw', serveraddress: 'https://legacy.example:5000/v1/' });
    assert.deepEqual(c.get(INDEX_SERVER), { username: 'hub', password: 'pw', serveraddress: 'registry-1.docker.io' });
    assert.deepEqual(c.get('tok'), { username: 't', password: '', serveraddress: 'tok', identitytoken: 'it' });
    c.erase('tok');
    c.erase('absent');
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).auths), ['https://legacy.example:5000/v1/', 'registry-1.docker.io']);
  });

  it('a malformed file is an error, never overwritten', () => {
    const file = path.join(freshDir(), 'config.json');
    fs.writeFileSync(file, '{not json');
    assert.throws(() => DockerConfigFile.load(file), /^Error: parsing config file \(.*config\.json\): /);
  });
});

describe('registryAuthFor', () => {
  it('builds the header for an image\'s registry from $DOCKER_CONFIG', () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [INDEX_SERVER]: { auth: b64('hub:secret') }, 'localhost:5000': { auth: b64('me:pw') } } }));
    const env = { DOCKER_CONFIG: dir };
    const warnings: string[] = [];
    const warn = (l: string) => warnings.push(l);
    assert.deepEqual(decodeHeader(registryAuthFor('docker.io', warn, env)), { username: 'hub', password: 'secret', serveraddress: INDEX_SERVER });
    assert.deepEqual(decodeHeader(registryAuthFor('localhost:5000', warn, env)), { username: 'me', password: 'pw', serveraddress: 'localhost:5000' });
    assert.equal(registryAuthFor('quay.io', warn, env), 'e30=');
    assert.deepEqual(warnings, []);
    fs.writeFileSync(path.join(dir, 'config.json'), '[');
    assert.equal(registryAuthFor('docker.io', warn, env), 'e30=');
    assert.match(warnings[0]!, /^WARNING: Error parsing config file \(/);
  });
});
