/**
 * Daemon restarts: state survives in SQLite, SIGTERM stops the containers the daemon started and
 * exits 0, and after a crash the daemon reconciles with what happened while it was down.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Daemon, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const state = async (name: string) => (await d.berth(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', name])).stdout.trim();

test('the API socket is root-only (0660) and the pid file holds the daemon', () => {
  assert.equal(fs.statSync(d.socket).mode & 0o777, 0o660);
  assert.equal(Number(fs.readFileSync(`${d.execRoot}/berthd.pid`, 'utf8')), d.pid);
});

test('without live-restore, SIGTERM stops the containers the daemon started and exits 0', async () => {
  assert.equal(await d.stop('SIGTERM'), 0);
  d.extraArgs = ['--live-restore=false'];
  await d.launch();
  assert.equal((await d.berth(['run', '-d', '--name', 'long', '--stop-timeout', '1', 'busybox', 'sleep', '1000'])).code, 0);
  assert.equal((await d.berth(['run', '--name', 'done', 'busybox', 'sh', '-c', 'exit 4'])).code, 4);
  assert.equal((await d.berth(['create', '--name', 'fresh', 'busybox', 'true'])).code, 0);
  const pid = Number((await state('long')).split(' ')[2]);
  assert.ok(pid > 0);

  const monitors = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(d.execRoot);
    } catch {
      return false;
    }
  });
  assert.ok(monitors().length > 0, 'conmon runs for the running container (and the one prepared for fresh)');

  assert.equal(await d.stop('SIGTERM'), 0);
  assert.equal(fs.existsSync(`/proc/${pid}`), false, 'the container process is gone');
  assert.deepEqual(monitors(), [], 'no monitor and no prepared runtime outlives the daemon');
  assert.equal(fs.existsSync(d.socket), false, 'the socket is removed');
  assert.equal(fs.existsSync(`${d.execRoot}/berthd.pid`), false, 'the pid file is removed');
});

test('after a restart, images and containers are still there', async () => {
  d.extraArgs = [];
  await d.launch();
  const images = await d.berth(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(images.stdout, 'busybox:latest\n');
  const ps = await d.berth(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
  assert.deepEqual(ps.stdout.trim().split('\n').sort(), ['done exited', 'fresh created', 'long exited']);
  assert.equal(await state('done'), 'exited 4 0');
  assert.equal(await state('long'), 'exited 137 0');
  // A restored container starts again and keeps its logs.
  const again = await d.berth(['start', '-a', 'fresh']);
  assert.equal(again.code, 0, again.stderr);
});

test('a container killed while the daemon was down shows Exited', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '1000'])).code, 0);
  const pid = Number((await state('victim')).split(' ')[2]);
  await d.crash();
  process.kill(pid, 'SIGKILL');
  await until(() => !fs.existsSync(`/proc/${pid}`), 5000, 'the container to die');
  await d.launch();
  assert.equal(await state('victim'), 'exited 137 0');
  assert.match((await d.berth(['ps', '-a', '--filter', 'name=victim', '--format', '{{.Status}}'])).stdout, /^Exited \(137\) /);
});

test('a container that kept running through a crash is adopted: logs, stop and rm work', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do echo tick; sleep 0.2; done'])).code, 0);
  const pid = Number((await state('survivor')).split(' ')[2]);
  await d.crash();
  await new Promise((r) => setTimeout(r, 500));
  await d.launch();
  assert.ok(fs.existsSync(`/proc/${pid}`), 'the container outlived the daemon');
  assert.equal(await state('survivor'), `running 0 ${pid}`);
  const before = (await d.berth(['logs', 'survivor'])).stdout.split('\n').length;
  await until(async () => (await d.berth(['logs', 'survivor'])).stdout.split('\n').length > before, 5000, 'new log lines');
  assert.equal((await d.berth(['stop', 'survivor'])).code, 0);
  assert.equal(await state('survivor'), 'exited 0 0');
  assert.equal((await d.berth(['rm', 'survivor'])).code, 0);
});

test('an --rm container that exits while the daemon is down is removed at start-up', async () => {
  const run = await d.berth(['run', '-d', '--rm', '--name', 'ephemeral', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const pid = Number((await state('ephemeral')).split(' ')[2]);
  await d.crash();
  process.kill(pid, 'SIGKILL');
  await until(() => !fs.existsSync(`/proc/${pid}`), 5000, 'the container to die');
  await d.launch();
  const ps = await d.berth(['ps', '-a', '--filter', 'name=ephemeral', '-q']);
  assert.equal(ps.stdout, '');
  await until(() => !fs.existsSync(`${d.dataRoot}/snapshots/${id}`) && !fs.existsSync(`${d.dataRoot}/containers/${id}`), 5000, 'its files to be deleted');
});

test('a container whose monitor died can still be stopped: the exit is recorded as unknown (255)', async () => {
  const run = await d.berth(['run', '-d', '--name', 'orphaned', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const conmon = Number(fs.readFileSync(`${d.execRoot}/ctr/${id}/conmon.pid`, 'utf8'));
  process.kill(conmon, 'SIGKILL');
  await until(() => !fs.existsSync(`/proc/${conmon}`), 5000, 'conmon to die');
  const stop = await d.berth(['stop', '-t', '0', 'orphaned'], { timeoutMs: 30_000 });
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(await state('orphaned'), 'exited 255 0');
  assert.equal((await d.berth(['rm', 'orphaned'])).code, 0);
});
