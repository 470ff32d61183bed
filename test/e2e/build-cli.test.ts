/**
 * `berth build` and `berth builder prune` end to end: the context tar the CLI makes (with
 * .dockerignore, -f outside the context, a Dockerfile on stdin), the flags that reach the
 * builder (--build-arg, -q, --iidfile, --secret), a failing RUN's exit code, and that a build
 * secret ends up in no part of the image.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { extract } from 'tar-stream';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'berth-build-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A directory under the test's temp dir with `files` (path → content). */
function dir(name: string, files: Record<string, string>): string {
  const root = join(tmp, name);
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(join(root, p, '..'), { recursive: true });
    fs.writeFileSync(join(root, p), content);
  }
  return root;
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await d.berth(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

const idOf = async (image: string) => (await ok(['image', 'inspect', '--format', '{{.Id}}', image])).trim();

/** Every entry of a tar file, bytes in memory (the images here are small). */
async function readTar(source: Buffer | string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  const feed = Buffer.isBuffer(source) ? undefined : fs.createReadStream(source);
  if (feed) feed.pipe(ex as unknown as NodeJS.WritableStream);
  else (ex as unknown as NodeJS.WritableStream).end(source);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

const isTar = (b: Buffer) => b.length >= 512 && b.subarray(257, 262).toString('latin1') === 'ustar';

test('build with a .dockerignore: tagged, runnable, ignored files absent, exceptions present', async () => {
  const ctx = dir('ignore', {
    Dockerfile: 'FROM busybox\nCOPY . /app\nCMD ["cat", "/app/hello.txt"]\n',
    '.dockerignore': 'secret.txt\nlogs\n!logs/keep.log\n*.tmp\n',
    'hello.txt': 'hello from the context\n',
    'secret.txt': 'must not be sent',
    'scratch.tmp': 'nor this',
    'logs/keep.log': 'kept by an exception',
    'logs/drop.log': 'dropped with its directory',
    'sub/deeper.tmp': '*.tmp matches at the root only',
  });
  const out = await ok(['build', '-t', 'ignore-test:1', ctx]);
  assert.match(out, /^Sending build context to Docker daemon {2}\S+\n/);
  assert.match(out, /Step 1\/3 : FROM busybox\n/);
  assert.match(out, /Successfully tagged ignore-test:1\n/);
  assert.equal(await ok(['run', '--rm', 'ignore-test:1']), 'hello from the context\n');
  const files = (await ok(['run', '--rm', 'ignore-test:1', 'find', '/app', '-type', 'f'])).split('\n').filter(Boolean).sort();
  assert.deepEqual(files, ['/app/.dockerignore', '/app/Dockerfile', '/app/hello.txt', '/app/logs/keep.log', '/app/sub/deeper.tmp']);
  assert.equal(await ok(['run', '--rm', 'ignore-test:1', 'cat', '/app/logs/keep.log']), 'kept by an exception');
});

test('-f outside the context; the Dockerfile on stdin with -f - and as the whole context with -', async () => {
  const ctx = dir('outside-ctx', { 'a.txt': 'from the context\n' });
  const df = dir('outside-df', { 'Build.df': 'FROM busybox\nCOPY a.txt /a.txt\nRUN ls -a / > /root-listing\nCMD ["cat", "/a.txt"]\n' });
  await ok(['build', '-t', 'outside', '-f', join(df, 'Build.df'), ctx]);
  assert.equal(await ok(['run', '--rm', 'outside']), 'from the context\n');

  await ok(['build', '-t', 'dash-f', '-f', '-', ctx], 'FROM busybox\nCOPY a.txt /b.txt\nCMD ["cat", "/b.txt"]\n');
  assert.equal(await ok(['run', '--rm', 'dash-f']), 'from the context\n');

  const out = await ok(['build', '-t', 'stdin-df', '-'], 'FROM busybox\nRUN echo built-from-stdin > /marker\nCMD ["cat", "/marker"]\n');
  assert.match(out, /Successfully tagged stdin-df:latest/);
  assert.equal(await ok(['run', '--rm', 'stdin-df']), 'built-from-stdin\n');
});

test('a Dockerfile from outside the context is not part of COPY . (nor the .dockerignore naming it)', async () => {
  const ctx = dir('outside-all-ctx', { 'a.txt': 'a' });
  const df = dir('outside-all-df', { 'All.df': 'FROM busybox\nCOPY . /ctx\n' });
  await ok(['build', '-t', 'outside-copy-all', '-f', join(df, 'All.df'), ctx]);
  const listed = (await ok(['run', '--rm', 'outside-copy-all', 'ls', '-A', '/ctx'])).split('\n').filter(Boolean);
  // The CLI lists the generated name in the .dockerignore it sends, as docker's does; the daemon
  // then drops both files from the context (Docker's removeDockerfile).
  assert.deepEqual(listed, ['a.txt']);
});

test('-q prints only the image id, --iidfile writes it; --build-arg from a value and from the environment', async () => {
  const ctx = dir('args', { Dockerfile: 'FROM busybox\nARG WHO\nARG BERTH_E2E_FROM_ENV\nRUN echo "$WHO/$BERTH_E2E_FROM_ENV" > /args\nCMD ["cat", "/args"]\n' });
  const iid = join(tmp, 'iid');
  fs.writeFileSync(iid, 'stale');
  process.env.BERTH_E2E_FROM_ENV = 'env-value';
  let r;
  try {
    r = await d.berth(['build', '-q', '--iidfile', iid, '-t', 'args', '--build-arg', 'WHO=flag-value', '--build-arg', 'BERTH_E2E_FROM_ENV=', '--build-arg', 'BERTH_E2E_FROM_ENV', ctx]);
  } finally {
    delete process.env.BERTH_E2E_FROM_ENV;
  }
  assert.equal(r.code, 0, r.stderr);
  const id = await idOf('args');
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(r.stdout, `${id}\n`);
  assert.equal(r.stderr, '');
  assert.equal(fs.readFileSync(iid, 'utf8'), id);
  // The last --build-arg BERTH_E2E_FROM_ENV (no value) took the environment's.
  assert.equal(await ok(['run', '--rm', 'args']), 'flag-value/env-value\n');
});

test('a failing RUN: its exit code, its output shown, no container left behind', async () => {
  const ctx = dir('fail', { Dockerfile: 'FROM busybox\nRUN echo "boom on stdout"; echo "boom on stderr" >&2; exit 3\n' });
  const r = await d.berth(['build', '-t', 'fails', ctx]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /Step 2\/2 : RUN echo/);
  assert.match(r.stdout, /boom on stdout\n/);
  assert.match(r.stdout, /boom on stderr\n/);
  assert.match(r.stderr, /returned a non-zero code: 3\n$/);
  assert.equal(await ok(['ps', '-a', '-q']), '');
  assert.notEqual((await d.berth(['image', 'inspect', 'fails'])).code, 0);
  // With -q (the daemon then sends no step output) only the error is shown, on stderr.
  const q = await d.berth(['build', '-q', ctx]);
  assert.equal(q.code, 3);
  assert.equal(q.stdout, '');
  assert.match(q.stderr, /returned a non-zero code: 3\n$/);
});

test('a build secret reaches the RUN and no part of the image', async () => {
  const secret = `tok-${Math.random().toString(36).slice(2)}-do-not-leak`;
  const secretFile = join(tmp, 'token');
  fs.writeFileSync(secretFile, secret);
  const ctx = dir('secret', { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && test -s /run/secrets/tok\nRUN echo after > /after\n' });
  await ok(['build', '-t', 'with-secret', '--secret', `id=tok,src=${secretFile}`, ctx]);

  // Without the secret the same RUN fails: the test above really read it.
  const without = await d.berth(['build', '--no-cache', ctx]);
  assert.notEqual(without.code, 0);

  const ls = await d.berth(['run', '--rm', 'with-secret', 'ls', '-A', '/run/secrets']);
  assert.ok(ls.code !== 0 || ls.stdout === '', `ls /run/secrets: ${ls.code} ${ls.stdout}`);

  const archive = join(tmp, 'with-secret.tar');
  await ok(['save', '-o', archive, 'with-secret']);
  const files = await readTar(archive);
  assert.ok(files.size > 0);
  let layers = 0;
  for (const [name, bytes] of files) {
    assert.ok(!bytes.includes(secret), `the secret is in ${name} of the saved image`);
    if (isTar(bytes)) {
      layers++;
      for (const entry of (await readTar(bytes)).keys()) assert.ok(!/^(\.\/)?run\/secrets\/./.test(entry), `${entry} in layer ${name}`);
    }
  }
  assert.ok(layers >= 2, `expected busybox's layer and the build's, found ${layers}`);
  const inspect = await ok(['image', 'inspect', 'with-secret']);
  const history = await ok(['history', '--no-trunc', 'with-secret']);
  assert.ok(!inspect.includes(secret) && !history.includes(secret));
});

test('builder prune -f reclaims the cache and the next build runs its steps again', async () => {
  const ctx = dir('prune', { Dockerfile: 'FROM busybox\nRUN echo cached-step > /c\n' });
  await ok(['build', '-t', 'prune-me', ctx]);
  assert.match(await ok(['build', '-t', 'prune-me', ctx]), / ---> Using cache\n/);
  const pruned = await ok(['builder', 'prune', '-f']);
  assert.match(pruned, /^Deleted build cache objects:\n([0-9a-f]+\n)+\nTotal reclaimed space: (\S+)\n$/);
  assert.doesNotMatch(pruned, /Total reclaimed space: 0B/);
  const again = await ok(['build', '-t', 'prune-me', ctx]);
  assert.doesNotMatch(again, /Using cache/);
  assert.match(again, / ---> Running in [0-9a-f]+\n/);
  // Declining the question prunes nothing.
  const declined = await d.berth(['builder', 'prune'], { input: 'n\n' });
  assert.deepEqual([declined.code, declined.stdout], [0, 'WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ']);
  assert.match(await ok(['build', '-t', 'prune-me', ctx]), / ---> Using cache\n/);
});
