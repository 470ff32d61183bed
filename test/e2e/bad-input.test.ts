/**
 * Bad input at the edge: each gets a clear error with Docker's status code, and neither the data
 * root nor the host is harmed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { pack } from 'tar-stream';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
let bait: string; // a host directory that escaping tar entries would target

before(() => {
  bait = fs.mkdtempSync(join(os.tmpdir(), 'berth-bait-'));
});

after(() => {
  fs.rmSync(bait, { recursive: true, force: true });
});

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; body?: string };

function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  for (const e of entries) {
    if ((e.type ?? 'file') === 'file') p.entry({ name: e.name, mode: 0o644 }, e.body ?? 'x');
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o755 });
  }
  p.finalize();
  return new Promise((resolve) => p.on('end', () => resolve(Buffer.concat(chunks))));
}

const message = (body: string) => (JSON.parse(body) as { message: string }).message;

/** Nothing half-made is left: no ingest files, no unpacked temp layers, no new image. */
function assertStoreClean(imagesBefore: number): Promise<void> {
  assert.deepEqual(fs.readdirSync(join(d.dataRoot, 'content', 'ingest')), []);
  assert.deepEqual(fs.readdirSync(join(d.dataRoot, 'snapshots')).filter((n) => n.startsWith('ingest-')), []);
  return d.api('GET', '/images/json').then((r) => assert.equal((JSON.parse(r.body) as unknown[]).length, imagesBefore));
}

test('an unknown image is a 404 with Docker\'s message', async () => {
  const r = await d.api('POST', '/containers/create', { Image: 'nosuch', Cmd: ['true'] });
  assert.equal(r.status, 404);
  assert.equal(message(r.body), 'No such image: nosuch:latest');
  const cli = await d.docker(['run', '--rm', 'nosuch']);
  assert.equal(cli.code, 125);
  assert.match(cli.stderr, /Unable to find image 'nosuch:latest' locally/);
  const inspect = await d.api('GET', '/images/nosuch/json');
  assert.equal(inspect.status, 404);
});

test('an unknown container is a 404 everywhere', async () => {
  for (const [method, path] of [['GET', '/containers/nope/json'], ['POST', '/containers/nope/start'], ['POST', '/containers/nope/stop'],
    ['POST', '/containers/nope/kill'], ['POST', '/containers/nope/wait'], ['GET', '/containers/nope/logs?stdout=1'], ['DELETE', '/containers/nope']]) {
    const r = await d.api(method, path);
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.equal(message(r.body), 'No such container: nope');
  }
  const cli = await d.docker(['rm', 'nope']);
  assert.equal(cli.code, 1);
  assert.equal(cli.stderr, 'Error response from daemon: No such container: nope\n');
});

test('a bad JSON body is a 400', async () => {
  const garbled = await d.api('POST', '/containers/create', '{"Image": "busybox", ', { 'Content-Type': 'application/json' });
  assert.equal(garbled.status, 400);
  assert.match(message(garbled.body), /^invalid JSON: /);
  const wrongType = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: 5 });
  assert.equal(wrongType.status, 400);
  assert.match(message(wrongType.body), /Config\.Cmd/);
  const notObject = await d.api('POST', '/containers/create', '[1,2]', { 'Content-Type': 'application/json' });
  assert.equal(notObject.status, 400);
  const badFilter = await d.api('GET', '/containers/json?filters=%7Bnot-json');
  assert.equal(badFilter.status, 400);
  const badName = await d.api('POST', '/containers/create?name=a%20b', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(badName.status, 400);
  assert.equal(message(badName.body), 'Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
});

test('a duplicate name is a 409 naming the holder', async () => {
  const first = await d.api('POST', '/containers/create?name=twin', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(first.status, 201);
  const id = (JSON.parse(first.body) as { Id: string }).Id;
  const second = await d.api('POST', '/containers/create?name=twin', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(second.status, 409);
  assert.equal(message(second.body), `Conflict. The container name "/twin" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
  assert.equal((await d.api('DELETE', '/containers/twin')).status, 204);
});

test('state conflicts: removing a running container, starting a started one, killing a stopped one', async () => {
  const run = await d.berth(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const rm = await d.api('DELETE', '/containers/busy');
  assert.equal(rm.status, 409);
  assert.equal(message(rm.body), 'cannot remove container "/busy": container is running: stop the container before removing or force remove');
  assert.equal((await d.api('POST', '/containers/busy/start')).status, 304);
  const badSignal = await d.api('POST', '/containers/busy/kill?signal=SIGNOPE');
  assert.equal(badSignal.status, 400);
  assert.equal((await d.api('DELETE', '/containers/busy?force=1')).status, 204);
});

test('an import tar with ../ entries is refused and nothing lands outside', async () => {
  const escapeTo = join(bait, 'dotdot-victim');
  const depth = '../'.repeat(12);
  const tar = await tarOf([{ name: 'etc/', type: 'directory' }, { name: `${depth}${escapeTo.slice(1)}`, body: 'pwned' }]);
  const r = await d.api('POST', '/images/create?fromSrc=-&repo=evil', tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 400);
  assert.match(message(r.body), /^invalid tar entry ".*dotdot-victim": path escapes the root/);
  assert.equal(fs.existsSync(escapeTo), false);
  await assertStoreClean(1);
});

test('an import tar that writes through an absolute symlink is refused and the host is untouched', async () => {
  const tar = await tarOf([{ name: 'evil', type: 'symlink', linkname: bait }, { name: 'evil/pwned', body: 'pwned' }]);
  const r = await d.api('POST', '/images/create?fromSrc=-&repo=evil2', tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 400);
  assert.match(message(r.body), /^invalid tar entry "evil\/pwned": path traverses symlink "evil"/);
  assert.deepEqual(fs.readdirSync(bait), []);
  await assertStoreClean(1);

  const cli = await d.docker(['import', '-', 'evil3'], { input: tar });
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /Error response from daemon: invalid tar entry "evil\/pwned"/);
});

test('garbage, an empty body and an unsupported compression are refused on import', async () => {
  const garbage = await d.api('POST', '/images/create?fromSrc=-', Buffer.from('this is not a tar archive at all '.repeat(40)));
  assert.equal(garbage.status, 400);
  assert.match(message(garbage.body), /^invalid tar archive: /);
  const empty = await d.api('POST', '/images/create?fromSrc=-', Buffer.alloc(0));
  assert.equal(empty.status, 400);
  const xz = await d.api('POST', '/images/create?fromSrc=-', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
  assert.equal(xz.status, 400);
  assert.match(message(xz.body), /^unsupported compression: xz/);
  const badName = await d.api('POST', '/images/create?fromSrc=-&repo=Bad%20Name', await tarOf([{ name: 'a' }]));
  assert.equal(badName.status, 400);
  await assertStoreClean(1);
});

test('API versions: too new and too old are 400, unknown paths 404, planned ones 501, swarm 503', async () => {
  const tooNew = await d.api('GET', '/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.equal(message(tooNew.body), 'client version 1.99 is too new. Maximum supported API version is 1.50');
  const tooOld = await d.api('GET', '/v1.12/version');
  assert.equal(tooOld.status, 400);
  assert.match(message(tooOld.body), /^client version 1\.12 is too old\. Minimum supported API version is 1\.24/);
  assert.equal((await d.api('GET', '/v1.24/version')).status, 200);
  const unknown = await d.api('GET', '/no/such/endpoint');
  assert.equal(unknown.status, 404);
  assert.equal(message(unknown.body), 'page not found');
  const planned = await d.api('GET', '/images/search?term=x');
  assert.equal(planned.status, 501);
  assert.match(message(planned.body), /does not implement GET \/images\/search/);
  // Lookups of what does not exist are Docker's 404s.
  assert.equal((await d.api('GET', '/volumes')).body, '{"Volumes":[],"Warnings":null}\n');
  assert.equal((await d.api('GET', '/volumes/nosuch')).status, 404);
  assert.equal((await d.api('GET', '/networks/nosuch')).status, 404);
  const inspect = await d.docker(['inspect', 'nosuch']);
  assert.equal(inspect.code, 1);
  assert.equal(inspect.stderr, 'Error: No such object: nosuch\n');
  const swarm = await d.api('GET', '/swarm');
  assert.equal(swarm.status, 503);
  assert.equal(message(swarm.body), 'This node is not part of a swarm');
  const services = await d.api('GET', '/services');
  assert.equal(services.status, 503);
  assert.match(message(services.body), /^This node is not a swarm manager\./);
  const cli = await d.docker(['service', 'ls']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /not a swarm manager/);
});

test('garbage on the socket gets a 400 and the daemon keeps serving', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(d.socket, () => s.write('THIS IS NOT HTTP\r\n\r\n'));
    let out = '';
    s.on('data', (c) => (out += c.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 400 /);
  const ok = await d.docker(['run', '--rm', 'busybox', 'echo', 'still fine']);
  assert.equal(ok.stdout, 'still fine\n');
});

/** A tar of `files` (name → content; a `link:` prefix makes a symlink) as one buffer. */
async function contextTar(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) {
    if (body.startsWith('link:')) p.entry({ name, type: 'symlink', linkname: body.slice(5) });
    else p.entry({ name }, body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('POST /build: a context that is not a tar, or escapes, is a 400; the build cache stays usable', async () => {
  const garbage = await d.api('POST', '/build', Buffer.from('this is not a tar archive at all, just words '.repeat(40)), { 'Content-Type': 'application/x-tar' });
  assert.equal(garbage.status, 400, garbage.body);
  assert.match(message(garbage.body), /build context/);
  const escape = await d.api('POST', '/build', await contextTar({ Dockerfile: 'FROM busybox\n', '../outside': 'x' }), { 'Content-Type': 'application/x-tar' });
  assert.equal(escape.status, 400, escape.body);
  assert.match(message(escape.body), /outside the context/);
  // A symlink that points out of the context is kept as a name: COPY through it finds nothing outside.
  const viaLink = await d.api('POST', '/build', await contextTar({ Dockerfile: 'FROM busybox\nCOPY out/passwd /x\n', out: 'link:/etc' }), { 'Content-Type': 'application/x-tar' });
  assert.equal(viaLink.status, 200);
  assert.match(viaLink.body, /file not found in build context/);
  assert.doesNotMatch(viaLink.body, /Successfully built/);
  const noDockerfile = await d.api('POST', '/build?dockerfile=nope', await contextTar({ Dockerfile: 'FROM busybox\n' }), { 'Content-Type': 'application/x-tar' });
  assert.match(noDockerfile.body, /Cannot locate specified Dockerfile: nope/);
  const ok = await d.api('POST', '/build?t=still-builds', await contextTar({ Dockerfile: 'FROM busybox\nRUN echo ok > /ok\n' }), { 'Content-Type': 'application/x-tar' });
  assert.match(ok.body, /Successfully tagged still-builds:latest/);
});
