/**
 * `docker build` with the classic builder (DOCKER_BUILDKIT=0) against berthd: every Dockerfile
 * instruction, the build cache, multi-stage builds and failures, checked the way a user would:
 * the build's output and exit code, `docker inspect` of the image, files seen by `docker run`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeContext } from './build-contexts';
import { Daemon, type Result, useDaemon } from './harness';

// The harness runs the CLI with this process's environment: this file's docker CLI always uses
// the classic builder (each e2e file is its own process).
process.env.DOCKER_BUILDKIT = '0';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const ok = (args: string[]) => d.dockerOk(args);

const context = (files: Record<string, string | Buffer>) => makeContext(d, files);

const build = (dir: string, args: string[] = []) => d.docker(['build', ...args, dir], { timeoutMs: 120_000 });

async function buildOk(dir: string, args: string[] = []): Promise<Result> {
  const r = await build(dir, args);
  if (r.code !== 0) throw new Error(`docker build exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `docker run --rm` of a built image; never pulls (a missing image must fail, not reach a registry). */
const run = (image: string, ...cmd: string[]) => ok(['run', '--rm', '--pull', 'never', image, ...cmd]);
const inspect = async (image: string, format: string) => JSON.parse(await ok(['image', 'inspect', '-f', `{{json ${format}}}`, image]));
const imageId = async (image: string) => (await ok(['image', 'inspect', '-f', '{{.Id}}', image])).trim();

/** The build output cut into steps: "Step N/M : …" and the lines under it. */
function steps(out: string): { title: string; body: string }[] {
  return out.split(/^(?=Step \d+\/\d+ : )/m).filter((s) => s.startsWith('Step ')).map((s) => {
    const nl = s.indexOf('\n');
    return { title: s.slice(0, nl), body: s.slice(nl + 1) };
  });
}
const cached = (s: { body: string }) => /^ ---> Using cache$/m.test(s.body);

// ---- instructions ---------------------------------------------------------------------------

test('docker build -t x . then docker run x (the CLI sends the current dir)', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nCOPY hello.txt /\nCMD ["cat", "/hello.txt"]\n', 'hello.txt': 'hello from the context\n' });
  const r = await new Promise<Result>((resolve) => {
    execFile('docker', ['build', '-t', 'x', '.'], { cwd: dir, env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Sending build context to Docker daemon/m);
  assert.match(r.stdout, /^Step 1\/3 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/3 : COPY hello.txt \/\n ---> [0-9a-f]{12}\nStep 3\/3 : CMD \["cat", "\/hello.txt"\]\n ---> [0-9a-f]{12}\n/m);
  const id = await imageId('x');
  assert.match(r.stdout, new RegExp(`^Successfully built ${id.slice(7, 19)}\\nSuccessfully tagged x:latest\\n`, 'm'));
  assert.equal(await run('x'), 'hello from the context\n');
});

test('FROM scratch + COPY of one file: an image of one layer holding that file', async () => {
  const blob = Buffer.alloc(1000, 7);
  const dir = context({ Dockerfile: 'FROM scratch\nCOPY blob /blob\n', blob });
  await buildOk(dir, ['-t', 'scratchy']);
  assert.equal((await inspect('scratchy', '.RootFS.Layers')).length, 1);
  assert.equal(await inspect('scratchy', '.Size'), 1000);
  assert.equal(await inspect('scratchy', '.Os'), 'linux');
  assert.equal(await inspect('scratchy', '.Config.Env'), null, 'scratch has no PATH');
  const hist = (await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'scratchy'])).trim().split('\n');
  assert.equal(hist.length, 1);
  assert.match(hist[0]!, /COPY .*\/blob.*\|1kB$/);
});

test('ARG before FROM picks the base; --build-arg overrides it', async () => {
  await buildOk(context({ Dockerfile: 'FROM busybox\nRUN echo marked > /marker\n' }), ['-t', 'base:marked']);
  const dir = context({ Dockerfile: 'ARG BASE=busybox\nFROM ${BASE}\nRUN cat /marker 2>/dev/null || echo plain > /marker\nCMD ["cat", "/marker"]\n' });
  await buildOk(dir, ['-t', 'argfrom:default']);
  await buildOk(dir, ['-t', 'argfrom:over', '--build-arg', 'BASE=base:marked']);
  assert.equal(await run('argfrom:default'), 'plain\n');
  assert.equal(await run('argfrom:over'), 'marked\n');
});

test('ARG with a default, overridden by --build-arg; not kept in the image env', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nARG WHO=world\nRUN echo "hello $WHO" > /who\n' });
  await buildOk(dir, ['-t', 'arg:default']);
  const over = await buildOk(dir, ['-t', 'arg:over', '--build-arg', 'WHO=you']);
  assert.equal(cached(steps(over.stdout)[2]!), false, 'a different arg value misses the RUN step');
  assert.equal(await run('arg:default', 'cat', '/who'), 'hello world\n');
  assert.equal(await run('arg:over', 'cat', '/who'), 'hello you\n');
  assert.ok(!((await inspect('arg:over', '.Config.Env') ?? []) as string[]).some((e) => e.startsWith('WHO=')));
  const unused = await buildOk(dir, ['--build-arg', 'NOBODY=1']);
  assert.match(unused.stdout, /\[Warning\] One or more build-args \[NOBODY\] were not consumed/);
});

test('ENV (both forms) expands in later WORKDIR and COPY destinations; WORKDIR relative after absolute', async () => {
  const dir = context({
    Dockerfile: 'FROM busybox\nENV DIR=/data GREETING="hi there"\nENV SUB sub\nWORKDIR $DIR\nWORKDIR ${SUB}\nCOPY a.txt ${DIR}/copied\nCOPY a.txt here.txt\nRUN pwd > /pwd\n',
    'a.txt': 'A\n',
  });
  await buildOk(dir, ['-t', 'envs']);
  const env = await inspect('envs', '.Config.Env') as string[];
  assert.ok(env.includes('DIR=/data'), env.join(' '));
  assert.ok(env.includes('GREETING=hi there'), env.join(' '));
  assert.ok(env.includes('SUB=sub'), env.join(' '));
  assert.equal(await inspect('envs', '.Config.WorkingDir'), '/data/sub');
  assert.equal(await run('envs', 'cat', '/data/copied', '/data/sub/here.txt', '/pwd'), 'A\nA\n/data/sub\n');
  assert.equal(await run('envs', 'sh', '-c', 'echo "$GREETING"'), 'hi there\n');
  assert.equal(await run('envs', 'pwd'), '/data/sub\n');
});

test('LABEL, EXPOSE, VOLUME, STOPSIGNAL and HEALTHCHECK land in the image config', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'LABEL org.example.a=one "with space"="v 2"',
      'EXPOSE 8080 53/udp',
      'VOLUME /vol',
      'VOLUME ["/other"]',
      'STOPSIGNAL SIGUSR1',
      'HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD true',
      '',
    ].join('\n'),
  });
  await buildOk(dir, ['-t', 'meta']);
  assert.deepEqual(await inspect('meta', '.Config.Labels'), { 'org.example.a': 'one', 'with space': 'v 2' });
  assert.deepEqual(await inspect('meta', '.Config.ExposedPorts'), { '53/udp': {}, '8080/tcp': {} });
  assert.deepEqual(await inspect('meta', '.Config.Volumes'), { '/other': {}, '/vol': {} });
  assert.equal(await inspect('meta', '.Config.StopSignal'), 'SIGUSR1');
  assert.deepEqual(await inspect('meta', '.Config.Healthcheck'), { Test: ['CMD-SHELL', 'true'], Interval: 5_000_000_000, Timeout: 2_000_000_000, Retries: 4 });
  // --label on the command line adds to the Dockerfile's.
  await buildOk(dir, ['-t', 'meta2', '--label', 'cli=yes']);
  assert.deepEqual(await inspect('meta2', '.Config.Labels'), { cli: 'yes', 'org.example.a': 'one', 'with space': 'v 2' });
});

test('CMD and ENTRYPOINT: exec and shell forms, CMD as the entrypoint\'s args', async () => {
  await buildOk(context({ Dockerfile: 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["arg1", "arg2"]\n' }), ['-t', 'ep']);
  assert.deepEqual(await inspect('ep', '.Config.Entrypoint'), ['echo', 'ep']);
  assert.deepEqual(await inspect('ep', '.Config.Cmd'), ['arg1', 'arg2']);
  assert.equal(await run('ep'), 'ep arg1 arg2\n');
  assert.equal(await run('ep', 'other'), 'ep other\n');
  await buildOk(context({ Dockerfile: 'FROM busybox\nCMD echo "shell $HOME"\n' }), ['-t', 'shellcmd']);
  assert.deepEqual(await inspect('shellcmd', '.Config.Cmd'), ['/bin/sh', '-c', 'echo "shell $HOME"']);
  assert.equal(await run('shellcmd'), 'shell /root\n');
});

test('RUN: shell form, exec form, after SHELL, heredoc; USER applies to later RUNs', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'RUN echo "shell $HOME" > /shell-form',
      'RUN ["/bin/sh", "-c", "echo exec > /exec-form"]',
      'SHELL ["/bin/sh", "-ec"]',
      'RUN echo "$-" > /flags',
      'RUN <<EOF',
      'echo heredoc > /heredoc',
      'echo second line >> /heredoc',
      'EOF',
      'USER 1000',
      'RUN id -u > /tmp/uid',
      '',
    ].join('\n'),
  });
  await buildOk(dir, ['-t', 'runs']);
  assert.equal(await run('runs', 'cat', '/shell-form', '/exec-form', '/heredoc', '/tmp/uid'), 'shell /root\nexec\nheredoc\nsecond line\n1000\n');
  assert.match(await run('runs', 'cat', '/flags'), /e/, 'SHELL\'s -e reached the RUN');
  assert.deepEqual(await inspect('runs', '.Config.Shell'), ['/bin/sh', '-ec']);
  assert.equal(await inspect('runs', '.Config.User'), '1000');
  assert.equal(await run('runs', 'id', '-u'), '1000\n');
  const hist = await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'runs']);
  assert.match(hist, /echo exec > \/exec-form/);
  assert.match(hist, /echo "shell \$HOME" > \/shell-form/);
});

test('ONBUILD: the trigger runs in a child built FROM the parent, and is not inherited further', async () => {
  await buildOk(context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /trig\n' }), ['-t', 'parent']);
  assert.deepEqual(await inspect('parent', '.Config.OnBuild'), ['RUN echo triggered > /trig']);
  assert.equal((await run('parent', 'ls', '/')).includes('trig'), false, 'not run in the parent');
  const r = await buildOk(context({ Dockerfile: 'FROM parent\n' }), ['-t', 'child']);
  assert.match(r.stdout, /# Executing 1 build trigger/);
  assert.equal(await run('child', 'cat', '/trig'), 'triggered\n');
  assert.equal(await inspect('child', '.Config.OnBuild'), null);
});

test('COPY: file into a dir/, to a new name, a directory\'s contents, globs, .dockerignore', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'COPY a.txt /into/',
      'COPY a.txt /renamed',
      'COPY tree /x',
      'COPY *.txt /globbed/',
      'COPY . /all',
      '',
    ].join('\n'),
    'a.txt': 'A\n', 'b.txt': 'B\n', 'c.md': 'C\n',
    'tree/top': 'top\n', 'tree/sub/deep': 'deep\n',
    'secret.key': 'nope\n', '.dockerignore': 'secret.key\n',
  });
  await buildOk(dir, ['-t', 'copies']);
  assert.equal(await run('copies', 'cat', '/into/a.txt', '/renamed'), 'A\nA\n');
  assert.deepEqual((await run('copies', 'find', '/x')).trim().split('\n').sort(), ['/x', '/x/sub', '/x/sub/deep', '/x/top'], 'the dir\'s contents, not the dir');
  assert.deepEqual((await run('copies', 'ls', '/globbed')).trim().split('\n'), ['a.txt', 'b.txt']);
  const all = (await run('copies', 'ls', '-a', '/all')).trim().split('\n');
  assert.ok(all.includes('c.md') && all.includes('tree') && all.includes('Dockerfile'), all.join(' '));
  assert.ok(!all.includes('secret.key'), '.dockerignore keeps it out of the context');
});

test('COPY --chown=1000:1000 --chmod=640', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nCOPY --chown=1000:1000 --chmod=640 a.txt /owned\nCOPY --chown=1000 d /d\n', 'a.txt': 'A\n', 'd/f': 'f\n' });
  await buildOk(dir, ['-t', 'owned']);
  assert.equal(await run('owned', 'stat', '-c', '%u:%g %a', '/owned'), '1000:1000 640\n');
  assert.equal(await run('owned', 'stat', '-c', '%u:%g', '/d', '/d/f'), '1000:1000\n1000:1000\n');
});

test('ADD of a local .tar.gz unpacks it into the destination (as Docker does)', async () => {
  const src = join(d.dir, 'tar-src');
  fs.mkdirSync(join(src, 'pkg'), { recursive: true });
  fs.writeFileSync(join(src, 'pkg', 'inside'), 'in the tar\n');
  const dir = context({ Dockerfile: 'FROM busybox\nADD arch.tar.gz /ad/\nADD plain.txt /plain\n', 'plain.txt': 'plain\n' });
  await new Promise<void>((resolve, reject) => execFile('tar', ['czf', join(dir, 'arch.tar.gz'), '-C', src, 'pkg'], (e) => (e ? reject(e) : resolve())));
  await buildOk(dir, ['-t', 'added']);
  assert.equal(await run('added', 'cat', '/plain'), 'plain\n');
  assert.equal((await run('added', 'ls', '/ad')).trim(), 'pkg', 'the archive is unpacked, not copied');
  assert.equal(await run('added', 'cat', '/ad/pkg/inside'), 'in the tar\n');
});

test('RUN --mount: cache (kept across builds), bind from the context, tmpfs (not in the image)', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'ARG ROUND',
      'RUN --mount=type=cache,target=/cache ls /cache > /seen; echo $ROUND > /cache/round-$ROUND',
      'RUN --mount=type=bind,source=bound.txt,target=/m cat /m > /from-bind',
      'RUN --mount=type=tmpfs,target=/t grep " /t " /proc/mounts | cut -d" " -f3 > /t-type; touch /t/scratch',
      '',
    ].join('\n'),
    'bound.txt': 'from the context\n',
  });
  await buildOk(dir, ['-t', 'mounts:1', '--build-arg', 'ROUND=1']);
  await buildOk(dir, ['-t', 'mounts:2', '--build-arg', 'ROUND=2']);
  assert.equal(await run('mounts:1', 'cat', '/seen'), '', 'the cache starts empty');
  assert.equal(await run('mounts:2', 'cat', '/seen'), 'round-1\n', 'the second build sees what the first left in the cache');
  assert.equal(await run('mounts:2', 'cat', '/from-bind', '/t-type'), 'from the context\ntmpfs\n');
  assert.equal(await run('mounts:2', 'sh', '-c', 'ls /cache /t/scratch 2>&1 >/dev/null | wc -l'), '2\n', 'neither the cache nor the tmpfs is in the image');
});

test('RUN --network=none: only lo; a plain RUN has eth0', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nRUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > /none\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort > /default\n' });
  await buildOk(dir, ['-t', 'nets']);
  assert.equal(await run('nets', 'cat', '/none'), 'lo\n');
  assert.equal(await run('nets', 'cat', '/default'), 'eth0\nlo\n');
});

// ---- cache ----------------------------------------------------------------------------------

const cacheDockerfile = 'FROM busybox\nENV A=1\nRUN echo one > /one\nCOPY a.txt /a\nCOPY b.txt /b\nRUN cat /a /b > /ab\nCMD ["cat", "/ab"]\n';

test('cache: an identical rebuild uses the cache for every step and gives the same image', async () => {
  const dir = context({ Dockerfile: cacheDockerfile, 'a.txt': 'a\n', 'b.txt': 'b\n' });
  const first = await buildOk(dir, ['-t', 'cached:1']);
  assert.ok(steps(first.stdout).slice(1).every((s) => !cached(s)), first.stdout);
  const second = await buildOk(dir, ['-t', 'cached:2']);
  const st = steps(second.stdout);
  assert.equal(st.length, 7);
  for (const s of st.slice(1)) assert.ok(cached(s), `${s.title} was not cached:\n${second.stdout}`);
  assert.doesNotMatch(second.stdout, /Running in/);
  assert.equal(await imageId('cached:1'), await imageId('cached:2'));
  assert.equal(await run('cached:2'), 'a\nb\n');
});

test('cache: changing one copied file rebuilds from that COPY on; --no-cache rebuilds everything', async () => {
  const dir = context({ Dockerfile: cacheDockerfile, 'a.txt': 'a\n', 'b.txt': 'b\n' });
  await buildOk(dir, ['-t', 'change:1']);
  fs.writeFileSync(join(dir, 'b.txt'), 'b changed\n');
  const r = await buildOk(dir, ['-t', 'change:2']);
  const st = steps(r.stdout);
  assert.deepEqual(st.map(cached), [false, true, true, true, false, false, false], r.stdout);
  assert.equal(await run('change:2'), 'a\nb changed\n');
  assert.notEqual(await imageId('change:1'), await imageId('change:2'));

  const none = await buildOk(dir, ['-t', 'change:3', '--no-cache']);
  assert.doesNotMatch(none.stdout, /Using cache/);
  assert.equal((none.stdout.match(/Running in/g) ?? []).length, 2, 'both RUNs ran again');
  assert.equal(await run('change:3'), 'a\nb changed\n');
});

test('cache: survives a daemon restart', async () => {
  const dir = context({ Dockerfile: cacheDockerfile, 'a.txt': 'ra\n', 'b.txt': 'rb\n' });
  await buildOk(dir, ['-t', 'restart:1']);
  assert.equal(await d.stop(), 0);
  await d.launch();
  const r = await buildOk(dir, ['-t', 'restart:2']);
  for (const s of steps(r.stdout).slice(1)) assert.ok(cached(s), `${s.title} was not cached after a restart:\n${r.stdout}`);
  assert.equal(await imageId('restart:1'), await imageId('restart:2'));
});

// ---- multi-stage ----------------------------------------------------------------------------

test('multi-stage: --target builds only the stages it needs (a broken unrelated stage is skipped)', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox AS base',
      'RUN echo base > /base',
      'FROM busybox AS broken',
      'RUN exit 1',
      'FROM base AS wanted',
      'RUN echo wanted > /wanted',
      'FROM broken AS last',
      '',
    ].join('\n'),
  });
  const r = await buildOk(dir, ['-t', 'targeted', '--target', 'wanted']);
  assert.doesNotMatch(r.stdout, /exit 1/);
  assert.match(r.stdout, /^Step 1\/4 : FROM busybox AS base$/m);
  assert.equal(await run('targeted', 'cat', '/base', '/wanted'), 'base\nwanted\n');
  const all = await build(dir, ['-t', 'untargeted']);
  assert.equal(all.code, 1, 'without --target the last stage (on the broken one) is built');
  const bad = await build(dir, ['--target', 'nosuch']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /nosuch/);
});

test('multi-stage: two independent stages build at the same time; COPY --from a stage', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox AS a',
      'RUN sleep 3; echo a > /a',
      'FROM busybox AS b',
      'RUN sleep 3; echo b > /b',
      'FROM a',
      'COPY --from=b /b /from-b',
      'RUN cat /a /from-b > /both',
      '',
    ].join('\n'),
  });
  const t0 = Date.now();
  await buildOk(dir, ['-t', 'parallel', '--no-cache']);
  const ms = Date.now() - t0;
  assert.ok(ms < 5500, `two 3 s stages took ${ms} ms: they ran one after the other`);
  assert.equal(await run('parallel', 'cat', '/both'), 'a\nb\n');
});

// ---- errors ---------------------------------------------------------------------------------

test('a failing RUN: docker build exits with its code, shows its output and leaves no container', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nRUN echo to-stdout; echo to-stderr >&2; exit 3\n' });
  const r = await build(dir, ['-t', 'failing']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^to-stdout$/m);
  assert.match(r.stdout, /^to-stderr$/m);
  assert.match(r.stderr, /The command '\/bin\/sh -c echo to-stdout; echo to-stderr >&2; exit 3' returned a non-zero code: 3/);
  const ran = /Running in ([0-9a-f]{12})/.exec(r.stdout)?.[1];
  assert.ok(ran, r.stdout);
  assert.doesNotMatch(await ok(['ps', '-a', '--no-trunc', '--format', '{{.ID}}']), new RegExp(ran!));
  const tagged = await d.docker(['image', 'inspect', 'failing']);
  assert.equal(tagged.code, 1, 'no image is tagged');
});

test('Dockerfile errors name their line: unknown instruction, missing COPY source, bad flag', async () => {
  const unknown = await build(context({ Dockerfile: 'FROM busybox\nRUN true\nFOO bar\n' }));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /dockerfile parse error on line 3: unknown instruction: FOO/i);

  const missing = await build(context({ Dockerfile: 'FROM busybox\n\nCOPY nothere.txt /x\n' }));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nothere\.txt/);
  assert.match(missing.stderr, /(Dockerfile:|line )3/);

  const flag = await build(context({ Dockerfile: 'FROM busybox\nCOPY --frm=x a b\n', a: 'a' }));
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /line 2/);
  assert.match(flag.stderr, /frm/);
});
