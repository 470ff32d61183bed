/**
 * A container's filesystem from outside: docker cp both ways (and its hostile-symlink cases),
 * export, diff and commit, with the real docker CLI and the berth CLI.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const uniq = () => `berth-cfs-${randomBytes(6).toString('hex')}`;

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** A detached container prepared by `script`, then left sleeping. */
async function sleeper(name: string, script: string): Promise<string> {
  const id = (await ok(d.docker(['run', '-d', '--name', name, 'busybox', 'sh', '-c', `${script}; touch /ready; exec sleep 1000`]))).trim();
  for (let i = 0; i < 100; i++) {
    if ((await d.docker(['exec', name, 'test', '-e', '/ready'])).code === 0) return id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not get ready`);
}

function tarOf(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string; mode?: number }[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file' || e.type === undefined) p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.body ?? '');
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: e.mode ?? 0o755 });
  }
  p.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

function mergedMounted(id: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`/snapshots/${id}/merged`);
}

test('docker cp copies a file and a directory out and back in, keeping contents and modes', async () => {
  await sleeper('cp1', 'mkdir -p /data/sub && echo one > /data/a && chmod 640 /data/a && echo two > /data/sub/b && chmod 750 /data/sub');
  const out = join(d.dir, 'cp1-out');
  fs.mkdirSync(out);
  await ok(d.docker(['cp', 'cp1:/data/a', join(out, 'a-copy')]));
  assert.equal(fs.readFileSync(join(out, 'a-copy'), 'utf8'), 'one\n');
  assert.equal(fs.statSync(join(out, 'a-copy')).mode & 0o777, 0o640);
  await ok(d.docker(['cp', 'cp1:/data', join(out, 'tree')]));
  assert.equal(fs.readFileSync(join(out, 'tree/sub/b'), 'utf8'), 'two\n');
  assert.equal(fs.statSync(join(out, 'tree/sub')).mode & 0o777, 0o750);

  fs.writeFileSync(join(out, 'up.txt'), 'uploaded\n', { mode: 0o600 });
  fs.chmodSync(join(out, 'up.txt'), 0o604);
  await ok(d.docker(['cp', join(out, 'up.txt'), 'cp1:/data/sub/']));
  assert.equal(await ok(d.docker(['exec', 'cp1', 'cat', '/data/sub/up.txt'])), 'uploaded\n');
  assert.match(await ok(d.docker(['exec', 'cp1', 'stat', '-c', '%a', '/data/sub/up.txt'])), /^604\n$/);
  await ok(d.docker(['cp', join(out, 'tree'), 'cp1:/newtree']));
  assert.equal(await ok(d.docker(['exec', 'cp1', 'cat', '/newtree/sub/b'])), 'two\n');
  // The berth CLI does the same, including "-" (a tar on stdout) and a rename on the way in.
  await ok(d.berth(['cp', join(out, 'up.txt'), 'cp1:/data/renamed.txt']));
  assert.equal(await ok(d.docker(['exec', 'cp1', 'cat', '/data/renamed.txt'])), 'uploaded\n');
  const tarOut = await d.berth(['cp', 'cp1:/data/a', '-']);
  assert.equal(tarOut.code, 0, tarOut.stderr);
  const listed = require('node:child_process').execFileSync('tar', ['-t'], { input: Buffer.from(tarOut.stdout, 'latin1') }) as Buffer;
  assert.equal(listed.toString(), 'a\n', 'the tar names the file by its base name');
  assert.equal((await d.docker(['rm', '-f', 'cp1'])).code, 0);
});

test('cp out of a stopped container works and leaves its rootfs unmounted', async () => {
  const id = (await ok(d.docker(['run', '--name', 'stopped1', 'busybox', 'sh', '-c', 'echo kept > /kept']))).trim() || 'stopped1';
  void id;
  const full = (await ok(d.docker(['inspect', '-f', '{{.Id}}', 'stopped1']))).trim();
  const dest = join(d.dir, 'kept');
  await ok(d.berth(['cp', 'stopped1:/kept', dest]));
  assert.equal(fs.readFileSync(dest, 'utf8'), 'kept\n');
  fs.writeFileSync(join(d.dir, 'into-stopped'), 'in\n');
  await ok(d.docker(['cp', join(d.dir, 'into-stopped'), 'stopped1:/tmp/']));
  assert.equal(mergedMounted(full), false, 'the rootfs of a stopped container is unmounted after cp');
  const missing = await d.docker(['cp', 'stopped1:/nope', join(d.dir, 'nope')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Could not find the file \/nope in container stopped1/);
  await ok(d.docker(['start', '-a', 'stopped1']));
  await ok(d.docker(['cp', 'stopped1:/tmp/into-stopped', join(d.dir, 'back')]));
  assert.equal(fs.readFileSync(join(d.dir, 'back'), 'utf8'), 'in\n');
  await ok(d.docker(['rm', '-f', 'stopped1']));
});

test('cp out: a symlink to /etc/shadow yields the symlink, and -L the container file, never the host one', async () => {
  const hostShadow = fs.readFileSync('/etc/shadow', 'utf8');
  await sleeper('leaky', 'echo container-shadow > /etc/shadow; ln -s /etc/shadow /leak; ln -s ../../../../../../etc/shadow /rel; ln -s /etc/nonexistent-x /dangling; mkdir /t; ln -s /etc /t/etc');
  const out = join(d.dir, 'leak-out');
  fs.mkdirSync(out);
  await ok(d.docker(['cp', 'leaky:/leak', join(out, 'leak')]));
  assert.equal(fs.lstatSync(join(out, 'leak')).isSymbolicLink(), true);
  assert.equal(fs.readlinkSync(join(out, 'leak')), '/etc/shadow');
  for (const [src, name] of [['leaky:/leak', 'L1'], ['leaky:/rel', 'L2']]) {
    await ok(d.docker(['cp', '-L', src, join(out, name)]));
    const got = fs.readFileSync(join(out, name), 'utf8');
    assert.equal(got, 'container-shadow\n');
    assert.notEqual(got, hostShadow);
  }
  await ok(d.berth(['cp', '-L', 'leaky:/leak', join(out, 'L3')]));
  assert.equal(fs.readFileSync(join(out, 'L3'), 'utf8'), 'container-shadow\n');
  const dangling = await d.docker(['cp', '-L', 'leaky:/dangling', join(out, 'L4')]);
  assert.notEqual(dangling.code, 0);
  assert.equal(fs.existsSync(join(out, 'L4')), false);
  // A directory holding a symlink to /etc: the link is archived, not the host's /etc.
  await ok(d.docker(['cp', 'leaky:/t', join(out, 't')]));
  assert.equal(fs.readlinkSync(join(out, 't/etc')), '/etc');
  const viaApi = await d.api('GET', '/containers/leaky/archive?path=/leak/');
  assert.equal(viaApi.status, 200);
  assert.ok(viaApi.body.includes('container-shadow'), 'following the link resolves inside the container');
  assert.ok(!viaApi.body.includes(hostShadow.slice(0, 20)));
  const stat = JSON.parse(Buffer.from(String(viaApi.headers['x-docker-container-path-stat']), 'base64').toString());
  assert.deepEqual([stat.name, stat.mode, stat.size], ['leak', 0o644, 17]);
  const linkStat = JSON.parse(Buffer.from(String((await d.api('HEAD', '/containers/leaky/archive?path=/t/etc')).headers['x-docker-container-path-stat']), 'base64').toString());
  assert.deepEqual([linkStat.name, linkStat.mode, linkStat.linkTarget], ['etc', 2 ** 27 + 0o777, '/etc']);
  await ok(d.docker(['rm', '-f', 'leaky']));
});

test('cp in: parents that are symlinks to / or ../../.. land inside the rootfs', async () => {
  await sleeper('target', 'ln -s / /rootlink; ln -s ../../../../.. /up; mkdir /d; ln -s /etc /d/etclink; ln -s ../../../../../../tmp /d/tmplink');
  const names = [uniq(), uniq(), uniq(), uniq(), uniq()];
  const src = join(d.dir, 'payload');
  fs.writeFileSync(src, 'payload\n');
  await ok(d.docker(['cp', src, `target:/rootlink/tmp/${names[0]}`]));
  await ok(d.docker(['cp', src, `target:/up/tmp/${names[1]}`]));
  await ok(d.berth(['cp', src, `target:/up/tmp/${names[2]}`]));
  // A raw upload whose entries go through symlinks that already exist in the container.
  const tar = await tarOf([{ name: `etclink/${names[3]}`, body: 'via etc\n' }, { name: `tmplink/${names[4]}`, body: 'via tmp\n' }]);
  const put = await d.api('PUT', '/containers/target/archive?path=/d', tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(put.status, 200, put.body);
  for (const n of names) {
    assert.equal(fs.existsSync(`/tmp/${n}`) || fs.existsSync(`/etc/${n}`), false, `${n} must not reach the host`);
  }
  const inside = await ok(d.docker(['exec', 'target', 'sh', '-c', `cat /tmp/${names[0]} /tmp/${names[1]} /tmp/${names[2]} /etc/${names[3]} /tmp/${names[4]}`]));
  assert.equal(inside, 'payload\npayload\npayload\nvia etc\nvia tmp\n');
  await ok(d.docker(['rm', '-f', 'target']));
});

test('PUT archive refuses ../ entries, non-directories and missing paths', async () => {
  await sleeper('refuse', 'mkdir /x; echo f > /x/file');
  const name = uniq();
  const evil = await tarOf([{ name: `../../../../../../tmp/${name}`, body: 'escape\n' }]);
  const r = await d.api('PUT', '/containers/refuse/archive?path=/x', evil, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).message, /escapes the root/);
  assert.equal(fs.existsSync(`/tmp/${name}`), false);
  assert.equal((await d.docker(['exec', 'refuse', 'test', '-e', `/tmp/${name}`])).code, 1);
  const good = await tarOf([{ name: 'ok.txt', body: 'ok\n' }]);
  const notDir = await d.api('PUT', '/containers/refuse/archive?path=/x/file', good, { 'Content-Type': 'application/x-tar' });
  assert.equal(notDir.status, 400);
  assert.match(JSON.parse(notDir.body).message, /extraction point is not a directory/);
  const missing = await d.api('PUT', '/containers/refuse/archive?path=/nope', good, { 'Content-Type': 'application/x-tar' });
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).message, 'Could not find the file /nope in container refuse');
  const head = await d.api('HEAD', '/containers/refuse/archive?path=/x/file');
  assert.equal(head.status, 200);
  const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
  assert.deepEqual([stat.name, stat.size, stat.mode, stat.linkTarget], ['file', 2, 0o644, '']);
  await ok(d.docker(['rm', '-f', 'refuse']));
});

test('export streams the whole filesystem; diff shows A, C and D', async () => {
  await sleeper('changed', 'touch /etc/passwd; rm /bin/cat; echo new > /added');
  const tarFile = join(d.dir, 'export.tar');
  await ok(d.berth(['export', '-o', tarFile, 'changed']));
  const list = require('node:child_process').execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8', maxBuffer: 64 << 20 }) as string;
  assert.match(list, /^bin\/busybox$/m);
  assert.match(list, /^added$/m);
  assert.doesNotMatch(list, /^bin\/cat$/m);
  const viaDocker = await d.docker(['export', 'changed']);
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  assert.ok(viaDocker.stdout.length > 1_000_000);

  const want = ['C /bin', 'D /bin/cat', 'C /etc/passwd', 'A /added'];
  for (const cli of ['docker', 'berth'] as const) {
    const out = await ok(cli === 'docker' ? d.docker(['diff', 'changed']) : d.berth(['diff', 'changed']));
    const lines = out.trim().split('\n');
    for (const w of want) assert.ok(lines.includes(w), `${cli} diff lacks "${w}":\n${out}`);
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), `mount targets are not changes:\n${out}`);
  }
  await ok(d.docker(['rm', '-f', 'changed']));
});

test('commit makes an image with one more layer that new containers see', async () => {
  await sleeper('tocommit', 'echo committed-content > /hello; rm /bin/vi');
  const base = JSON.parse(await ok(d.docker(['inspect', 'busybox'])))[0];
  const id = (await ok(d.docker(['commit', '-a', 'Tester <t@example.com>', '-m', 'a message', '-c', 'CMD ["cat","/hello"]', '-c', 'ENV GREETING=hi', 'tocommit', 'committed:v1']))).trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  assert.equal((await ok(d.docker(['inspect', '-f', '{{.State.Status}}', 'tocommit']))).trim(), 'running', 'unpaused after the commit');
  const img = JSON.parse(await ok(d.docker(['inspect', 'committed:v1'])))[0];
  assert.equal(img.Id, id);
  assert.equal(img.RootFS.Layers.length, base.RootFS.Layers.length + 1);
  assert.deepEqual(img.RootFS.Layers.slice(0, -1), base.RootFS.Layers);
  assert.equal(img.Author, 'Tester <t@example.com>');
  assert.equal(img.Comment, 'a message');
  assert.deepEqual(img.Config.Cmd, ['cat', '/hello']);
  assert.ok(img.Config.Env.includes('GREETING=hi'));
  assert.equal(await ok(d.docker(['run', '--rm', 'committed:v1'])), 'committed-content\n');
  assert.equal(await ok(d.docker(['run', '--rm', 'committed:v1', 'sh', '-c', 'echo $GREETING; test -e /bin/vi || echo vi-gone'])), 'hi\nvi-gone\n');
  // The berth CLI, without pause and without a name.
  const bare = (await ok(d.berth(['commit', '-p=false', 'tocommit']))).trim();
  assert.match(bare, /^sha256:[a-f0-9]{64}$/);
  assert.equal(await ok(d.docker(['run', '--rm', bare, 'cat', '/hello'])), 'committed-content\n');
  await ok(d.docker(['rm', '-f', 'tocommit']));
  await ok(d.docker(['rmi', 'committed:v1', bare]));
});
