/**
 * The container lifecycle beyond run/stop, through the real docker CLI: restart, pause/unpause,
 * rename, prune, restart policies (also across daemon restarts), live-restore after a crash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Daemon, sleep, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const inspect = async (name: string, format: string) => (await d.docker(['inspect', '--format', format, name])).stdout.trim();
const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);

test('restart runs the container again with a new process', async () => {
  ok(await d.docker(['run', '-d', '--name', 'rs', 'busybox', 'sleep', '1000']));
  const pid1 = await inspect('rs', '{{.State.Pid}}');
  const r = await d.docker(['restart', '-t', '0', 'rs']);
  ok(r);
  assert.equal(r.stdout, 'rs\n');
  const [status, pid2] = (await inspect('rs', '{{.State.Status}} {{.State.Pid}}')).split(' ');
  assert.equal(status, 'running');
  assert.notEqual(pid2, pid1);
  assert.equal(fs.existsSync(`/proc/${pid1}`), false);
  // A stopped container is simply started.
  ok(await d.docker(['stop', '-t', '0', 'rs']));
  ok(await d.docker(['restart', 'rs']));
  assert.equal(await inspect('rs', '{{.State.Status}}'), 'running');
  ok(await d.docker(['rm', '-f', 'rs']));
});

/** Pids of the conmon processes monitoring container `id`. */
function conmonsOf(id: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return argv[0]!.endsWith('conmon') && argv[argv.indexOf('-c') + 1] === id;
    } catch {
      return false;
    }
  }).map(Number);
}

test('a start that fails before the runtime runs (unknown --user) leaves no monitor behind', async () => {
  const r = await d.docker(['run', '--name', 'baduser', '--user', 'nosuchuser', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /unable to find user nosuchuser: no matching entries in passwd file/);
  const id = await inspect('baduser', '{{.Id}}');
  assert.equal(await inspect('baduser', '{{.State.Status}} {{.State.ExitCode}}'), 'created 255');
  assert.deepEqual(conmonsOf(id), []);
  assert.equal(fs.existsSync(`${d.execRoot}/ctr/${id}`), false, "conmon's state dir is gone");
  // The running kind has one.
  ok(await d.docker(['run', '-d', '--name', 'gooduser', 'busybox', 'sleep', '1000']));
  assert.equal(conmonsOf(await inspect('gooduser', '{{.Id}}')).length, 1);
  ok(await d.docker(['rm', '-f', 'baduser', 'gooduser']));
});

test('pause freezes the processes and unpause thaws them', async () => {
  ok(await d.docker(['run', '-d', '--name', 'pz', 'busybox', 'sh', '-c', 'while true; do date +%s%N > /tmp/t; sleep 0.05; done']));
  const pid = await inspect('pz', '{{.State.Pid}}');
  ok(await d.docker(['pause', 'pz']));
  assert.equal(await inspect('pz', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}'), 'paused true true');
  assert.match((await d.docker(['ps', '--filter', 'name=pz', '--format', '{{.Status}}'])).stdout, /^Up .* \(Paused\)$/m);
  const read = () => fs.readFileSync(`/proc/${pid}/root/tmp/t`, 'utf8');
  const frozen = read();
  await sleep(300);
  assert.equal(read(), frozen, 'nothing runs while paused');
  const again = await d.docker(['pause', 'pz']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /is already paused/);
  const stop = await d.docker(['start', 'pz']);
  assert.notEqual(stop.code, 0, 'a paused container cannot be started');
  ok(await d.docker(['unpause', 'pz']));
  await until(() => read() !== frozen, 5000, 'the loop to run again');
  assert.equal(await inspect('pz', '{{.State.Status}}'), 'running');
  const un = await d.docker(['unpause', 'pz']);
  assert.match(un.stderr, /is not paused/);
  ok(await d.docker(['rm', '-f', 'pz']));
});

test('rename changes the name everywhere and refuses a taken one', async () => {
  ok(await d.docker(['create', '--name', 'old-name', 'busybox', 'true']));
  ok(await d.docker(['create', '--name', 'other', 'busybox', 'true']));
  const since = Math.floor(Date.now() / 1000) - 1;
  ok(await d.docker(['rename', 'old-name', 'new-name']));
  assert.equal(await inspect('new-name', '{{.Name}}'), '/new-name');
  assert.notEqual((await d.docker(['inspect', 'old-name'])).code, 0);
  const clash = await d.docker(['rename', 'new-name', 'other']);
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /Conflict\. The container name "\/other" is already in use/);
  const ev = await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=rename', '--format', '{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}']);
  assert.match(ev.stdout, /\/old-name new-name/);
  ok(await d.docker(['rm', 'new-name', 'other']));
});

test('container prune removes stopped containers the filters select, and only those', async () => {
  ok(await d.docker(['run', '--name', 'p-keep-label', '--label', 'keep=1', 'busybox', 'true']));
  ok(await d.docker(['run', '--name', 'p-gone', 'busybox', 'sh', '-c', 'echo x > /junk']));
  ok(await d.docker(['run', '-d', '--name', 'p-running', 'busybox', 'sleep', '1000']));
  const id = await inspect('p-gone', '{{.Id}}');
  const r = await d.docker(['container', 'prune', '-f', '--filter', 'label!=keep']);
  ok(r);
  assert.match(r.stdout, new RegExp(`Deleted Containers:\\n(.*\\n)*${id}\\n`));
  assert.match(r.stdout, /Total reclaimed space: \d/);
  const left = (await d.docker(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n');
  assert.ok(left.includes('p-keep-label') && left.includes('p-running') && !left.includes('p-gone'), left.join(','));
  // Without -f and with no answer on stdin nothing is removed.
  const asked = await d.docker(['container', 'prune'], { input: '' });
  assert.match(asked.stdout, /Are you sure you want to continue\? \[y\/N\]/);
  assert.ok((await d.docker(['ps', '-a', '--format', '{{.Names}}'])).stdout.includes('p-keep-label'));
  ok(await d.docker(['rm', '-f', 'p-keep-label', 'p-running']));
});

test('on-failure:3 restarts a failing container three times, then leaves it exited', async () => {
  ok(await d.docker(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'echo run; exit 3']));
  await until(async () => (await inspect('flaky', '{{.State.Status}} {{.RestartCount}}')) === 'exited 3', 20_000, 'three restarts');
  await sleep(1000);
  assert.equal(await inspect('flaky', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}'), 'exited 3 3 on-failure');
  assert.equal((await d.docker(['logs', 'flaky'])).stdout, 'run\nrun\nrun\nrun\n');
  ok(await d.docker(['rm', 'flaky']));
});

test('restart policies are validated as Docker does', async () => {
  const rm = await d.docker(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.notEqual(rm.code, 0);
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'sometimes' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /unknown policy 'sometimes'/);
  const count = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } });
  assert.equal(count.status, 400);
});

test('always restarts a killed container; stop cancels the policy', async () => {
  ok(await d.docker(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '1000']));
  const pid = Number(await inspect('phoenix', '{{.State.Pid}}'));
  process.kill(pid, 'SIGKILL');
  await until(async () => {
    const [st, p, n] = (await inspect('phoenix', '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}')).split(' ');
    return st === 'running' && Number(p) !== pid && n === '1';
  }, 10_000, 'the restart');
  ok(await d.docker(['stop', '-t', '0', 'phoenix']));
  await sleep(500);
  assert.equal(await inspect('phoenix', '{{.State.Status}}'), 'exited');
});

test('live-restore: three containers keep running through a daemon crash and are adopted', async () => {
  const names = ['lr1', 'lr2', 'lr3'];
  for (const n of names) {
    ok(await d.docker(['run', '-d', '--name', n, 'busybox', 'sh', '-c', `trap "exit ${n.slice(2)}" TERM; i=0; while true; do echo ${n}-$i; i=$((i+1)); sleep 0.1; done`]));
  }
  const pids = await Promise.all(names.map(async (n) => Number(await inspect(n, '{{.State.Pid}}'))));
  await d.crash();
  const downAt = Date.now();
  await sleep(800);
  for (const p of pids) assert.ok(fs.existsSync(`/proc/${p}`), 'containers outlive the daemon');
  await d.launch();
  const ps = await d.docker(['ps', '--format', '{{.Names}} {{.State}}']);
  for (const n of names) assert.match(ps.stdout, new RegExp(`^${n} running$`, 'm'));
  // Lines written while the daemon was down are in the logs.
  const logs = await d.docker(['logs', '--timestamps', 'lr2']);
  const whileDown = logs.stdout.split('\n').filter((l) => {
    const t = Date.parse(l.split(' ')[0]);
    return t > downAt + 100 && t < downAt + 700;
  });
  assert.ok(whileDown.length >= 3, `log lines from while the daemon was down: ${whileDown.length}`);
  for (const n of names) ok(await d.docker(['stop', n]));
  for (const n of names) assert.equal(await inspect(n, '{{.State.Status}} {{.State.ExitCode}}'), `exited ${n.slice(2)}`);
  ok(await d.docker(['rm', ...names]));
});

test('SIGTERM with live-restore (the default) leaves containers running for the next daemon', async () => {
  ok(await d.docker(['run', '-d', '--name', 'kept', 'busybox', 'sleep', '1000']));
  const pid = Number(await inspect('kept', '{{.State.Pid}}'));
  assert.equal(await d.stop('SIGTERM'), 0);
  assert.ok(fs.existsSync(`/proc/${pid}`));
  await d.launch();
  assert.equal(await inspect('kept', '{{.State.Status}} {{.State.Pid}}'), `running ${pid}`);
  assert.match((await d.docker(['info', '--format', '{{.LiveRestoreEnabled}}'])).stdout, /true/);
  ok(await d.docker(['rm', '-f', 'kept']));
});

test('restart policies are honoured across a daemon restart', async () => {
  // always: restarted even after a manual stop; unless-stopped: not after one; both after a crash exit.
  ok(await d.docker(['run', '-d', '--name', 'al-stopped', '--restart', 'always', 'busybox', 'sleep', '1000']));
  ok(await d.docker(['run', '-d', '--name', 'us-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']));
  ok(await d.docker(['run', '-d', '--name', 'al-died', '--restart', 'always', 'busybox', 'sleep', '1000']));
  ok(await d.docker(['stop', '-t', '0', 'al-stopped', 'us-stopped']));
  const pid = Number(await inspect('al-died', '{{.State.Pid}}'));
  await d.crash();
  process.kill(pid, 'SIGKILL');
  await until(() => !fs.existsSync(`/proc/${pid}`), 5000, 'the container to die');
  await d.launch();
  await until(async () => (await inspect('al-died', '{{.State.Status}}')) === 'running', 10_000, 'al-died restarted');
  await until(async () => (await inspect('al-stopped', '{{.State.Status}}')) === 'running', 10_000, 'al-stopped restarted');
  await sleep(500);
  assert.equal(await inspect('us-stopped', '{{.State.Status}}'), 'exited');
  ok(await d.docker(['rm', '-f', 'al-stopped', 'us-stopped', 'al-died']));
});

test('health: a failing --health-cmd turns unhealthy within its retries, a passing one healthy', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  ok(await d.docker(['run', '-d', '--name', 'sick', '--health-cmd', 'echo probing; exit 1', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '1000']));
  ok(await d.docker(['run', '-d', '--name', 'well', '--health-cmd', 'test -d /', '--health-interval', '200ms', 'busybox', 'sleep', '1000']));
  assert.match(await inspect('sick', '{{.State.Health.Status}}'), /^(starting|unhealthy)$/);
  await until(async () => (await inspect('sick', '{{.State.Health.Status}}')) === 'unhealthy', 10_000, 'unhealthy');
  await until(async () => (await inspect('well', '{{.State.Health.Status}}')) === 'healthy', 10_000, 'healthy');
  const h = JSON.parse(await inspect('sick', '{{json .State.Health}}')) as { FailingStreak: number; Log: { ExitCode: number; Output: string }[] };
  assert.ok(h.FailingStreak >= 2);
  assert.equal(h.Log.at(-1)!.ExitCode, 1);
  assert.equal(h.Log.at(-1)!.Output, 'probing\n');
  const ps = await d.docker(['ps', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps.stdout, /^sick Up .* \(unhealthy\)$/m);
  assert.match(ps.stdout, /^well Up .* \(healthy\)$/m);
  assert.match((await d.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout, /^sick$/m);
  const ev = await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=sick', '--format', '{{.Action}}']);
  assert.match(ev.stdout, /^health_status: unhealthy$/m);
  // Probes are execs (with Docker's exec events), but their records are not kept once they end.
  const probes = await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=sick', '--filter', 'event=exec_die', '--format', '{{.Actor.Attributes.execID}}']);
  const probeId = probes.stdout.trim().split('\n')[0];
  assert.match(probeId, /^[0-9a-f]{64}$/);
  assert.equal((await d.api('GET', `/exec/${probeId}/json`)).status, 404);
  // --no-healthcheck turns off a check, and a check may come from the image too.
  ok(await d.docker(['run', '-d', '--name', 'none', '--no-healthcheck', 'busybox', 'sleep', '1000']));
  assert.equal(await inspect('none', '{{.State.Health}}'), '<nil>');
  ok(await d.docker(['rm', '-f', 'sick', 'well', 'none']));
});
