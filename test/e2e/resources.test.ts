/**
 * Resource limits and security options, seen from inside real containers and from inspect:
 * memory (OOM kill), pids, cpu, ulimits, /dev/shm, capabilities, --privileged, seccomp,
 * no-new-privileges, read-only roots with tmpfs, sysctls, hosts and DNS files, devices, --init,
 * env and label files, and `update` on a running container. Driven by the docker CLI, and by
 * the berth CLI for some flags.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Daemon, type Result, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const MB = 1024 * 1024;

async function ok(r: Promise<Result>, what: string): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, `${what}: exit ${res.code}: ${res.stderr}`);
  return res.stdout;
}
const docker = (...args: string[]) => ok(d.docker(args), args.join(' '));
const dockerSh = (flags: string[], script: string) => ok(d.docker(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]), `${flags.join(' ')} ${script}`);
const status = (flags: string[], field: string) => dockerSh(flags, `grep "^${field}:" /proc/self/status | cut -f2`).then((s) => s.trim());
const inspect = async (id: string, fmt: string) => (await docker('inspect', '-f', fmt, id)).trim();

/** A cgroup file of the container, v1 layout first, then v2. */
const cgroup = (v1: string, v2: string) => `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`;

test('--memory: a process allocating 100 MB in a 32 MB container is OOM-killed (137, OOMKilled)', async () => {
  const name = `oom-${process.pid}`;
  const r = await d.docker(['run', '--name', name, '--memory', '32m', 'busybox', 'sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo done']);
  assert.equal(r.code, 137, r.stderr);
  assert.doesNotMatch(r.stdout, /done/);
  assert.equal(await inspect(name, '{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}'), `true 137 ${32 * MB} ${64 * MB}`);
  await docker('rm', name);
  // Without the limit the same program finishes.
  assert.equal(await dockerSh([], 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo done'), 'done\n');
});

test("create answers with Docker's warnings, and both CLIs print them", async () => {
  const warning = 'WARNING: OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.\n';
  for (const cli of ['docker', 'berth'] as const) {
    const r = await d[cli](['run', '--rm', '--oom-kill-disable', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, warning, cli);
    const limited = await d[cli](['run', '--rm', '--oom-kill-disable', '--memory', '64m', 'busybox', 'true']);
    assert.equal(limited.stderr, '', cli);
  }
  const api = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { OomKillDisable: true } });
  assert.equal(api.status, 201, api.body);
  const body = JSON.parse(api.body) as { Id: string; Warnings: string[] };
  assert.deepEqual(body.Warnings, [warning.slice('WARNING: '.length, -1)]);
  await d.api('DELETE', `/containers/${body.Id}`);
});

test('--pids-limit 20 stops a fork bomb; without it all 50 processes run', async () => {
  // The inner shell dies at its first failed fork; the outer one counts who ran once they are gone.
  const bomb = `sh -c 'for i in $(seq 50); do (echo $i >> /tmp/ran; exec sleep 1) & done' 2>/tmp/err; sleep 2; wc -l < /tmp/ran; cat /tmp/err`;
  const limited = await ok(d.berth(['run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c', bomb]), 'pids-limited');
  const [ran, ...err] = limited.trim().split('\n');
  assert.ok(Number(ran) < 20, `ran ${ran}`);
  assert.match(err.join('\n'), /can't fork/);
  assert.equal((await dockerSh([], bomb)).trim(), '50');
  assert.equal((await dockerSh(['--pids-limit', '20'], cgroup('pids/pids.max', 'pids.max'))).trim(), '20');
});

test('--read-only blocks writes to / while --tmpfs /tmp stays writable, with its options', async () => {
  const r = await d.docker(['run', '--rm', '--read-only', '--tmpfs', '/tmp:rw,size=8m,exec', 'busybox', 'sh', '-c',
    'echo hi > /tmp/f && cat /tmp/f && grep " /tmp " /proc/mounts && touch /etc/x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /^hi\ntmpfs \/tmp tmpfs rw,nosuid,nodev,relatime,size=8192k/);
  assert.match(r.stderr, /Read-only file system/);
  // Docker's defaults for a bare --tmpfs: noexec, nosuid, nodev.
  assert.match(await dockerSh(['--tmpfs', '/scratch'], 'grep " /scratch " /proc/mounts'), /rw,nosuid,nodev,noexec/);
});

test('--cap-drop and --cap-add show in CapEff; --privileged gets every capability, every device, no filter', async () => {
  assert.equal(await status([], 'CapEff'), '00000000a80425fb');
  // Without CHOWN (bit 0), with NET_ADMIN (bit 12).
  assert.equal(await status(['--cap-drop', 'chown', '--cap-add', 'CAP_NET_ADMIN'], 'CapEff'), '00000000a80435fa');
  assert.equal(await status(['--cap-drop', 'ALL', '--cap-add', 'kill'], 'CapEff'), '0000000000000020');
  const bounding = /^CapBnd:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1];
  assert.equal(await status(['--privileged'], 'CapEff'), bounding);
  assert.equal(await status(['--privileged'], 'Seccomp'), '0');
  const hostDisks = fs.readdirSync('/dev').filter((n) => /^(vd|sd|nvme|loop)/.test(n) && fs.statSync(join('/dev', n)).isBlockDevice());
  const devs = await dockerSh(['--privileged'], 'ls /dev; touch /sys/kernel/x 2>&1; true');
  for (const n of hostDisks.slice(0, 3)) assert.ok(devs.split('\n').includes(n), `privileged sees /dev/${n}`);
  assert.doesNotMatch(devs, /Read-only/);
  const bad = await d.docker(['run', '--rm', '--cap-add', 'CAP_NOPE', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown capability: "CAP_NOPE"/);
});

test('seccomp: the default filter, unconfined, a profile file; no-new-privileges', async () => {
  assert.equal(await status([], 'Seccomp'), '2');
  assert.equal(await status(['--security-opt', 'seccomp=unconfined'], 'Seccomp'), '0');
  // A profile read from a file (the docker CLI sends its contents) applies as given.
  const profile = join(d.dir, 'no-mkdir.json');
  fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }, null, 2));
  const denied = await d.docker(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'mkdir', '/tmp/d']);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /Operation not permitted/);
  assert.equal(await dockerSh([], 'mkdir /tmp/d && echo made'), 'made\n');
  assert.equal(await status([], 'NoNewPrivs'), '0');
  assert.equal(await status(['--security-opt', 'no-new-privileges'], 'NoNewPrivs'), '1');
  assert.equal(await status(['--security-opt', 'no-new-privileges:true'], 'NoNewPrivs'), '1');
  const bad = await d.docker(['run', '--rm', '--security-opt', 'bogus=1', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid --security-opt 2: "bogus=1"/);
});

test('--ulimit is what ulimit reports; --shm-size is the size of /dev/shm', async () => {
  assert.equal(await dockerSh(['--ulimit', 'nofile=1024:2048'], 'ulimit -n; ulimit -Hn'), '1024\n2048\n');
  assert.equal(await ok(d.berth(['run', '--rm', '--ulimit', 'nofile=512', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']), 'berth ulimit'), '512\n512\n');
  assert.match(await dockerSh(['--shm-size', '128m'], 'df -k /dev/shm | tail -1'), /^shm\s+131072\s/);
});

test('--cpus, --cpu-shares, --memory, --cpuset-cpus: in the cgroup files and in inspect', async () => {
  const id = (await docker('run', '-d', '--cpus', '0.5', '--cpu-shares', '512', '--memory', '64m', '--memory-reservation', '32m', '--cpuset-cpus', '0', 'busybox', 'sleep', '60')).trim();
  try {
    const files = await docker('exec', id, 'sh', '-c', [
      cgroup('cpu/cpu.cfs_quota_us', 'cpu.max'), cgroup('cpu/cpu.cfs_period_us', 'cpu.max'), cgroup('cpu/cpu.shares', 'cpu.weight'),
      cgroup('memory/memory.limit_in_bytes', 'memory.max'), cgroup('cpuset/cpuset.cpus', 'cpuset.cpus'),
    ].join('; '));
    assert.equal(files, '50000\n100000\n512\n67108864\n0\n');
    assert.equal(await inspect(id, '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpusetCpus}}'),
      `500000000 512 ${64 * MB} ${128 * MB} ${32 * MB} 0`);
  } finally {
    await docker('rm', '-f', id);
  }
  const small = await d.docker(['run', '--rm', '--memory', '1m', 'busybox', 'true']);
  assert.equal(small.code, 125);
  assert.match(small.stderr, /Minimum memory limit allowed is 6MB/);
});

test('docker update changes the limits of a running container; berth update too', async () => {
  const id = (await docker('run', '-d', '--memory', '32m', 'busybox', 'sleep', '60')).trim();
  try {
    const limit = () => docker('exec', id, 'sh', '-c', `${cgroup('memory/memory.limit_in_bytes', 'memory.max')}; ${cgroup('pids/pids.max', 'pids.max')}`);
    assert.equal(await limit(), `${32 * MB}\nmax\n`);
    assert.equal(await docker('update', '--memory', '48m', '--pids-limit', '30', id), `${id}\n`);
    assert.equal(await limit(), `${48 * MB}\n30\n`);
    assert.equal(await inspect(id, '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}'), `${48 * MB} ${64 * MB} 30`);
    // Docker's rule: a memory limit above the swap limit needs the swap limit too.
    const refused = await d.docker(['update', '--memory', '100m', id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
    await ok(d.berth(['update', '--memory', '100m', '--memory-swap', '200m', '--cpus', '0.25', '--pids-limit', '-1', id]), 'berth update');
    assert.equal(await limit(), `${100 * MB}\nmax\n`);
    assert.equal((await docker('exec', id, 'sh', '-c', cgroup('cpu/cpu.cfs_quota_us', 'cpu.max'))).trim().split(' ')[0], '25000');
    await docker('update', '--restart', 'on-failure:3', id);
    assert.equal(await inspect(id, '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:3');
  } finally {
    await docker('rm', '-f', id);
  }
  // A stopped container keeps the new values for its next start.
  const created = (await docker('create', '--memory', '32m', 'busybox', 'sh', '-c', cgroup('memory/memory.limit_in_bytes', 'memory.max'))).trim();
  await docker('update', '--memory', '40m', created);
  assert.equal(await docker('start', '-a', created), `${40 * MB}\n`);
  await docker('rm', created);
});

test('--sysctl reaches /proc/sys; a sysctl outside the container\'s namespaces is refused', async () => {
  assert.equal(await dockerSh(['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789'], 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax'), '1\n123456789\n');
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Sysctls: { 'vm.swappiness': '1' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /sysctl \\"vm.swappiness\\" is not in a separate kernel namespace/);
});

test('--add-host and --dns/--dns-search/--dns-option write /etc/hosts and /etc/resolv.conf', async () => {
  const out = await dockerSh(['--add-host', 'db:10.1.2.3', '--add-host', 'six:fe80::1', '--dns', '9.9.9.9', '--dns-search', 'example.com', '--dns-option', 'ndots:2'],
    'tail -3 /etc/hosts; cat /etc/resolv.conf');
  // As Docker writes it: the extra hosts, then the container's own address and hostname.
  assert.match(out, /^10\.1\.2\.3\tdb\nfe80::1\tsix\n\d+\.\d+\.\d+\.\d+\t[0-9a-f]{12}\nnameserver 9\.9\.9\.9\nsearch example\.com\noptions ndots:2\n$/);
  assert.match(await ok(d.berth(['run', '--rm', '--add-host', 'cache:10.9.9.9', '--dns', '1.1.1.1', 'busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf']), 'berth dns'),
    /10\.9\.9\.9\tcache\n[^]*nameserver 1\.1\.1\.1\n/);
});

test('--device creates the node with its cgroup rule; a missing device is an error', async () => {
  assert.match(await dockerSh(['--device', '/dev/zero:/dev/myzero'], 'ls -l /dev/myzero; head -c 5 /dev/myzero | wc -c'), /^crw\S*\s+1 root\s+root\s+1,\s+5 .*\/dev\/myzero\n5\n$/);
  // The cgroup rule: a device outside runc's standard set, granted read-only, opens for reading only.
  const extra = ['/dev/fuse', '/dev/kmsg', '/dev/tty0'].find((p) => fs.existsSync(p) && fs.statSync(p).isCharacterDevice());
  if (extra) {
    const readOnly = await d.docker(['run', '--rm', '--device', `${extra}:/dev/extra:r`, 'busybox', 'sh', '-c', 'exec 3</dev/extra && echo read-ok; echo x > /dev/extra']);
    assert.notEqual(readOnly.code, 0);
    assert.equal(readOnly.stdout, 'read-ok\n');
    assert.match(readOnly.stderr, /can't create \/dev\/extra: Operation not permitted/);
    assert.equal(await dockerSh(['--device', `${extra}:/dev/extra`], 'exec 3<>/dev/extra && echo rw-ok'), 'rw-ok\n');
  }
  const missing = await d.docker(['run', '--rm', '--device', '/dev/berth-nope', 'busybox', 'true']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/berth-nope": no such file or directory/);
});

test('--init: PID 1 is the init, bound read-only at /sbin/docker-init, running the command after --', async () => {
  const out = await dockerSh(['--init'], 'tr "\\0" " " < /proc/1/cmdline; echo; echo $$; grep " /sbin/docker-init " /proc/mounts | cut -d" " -f4 | cut -d, -f1');
  assert.match(out, /^\/sbin\/docker-init -- sh -c .*\n(\d+)\nro\n$/);
  assert.notEqual(out.split('\n')[1], '1');
  assert.equal(await inspect((await docker('create', '--init', 'busybox', 'true')).trim(), '{{.HostConfig.Init}}'), 'true');
  assert.equal(await dockerSh([], 'echo $$'), '1\n');
});

test('--env-file and --label-file: comments skipped, bare keys from the environment, flags win', async () => {
  const envFile = join(d.dir, 'app.env');
  fs.writeFileSync(envFile, '# settings\nGREETING=hello world\n  INDENTED=yes\nFROM_CLIENT\nNOT_SET_ANYWHERE\nOVERRIDDEN=file\n');
  const labelFile = join(d.dir, 'labels');
  fs.writeFileSync(labelFile, 'team=storage\n# comment\ntier=db\n');
  process.env.FROM_CLIENT = 'passed';
  delete process.env.NOT_SET_ANYWHERE;
  try {
    for (const cli of ['docker', 'berth'] as const) {
      const id = (await ok(d[cli](['create', '--env-file', envFile, '-e', 'OVERRIDDEN=flag', '--label-file', labelFile, '-l', 'tier=web', 'busybox', 'env']), `${cli} create`)).trim();
      const env = (await docker('start', '-a', id)).split('\n');
      for (const e of ['GREETING=hello world', 'INDENTED=yes', 'FROM_CLIENT=passed', 'OVERRIDDEN=flag']) assert.ok(env.includes(e), `${cli}: ${e}`);
      assert.ok(!env.some((e) => e.startsWith('NOT_SET_ANYWHERE')), cli);
      assert.equal(await inspect(id, '{{json .Config.Labels}}'), '{"team":"storage","tier":"web"}');
      await docker('rm', id);
    }
  } finally {
    delete process.env.FROM_CLIENT;
  }
});
