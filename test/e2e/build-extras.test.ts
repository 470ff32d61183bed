/**
 * The builder's less common paths through the docker CLI (DOCKER_BUILDKIT=0): ADD from a URL
 * (a server of the test's own on loopback) with --checksum, COPY --link/--parents/--exclude,
 * RUN --mount=type=bind from a stage, --network=host, --cache-from after the cache is pruned,
 * and a locked cache mount shared by two parallel stages.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { makeContext } from './build-contexts';
import { Daemon, useDaemon } from './harness';

process.env.DOCKER_BUILDKIT = '0';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const PAGE = 'served over http\n';
let server: http.Server;
let base = '';
before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/files/page.txt') {
      res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end(PAGE);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const context = (files: Record<string, string>) => makeContext(d, files);

const build = (dir: string, args: string[] = []) => d.docker(['build', ...args, dir], { timeoutMs: 120_000 });
const run = (image: string, ...cmd: string[]) => d.dockerOk(['run', '--rm', '--pull', 'never', image, ...cmd]);

test('ADD of an http URL: the file, mode 0600, mtime from Last-Modified; --checksum checked', async () => {
  const sum = `sha256:${createHash('sha256').update(PAGE).digest('hex')}`;
  const dir = context({ Dockerfile: `FROM busybox\nADD --checksum=${sum} ${base}/files/page.txt /dl/\n` });
  const r = await build(dir, ['-t', 'added']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await run('added', 'cat', '/dl/page.txt'), PAGE);
  assert.equal(await run('added', 'stat', '-c', '%a %Y', '/dl/page.txt'), `600 ${Date.parse('2015-10-21T07:28:00Z') / 1000}\n`);
  const bad = context({ Dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/files/page.txt /dl/\n` });
  const b = await build(bad);
  assert.notEqual(b.code, 0);
  assert.match(b.stdout + b.stderr, /digest mismatch/);
  const missing = await build(context({ Dockerfile: `FROM busybox\nADD ${base}/files/nope.txt /dl/\n` }));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stdout + missing.stderr, /404/);
});

test('COPY --parents keeps source paths, --exclude filters, --link makes a layer of its own', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'COPY --parents src/a/keep.txt src/b/keep.txt /p/',
      'COPY --exclude=*.log --exclude=b src /e/',
      'COPY --link src/a/keep.txt /linked/',
      '',
    ].join('\n'),
    'src/a/keep.txt': 'a\n', 'src/a/skip.log': 'log\n', 'src/b/keep.txt': 'b\n', 'src/top.log': 'log\n',
  });
  const r = await build(dir, ['-t', 'copied']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const found = (await run('copied', 'find', '/p', '/e', '/linked', '-type', 'f')).trim().split('\n').sort();
  // --exclude patterns are relative to the source: *.log only at its top, b the directory.
  assert.deepEqual(found, ['/e/a/keep.txt', '/e/a/skip.log', '/linked/keep.txt', '/p/src/a/keep.txt', '/p/src/b/keep.txt']);
  const layers = JSON.parse(await d.dockerOk(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'copied'])) as string[];
  assert.equal(layers.length, 4);
});

test('RUN --mount=type=bind from a stage reads its files; --network=host sees the host', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox AS tools',
      'RUN echo from-stage > /made.txt',
      'FROM busybox',
      'RUN --mount=type=bind,from=tools,source=/made.txt,target=/m/made.txt cat /m/made.txt > /copied.txt',
      'RUN --network=host cat /proc/net/dev > /host-dev.txt',
      '',
    ].join('\n'),
  });
  const r = await build(dir, ['-t', 'mounted']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await run('mounted', 'cat', '/copied.txt'), 'from-stage\n');
  // The mount's target leaves nothing in the image.
  assert.equal((await d.docker(['run', '--rm', '--pull', 'never', 'mounted', 'ls', '/m'])).code, 1);
  // The host's interfaces (its own bridge among them), not a container's lo + eth0.
  assert.match(await run('mounted', 'cat', '/host-dev.txt'), new RegExp(`${d.bridge}:`));
});

test('--cache-from: after the build cache is pruned, an image stands in for the steps it holds', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nENV A=1\nCOPY f.txt /\nRUN cat /f.txt > /g.txt\nCMD ["cat", "/g.txt"]\n', 'f.txt': 'cached\n' });
  const first = await build(dir, ['-t', 'origin']);
  assert.equal(first.code, 0, first.stderr);
  const pruned = await d.api('POST', '/build/prune');
  assert.equal(pruned.status, 200);
  assert.ok((JSON.parse(pruned.body) as { CachesDeleted: string[] }).CachesDeleted.length >= 4);
  const without = await build(dir, ['-t', 'again']);
  assert.doesNotMatch(without.stdout, /Using cache/);
  await d.api('POST', '/build/prune');
  const withCache = await build(dir, ['--cache-from', 'origin', '-t', 'reused']);
  assert.equal(withCache.code, 0, withCache.stderr);
  assert.equal((withCache.stdout.match(/^ ---> Using cache$/gm) ?? []).length, 4, withCache.stdout);
  assert.doesNotMatch(withCache.stdout, /Running in/);
  const ids = await Promise.all(['origin', 'reused'].map(async (t) => (await d.dockerOk(['image', 'inspect', '-f', '{{.Id}}', t])).trim()));
  assert.equal(ids[0], ids[1]);
});

test('a locked cache mount is used by one step at a time, even from parallel stages', async () => {
  const step = (n: string) => `RUN --mount=type=cache,id=shared,target=/c,sharing=locked sh -c 'test ! -e /c/busy && touch /c/busy && sleep 1 && echo ${n} >> /c/log && rm /c/busy && echo ${n} > /done'`;
  const dir = context({
    Dockerfile: ['FROM busybox AS one', step('one'), 'FROM busybox AS two', step('two'), 'FROM busybox', 'COPY --from=one /done /one', 'COPY --from=two /done /two', 'RUN cat /one /two > /both', ''].join('\n'),
  });
  const t0 = Date.now();
  const r = await build(dir, ['-t', 'locked']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await run('locked', 'cat', '/both'), 'one\ntwo\n');
  // One after the other: two 1-second holds.
  assert.ok(Date.now() - t0 >= 2000, `built in ${Date.now() - t0} ms`);
});

test('FROM --platform=$BUILDPLATFORM uses the local image; COPY heredocs expand variables unless the delimiter is quoted', async () => {
  const dir = context({
    Dockerfile: [
      'FROM --platform=$BUILDPLATFORM busybox',
      'ARG WHO=world',
      'COPY <<EOT /greet.txt',
      `hello \${WHO} "quoted" 'single' back\\slash`,
      'EOT',
      "COPY <<'EOT' /raw.txt",
      'hello ${WHO} stays',
      'EOT',
      '',
    ].join('\n'),
  });
  const r = await build(dir, ['-t', 'heredocs']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await run('heredocs', 'cat', '/greet.txt'), `hello world "quoted" 'single' back\\slash\n`);
  assert.equal(await run('heredocs', 'cat', '/raw.txt'), 'hello ${WHO} stays\n');
});

test('a context file changed with its size and mtime kept (as reproducible-build tools leave them) is seen as changed', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nCOPY version.txt /\n', 'version.txt': '1.0.1\n' });
  const fixed = new Date('2001-09-09T01:46:40Z');
  fs.utimesSync(join(dir, 'version.txt'), fixed, fixed);
  assert.equal((await build(dir, ['-t', 'stamped'])).code, 0);
  assert.equal(await run('stamped', 'cat', '/version.txt'), '1.0.1\n');
  fs.writeFileSync(join(dir, 'version.txt'), '1.0.2\n');
  fs.utimesSync(join(dir, 'version.txt'), fixed, fixed);
  const again = await build(dir, ['-t', 'stamped']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout.split('Step 2/2')[1] ?? '', /Using cache/);
  assert.equal(await run('stamped', 'cat', '/version.txt'), '1.0.2\n');
});
