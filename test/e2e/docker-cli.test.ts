/**
 * The real docker CLI (28.x, API 1.50) against berthd: the flows of issue 2's acceptance.
 */
import assert from 'node:assert/strict';
import { busyboxTar, Daemon, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: false }, (daemon) => (d = daemon));

test('docker version shows the berth server', async () => {
  const r = await d.docker(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Server: berth/);
  assert.match(r.stdout, /API version:\s+1\.50 \(minimum version 1\.24\)/);
  const f = await d.docker(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
  assert.equal(f.stdout.trim(), '0.1.0 1.50');
});

test('docker import of a busybox rootfs tar', async () => {
  const r = await d.docker(['import', busyboxTar(), 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), /^sha256:[a-f0-9]{64}$/);
  const images = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  assert.match(images.stdout, new RegExp(`^busybox:latest ${r.stdout.trim().slice(7, 19)}$`, 'm'));
});

test('docker import of a gzip-compressed rootfs', async () => {
  const gz = require('node:path').join(d.dir, 'busybox.tar.gz');
  require('node:fs').writeFileSync(gz, require('node:zlib').gzipSync(require('node:fs').readFileSync(busyboxTar())));
  const r = await d.docker(['import', gz, 'zipped:1']);
  assert.equal(r.code, 0, r.stderr);
  const run = await d.docker(['run', '--rm', 'zipped:1', 'echo', 'from gzip']);
  assert.equal(run.stdout, 'from gzip\n');
  assert.equal((await d.docker(['rmi', 'zipped:1'])).code, 0);
});

test('docker run --rm busybox echo hi prints hi and leaves nothing behind', async () => {
  const r = await d.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi\n');
  const ps = await d.docker(['ps', '-aq']);
  assert.equal(ps.stdout, '');
});

test("docker run busybox sh -c 'exit 3' exits 3, with stdout and stderr apart", async () => {
  const r = await d.docker(['run', '--name', 'three', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  const inspect = await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'three']);
  assert.equal(inspect.stdout.trim(), 'exited 3');
});

test('docker run -d, ps -a, logs, stop, rm -f', async () => {
  const run = await d.docker(['run', '-d', '--name', 'ticker', '-e', 'GREETING=hello', 'busybox', 'sh', '-c', 'echo $GREETING; echo oops >&2; exec sleep 1000']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  assert.match(id, /^[a-f0-9]{64}$/);

  const ps = await d.docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}} {{.Command}}']);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} ticker Up .+ "sh -c 'echo \\$GREETI…"$`, 'm'));

  await until(async () => (await d.docker(['logs', 'ticker'])).stdout === 'hello\n', 10_000, 'logs');
  const logs = await d.docker(['logs', 'ticker']);
  assert.equal(logs.stdout, 'hello\n');
  assert.equal(logs.stderr, 'oops\n');
  const ts = await d.docker(['logs', '-t', '--tail', '1', 'ticker']);
  assert.match(ts.stdout + ts.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (hello|oops)\n$/);

  // sleep as PID 1 ignores SIGTERM, so stop falls back to SIGKILL after the timeout.
  const started = Date.now();
  const stop = await d.docker(['stop', '-t', '1', 'ticker']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout.trim(), 'ticker');
  assert.ok(Date.now() - started >= 1000, 'stop waited for the timeout');
  const all = await d.docker(['ps', '-a', '--filter', 'name=ticker', '--format', '{{.Status}}']);
  assert.match(all.stdout, /^Exited \(137\) /);

  const rm = await d.docker(['rm', '-f', 'ticker']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await d.docker(['ps', '-a', '--filter', 'name=ticker', '-q'])).stdout, '');
});

test('docker run --rm of a missing binary exits 127 and removes the container', async () => {
  const r = await d.docker(['run', '--rm', 'busybox', '/no/such/binary'], { timeoutMs: 20_000 });
  assert.equal(r.code, 127, r.stderr);
  assert.match(r.stderr, /no such file or directory/);
  assert.equal((await d.docker(['ps', '-aq', '--filter', 'status=created'])).stdout, '');
});

test('docker rm -f kills a running container', async () => {
  const run = await d.docker(['run', '-d', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const rm = await d.docker(['rm', '-f', run.stdout.trim()]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await d.docker(['ps', '-aq', '--filter', `id=${run.stdout.trim()}`])).stdout, '');
});

test('docker images and docker rmi', async () => {
  const tag = await d.docker(['tag', 'busybox', 'localhost:5000/tools/bb:v1']);
  assert.equal(tag.code, 0, tag.stderr);
  const images = await d.docker(['images']);
  assert.match(images.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
  assert.match(images.stdout, /^localhost:5000\/tools\/bb\s+v1\s+[a-f0-9]{12}\s+.+ago\s+\d(\.\d+)?MB$/m);

  // An image a container uses cannot be removed without force.
  const inUse = await d.docker(['rmi', 'localhost:5000/tools/bb:v1', 'busybox']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stdout, /^Untagged: localhost:5000\/tools\/bb:v1$/m);
  assert.match(inUse.stderr, /conflict: unable to remove repository reference "busybox" \(must force\) - container [a-f0-9]{12} is using its referenced image [a-f0-9]{12}/);

  assert.equal((await d.docker(['rm', 'three'])).code, 0);
  const rmi = await d.docker(['rmi', 'busybox']);
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /^Untagged: busybox:latest\nDeleted: sha256:[a-f0-9]{64}\n$/);
  assert.equal((await d.docker(['images', '-q'])).stdout, '');
});
