/**
 * Volumes and mounts end to end, through the docker CLI: named volumes that outlive containers
 * and the daemon, copy-up from the image, read-only mounts, tmpfs mounts, binds, --volumes-from,
 * anonymous volumes and their removal, a symlink in the image that must not lead a mount out, and
 * the volume commands.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const ok = (args: string[]) => d.dockerOk(args);

test('data in a named volume outlives the container that wrote it and a daemon restart', async () => {
  await ok(['run', '--name', 'writer', '-v', 'keep:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  await ok(['rm', 'writer']);
  assert.equal(await ok(['run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/f']), 'kept\n');
  await d.stop();
  await d.launch();
  assert.equal(await ok(['run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/f']), 'kept\n');
  assert.equal(await ok(['volume', 'ls', '-q']), 'keep\n', 'no anonymous volume appeared');
});

test("copy-up: a new volume over an image directory gets its files, owners and modes; nocopy and a used volume don't", async () => {
  // An image whose /srv holds files of several owners and modes.
  await ok(['run', '--name', 'maker', 'busybox', 'sh', '-c',
    'mkdir -p /srv/sub && echo a > /srv/a && echo b > /srv/sub/b && chown 1000:1000 /srv/a && chown -R 33:44 /srv/sub && chmod 640 /srv/a && chmod 2750 /srv/sub && chmod 4755 /srv/sub/b && chown 7:7 /srv && chmod 711 /srv']);
  await ok(['commit', 'maker', 'srvimage']);
  await ok(['rm', 'maker']);
  const stat = 'stat -c "%n %u:%g %a" /srv /srv/a /srv/sub /srv/sub/b';
  const inImage = await ok(['run', '--rm', 'srvimage', 'sh', '-c', stat]);
  assert.equal(inImage, '/srv 7:7 711\n/srv/a 1000:1000 640\n/srv/sub 33:44 2750\n/srv/sub/b 33:44 4755\n');
  assert.equal(await ok(['run', '--rm', '-v', 'copied:/srv', 'srvimage', 'sh', '-c', stat]), inImage);
  const mountpoint = JSON.parse(await ok(['volume', 'inspect', 'copied']))[0].Mountpoint as string;
  assert.equal(fs.readFileSync(join(mountpoint, 'sub', 'b'), 'utf8'), 'b\n', 'the files are in the volume on the host');
  assert.equal(await ok(['run', '--rm', '-v', 'bare:/srv:nocopy', 'srvimage', 'ls', '-A', '/srv']), '', 'nocopy');
  // A volume that has data is never overwritten by the image.
  await ok(['run', '--rm', '-v', 'used:/data', 'busybox', 'sh', '-c', 'echo mine > /data/own']);
  assert.equal(await ok(['run', '--rm', '-v', 'used:/srv', 'srvimage', 'ls', '-A', '/srv']), 'own\n');
});

test('-v :ro refuses writes; --mount tmpfs has its size and mode; a bind shows the host directory; --volumes-from sees the same data', async () => {
  await ok(['run', '--rm', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo s > /data/s']);
  const ro = await d.docker(['run', '--rm', '-v', 'shared:/data:ro', 'busybox', 'sh', '-c', 'cat /data/s; echo x > /data/t']);
  assert.notEqual(ro.code, 0);
  assert.equal(ro.stdout, 's\n');
  assert.match(ro.stderr, /Read-only file system/);
  const tmpfs = await ok(['run', '--rm', '--mount', 'type=tmpfs,target=/scratch,tmpfs-size=2m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'grep " /scratch " /proc/mounts; stat -c %a /scratch']);
  assert.match(tmpfs, /^tmpfs \/scratch tmpfs rw,.*size=2048k,mode=1770 /);
  assert.match(tmpfs, /\n1770\n$/);
  const host = fs.mkdtempSync(join(os.tmpdir(), 'berth-bind-'));
  try {
    fs.writeFileSync(join(host, 'from-host'), 'h\n');
    assert.equal(await ok(['run', '--rm', '-v', `${host}:/h`, 'busybox', 'sh', '-c', 'cat /h/from-host; echo c > /h/from-container']), 'h\n');
    assert.equal(fs.readFileSync(join(host, 'from-container'), 'utf8'), 'c\n');
    const missing = await d.docker(['run', '--rm', '--mount', `type=bind,source=${host}/nope,target=/x`, 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /bind source path does not exist/);
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
  await ok(['run', '-d', '--name', 'source', '-v', 'shared:/data', '-v', '/anon', 'busybox', 'sleep', '300']);
  assert.equal(await ok(['run', '--rm', '--volumes-from', 'source', 'busybox', 'sh', '-c', 'cat /data/s; ls -d /anon']), 's\n/anon\n');
  const roFrom = await d.docker(['run', '--rm', '--volumes-from', 'source:ro', 'busybox', 'sh', '-c', 'echo x > /data/t']);
  assert.match(roFrom.stderr, /Read-only file system/);
  const mounts = JSON.parse(await ok(['inspect', '-f', '{{json .Mounts}}', 'source'])) as { Type: string; Name: string; Destination: string; RW: boolean; Driver: string }[];
  assert.deepEqual(mounts.map((m) => [m.Type, m.Destination, m.RW, m.Driver]), [['volume', '/data', true, 'local'], ['volume', '/anon', true, 'local']]);
  assert.equal(mounts[0]!.Name, 'shared');
  const inUse = await d.docker(['volume', 'rm', 'shared']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /volume is in use/);
  await ok(['rm', '-f', 'source']);
});

test('anonymous volumes: made for VOLUME and -v /path, removed by rm -v and --rm, kept by plain rm', async () => {
  const before = new Set((await ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean));
  const fresh = async () => (await ok(['volume', 'ls', '-q'])).split('\n').filter((n) => n && !before.has(n));
  await ok(['run', '--rm', '-v', '/scratch', 'busybox', 'true']);
  assert.deepEqual(await fresh(), [], '--rm took it along');
  await ok(['run', '--name', 'a1', '-v', '/scratch', 'busybox', 'true']);
  await ok(['rm', '-v', 'a1']);
  assert.deepEqual(await fresh(), [], 'rm -v took it along');
  await ok(['run', '--name', 'a2', '-v', '/scratch', 'busybox', 'true']);
  await ok(['rm', 'a2']);
  const left = await fresh();
  assert.equal(left.length, 1, 'plain rm keeps it');
  const v = JSON.parse(await ok(['volume', 'inspect', left[0]!]))[0];
  assert.deepEqual(v.Labels, { 'com.docker.volume.anonymous': '' });
  // The image's VOLUME makes one too.
  await ok(['run', '--name', 'vm', 'busybox', 'true']);
  await ok(['commit', '--change', 'VOLUME /declared', 'vm', 'volimage']);
  await ok(['rm', 'vm']);
  const r = JSON.parse(await ok(['create', '--name', 'declared', 'volimage', 'true']).then(() => ok(['inspect', '-f', '{{json .Mounts}}', 'declared'])));
  assert.equal(r[0].Destination, '/declared');
  assert.equal(r[0].Type, 'volume');
  await ok(['rm', '-v', 'declared']);
  // prune: anonymous ones only, unless --all.
  await ok(['volume', 'create', 'named-unused']);
  const pruned = await ok(['volume', 'prune', '-f']);
  assert.match(pruned, /^Deleted Volumes:\n/);
  assert.ok(pruned.split('\n').includes(left[0]!), 'the anonymous volume was pruned');
  assert.ok(!pruned.includes('named-unused'), 'a named one was not');
  assert.ok((await ok(['volume', 'ls', '-q'])).includes('named-unused'));
  assert.match(await ok(['volume', 'prune', '-af']), /named-unused/);
});

test('symlinks in the image never lead a mount out of the container: to / is refused, to ../../tmp lands in the container', async () => {
  const marker = `berth-escape-${process.pid}`;
  await ok(['run', '--name', 'linker', 'busybox', 'sh', '-c', `ln -s / /escape && mkdir -p /tmp/${marker} && ln -s ../../../../tmp/${marker} /up`]);
  await ok(['commit', 'linker', 'linkimage']);
  await ok(['rm', 'linker']);
  const root = await d.docker(['run', '--rm', '-v', 'trap:/escape', 'linkimage', 'sh', '-c', `echo caught > /escape/${marker}`]);
  assert.notEqual(root.code, 0);
  assert.match(root.stderr, /the mount path \/escape resolves to \/ in the container/);
  assert.equal(fs.existsSync(`/${marker}`), false, 'nothing was written to the host root');
  // ../../../../tmp/<marker> from /up is the container's /tmp/<marker>: the mount goes there.
  assert.equal(await ok(['run', '--rm', '-v', 'trap:/up', 'linkimage', 'sh', '-c', `echo caught > /tmp/${marker}/f; grep -c " /tmp/${marker} " /proc/mounts`]), '1\n');
  assert.equal(fs.existsSync(`/tmp/${marker}`), false, "the host's /tmp is untouched");
  assert.equal(await ok(['run', '--rm', '-v', 'trap:/mnt', 'busybox', 'cat', '/mnt/f']), 'caught\n', 'the data is in the volume');
});

test('docker volume create/ls/inspect/rm with labels, options and filters; bad names are refused', async () => {
  assert.equal(await ok(['volume', 'create', '--label', 'team=a', 'labelled']), 'labelled\n');
  await ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tmpvol']);
  const v = JSON.parse(await ok(['volume', 'inspect', 'labelled', 'tmpvol']));
  assert.deepEqual(v.map((x: { Name: string; Driver: string; Scope: string }) => [x.Name, x.Driver, x.Scope]), [['labelled', 'local', 'local'], ['tmpvol', 'local', 'local']]);
  assert.deepEqual(v[0].Labels, { team: 'a' });
  assert.deepEqual(v[1].Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
  assert.match(v[0].Mountpoint, /\/volumes\/labelled\/_data$/);
  assert.equal(await ok(['volume', 'ls', '-q', '-f', 'label=team=a']), 'labelled\n');
  // The local driver's options: a tmpfs mounted on the volume while it is in use.
  assert.match(await ok(['run', '--rm', '-v', 'tmpvol:/t', 'busybox', 'grep', ' /t ', '/proc/mounts']), /^tmpfs \/t tmpfs rw,.*size=1024k/);
  // The berth CLI speaks the same API.
  const b = await d.berth(['volume', 'ls', '-q', '--filter', 'name=labell']);
  assert.equal(b.stdout, 'labelled\n', b.stderr);
  assert.equal((await d.berth(['volume', 'create', 'bvol'])).stdout, 'bvol\n');
  assert.equal((await d.berth(['run', '--rm', '-v', 'bvol:/b', '--mount', 'type=tmpfs,target=/t2', 'busybox', 'sh', '-c', 'echo x > /b/x && grep -c " /t2 " /proc/mounts'])).stdout, '1\n');
  const bi = await d.berth(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Scope}}', 'bvol']);
  assert.equal(bi.stdout, 'bvol local local\n', bi.stderr);
  assert.equal((await d.berth(['volume', 'rm', 'bvol'])).stdout, 'bvol\n');
  await d.berth(['volume', 'create', 'bprune']);
  const bp = await d.berth(['volume', 'prune', '-a', '-f', '--filter', 'label!=team']);
  assert.match(bp.stdout, /^Deleted Volumes:\n(.*\n)*bprune\n/, bp.stderr);
  assert.doesNotMatch(bp.stdout, /labelled/, 'the label filter kept it');
  assert.match(bp.stdout, /\ntmpvol\n/, 'unused and unlabelled: pruned with -a');
  // o=bind: a host directory behind a volume; unmounted (and the host directory kept) at removal.
  const hostDir = fs.mkdtempSync(join(os.tmpdir(), 'berth-bindvol-'));
  try {
    await ok(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${hostDir}`, 'bound']);
    await ok(['run', '--rm', '-v', 'bound:/b', 'busybox', 'sh', '-c', 'echo through > /b/t']);
    assert.equal(fs.readFileSync(join(hostDir, 't'), 'utf8'), 'through\n');
    assert.equal(await ok(['volume', 'ls', '-q', '-f', 'dangling=true', '-f', 'name=bound']), 'bound\n');
    await ok(['volume', 'rm', 'bound']);
    assert.equal(fs.readFileSync(join(hostDir, 't'), 'utf8'), 'through\n', 'the host directory keeps its data');
  } finally {
    fs.rmSync(hostDir, { recursive: true, force: true });
  }
  // --mount's volume options, and -v of a missing host path (created, as Docker does for -v).
  const made = join(os.tmpdir(), `berth-made-${process.pid}`);
  try {
    const out = await ok(['run', '--rm', '--mount', 'type=volume,source=optvol,target=/o,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs',
      '--mount', `type=bind,source=${os.tmpdir()},target=/hosttmp,bind-propagation=rslave,readonly`, '-v', `${made}:/made`, 'busybox', 'sh', '-c',
      'grep " /o " /proc/mounts | cut -d" " -f3; touch /hosttmp/x 2>&1 | grep -c "Read-only"; ls -A /made | wc -l']);
    assert.equal(out, 'tmpfs\n1\n0\n');
    assert.ok(fs.statSync(made).isDirectory());
    const m = JSON.parse(await ok(['volume', 'inspect', 'optvol']))[0];
    assert.deepEqual(m.Options, { device: 'tmpfs', type: 'tmpfs' });
  } finally {
    fs.rmSync(made, { recursive: true, force: true });
  }
  assert.match(await ok(['volume', 'ls']), /^DRIVER\s+VOLUME NAME\n(.*\n)*local\s+labelled\n/);
  const bad = await d.docker(['volume', 'create', 'a/b']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  assert.equal(await ok(['volume', 'rm', 'labelled']), 'labelled\n');
  const gone = await d.docker(['volume', 'inspect', 'labelled']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no such volume/);
});

test('system df counts volumes and their size; events tell a volume create, mount, unmount and destroy', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await ok(['run', '--rm', '-v', 'counted:/data', 'busybox', 'sh', '-c', 'head -c 3000 /dev/zero > /data/blob']);
  const df = await ok(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Size}}']);
  const total = (await ok(['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean).length;
  assert.match(df, new RegExp(`^Local Volumes ${total} \\d`, 'm'));
  const verbose = await ok(['system', 'df', '-v', '--format', '{{json .Volumes}}']);
  const counted = (JSON.parse(verbose) as { Name: string; Size: string; Links: number }[]).find((v) => v.Name === 'counted');
  assert.equal(counted?.Size, '3kB');
  await ok(['volume', 'rm', 'counted']);
  const until = Math.floor(Date.now() / 1000) + 1;
  const events = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'type=volume', '--filter', 'volume=counted', '--format', '{{.Action}}']);
  assert.equal(events, 'create\nmount\nunmount\ndestroy\n');
});
