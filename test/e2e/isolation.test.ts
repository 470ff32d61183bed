/**
 * What a container sees from the inside: Docker's defaults for capabilities, namespaces, masked
 * and read-only paths, its own writable layer, and images that stay untouched.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { MASKED_PATHS } from '../../src/runtime/oci-spec';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const sh = async (script: string, ...flags: string[]) => {
  const r = await d.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
};

test("Docker's default capability set, and nothing inheritable or ambient", async () => {
  const out = await sh('grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status');
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  assert.equal(out, 'CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n');
});

test('own pid, uts and network namespaces: PID 1, its own hostname, loopback only with --network none', async () => {
  const run = await d.berth(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo $$; hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip addr show lo | grep -c "inet 127.0.0.1"']);
  const id = run.stdout.trim();
  assert.equal((await d.berth(['wait', id])).stdout, '0\n');
  assert.equal((await d.berth(['logs', id])).stdout, `1\n${id.slice(0, 12)}\nlo\n1\n`);
  assert.equal((await d.berth(['rm', id])).code, 0);
  assert.notEqual((await sh('hostname', '-h', 'box')).trim(), fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  assert.equal(await sh('hostname; cat /etc/hostname', '-h', 'box'), 'box\nbox\n');
});

test('--pid and --ipc: another container\'s namespaces with container:<name>, the host\'s with host; a bad mode is refused', async () => {
  await d.dockerOk(['run', '-d', '--name', 'nsbase', 'busybox', 'sleep', '300']);
  const joined = await d.dockerOk(['run', '--rm', '--pid', 'container:nsbase', '--ipc', 'container:nsbase', 'busybox', 'sh', '-c', 'xargs -0 < /proc/1/cmdline; readlink /proc/self/ns/ipc']);
  const baseIpc = (await d.dockerOk(['exec', 'nsbase', 'readlink', '/proc/self/ns/ipc'])).trim();
  assert.equal(joined, `sleep 300\n${baseIpc}\n`);
  const hostPid1 = fs.readFileSync('/proc/1/comm', 'utf8');
  assert.equal(await d.dockerOk(['run', '--rm', '--pid', 'host', 'busybox', 'cat', '/proc/1/comm']), hostPid1);
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PidMode: 'bogus' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /invalid PID mode: bogus/);
  await d.dockerOk(['rm', '-f', 'nsbase']);
});

test('masked paths read as empty, /proc/sys and /sys are read-only', async () => {
  const present = MASKED_PATHS.filter((p) => fs.existsSync(p) && fs.statSync(p).isFile());
  assert.ok(present.length > 0, 'some masked file exists on this host');
  for (const p of present) assert.equal(await sh(`wc -c < ${p}`), '0\n', p);
  const procSys = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo x > /proc/sys/kernel/domainname']);
  assert.notEqual(procSys.code, 0);
  assert.match(procSys.stderr, /Read-only file system/);
  const sys = await d.berth(['run', '--rm', 'busybox', 'touch', '/sys/kernel/x']);
  assert.notEqual(sys.code, 0);
  assert.match(sys.stderr, /Read-only file system/);
});

test('devices: the standard set only; /dev/shm is 64 MiB', async () => {
  // runc's standard nodes and links (console and core appear only with a TTY and a /proc/kcore).
  const standard = new Set(['console', 'core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
  const seen = (await sh('ls /dev')).split(/\s+/).filter(Boolean);
  assert.deepEqual(seen.filter((n) => !standard.has(n)), []);
  for (const n of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'shm', 'pts']) assert.ok(seen.includes(n), n);
  const disk = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/disk b 8 0 && head -c1 /tmp/disk']);
  assert.notEqual(disk.code, 0, 'block devices of the host stay out of reach');
  assert.match(disk.stderr, /Operation not permitted/);
  assert.match(await sh('df -k /dev/shm | tail -1'), /^shm\s+65536\s/);
});

test('a running container has its own overlay mount; removing it removes the mount and its layer', async () => {
  const run = await d.berth(['run', '-d', 'busybox', 'sleep', '1000']);
  const id = run.stdout.trim();
  const merged = `${d.dataRoot}/snapshots/${id}/merged`;
  const mounted = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === merged);
  assert.ok(mounted(), 'the rootfs is an overlay mount while it runs');
  assert.match(fs.readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(`${merged} .* - overlay overlay .*lowerdir=`));
  assert.equal((await d.berth(['rm', '-f', id])).code, 0);
  const deadline = Date.now() + 5000;
  // The files go in the background after rm returns (the container itself is gone at once).
  const left = () => mounted() || fs.existsSync(`${d.dataRoot}/snapshots/${id}`) || fs.existsSync(`${d.dataRoot}/containers/${id}`);
  while (left() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mounted(), false);
  assert.equal(fs.existsSync(`${d.dataRoot}/snapshots/${id}`), false);
  assert.equal(fs.existsSync(`${d.dataRoot}/containers/${id}`), false);
});

test('each container writes to its own layer; the image is untouched; --read-only refuses writes', async () => {
  assert.equal(await sh('echo mine > /etc/motd; cat /etc/motd'), 'mine\n');
  assert.equal((await d.berth(['run', '--rm', 'busybox', 'cat', '/etc/motd'])).code, 1);
  const ro = await d.berth(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
});

test('rmi --force of an image a stopped container uses: the container keeps working, its layers stay until it goes', async () => {
  const create = await d.berth(['create', '--name', 'orphan', 'busybox', 'echo', 'still here']);
  assert.equal(create.code, 0, create.stderr);
  const imageId = (await d.berth(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout.trim();
  const layer = (await d.berth(['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', 'busybox'])).stdout.trim();

  const refused = await d.berth(['rmi', imageId]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /unable to delete [a-f0-9]{12} \(must be forced\) - image is being used by stopped container/);

  const forced = await d.berth(['rmi', '-f', 'busybox']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, `Untagged: busybox:latest\nDeleted: ${imageId}\n`);
  assert.ok(fs.existsSync(`${d.dataRoot}/snapshots/${layer.slice(7)}`), 'the layer stays while a container stands on it');

  const start = await d.berth(['start', '-a', 'orphan']);
  assert.equal(start.stdout, 'still here\n');
  assert.equal((await d.berth(['ps', '-a', '--filter', 'name=orphan', '--format', '{{.Image}}'])).stdout, `${imageId.slice(7, 19)}\n`);

  assert.equal((await d.berth(['rm', 'orphan'])).code, 0);
  const deadline = Date.now() + 5000;
  while (fs.existsSync(`${d.dataRoot}/snapshots/${layer.slice(7)}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.existsSync(`${d.dataRoot}/snapshots/${layer.slice(7)}`), false, 'the layer goes with the last user');
});
