/**
 * Watching containers with the real docker CLI: top, stats, log rotation and reading, events.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Daemon, sleep, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

async function runDetached(name: string, ...cmd: string[]): Promise<string> {
  const r = await d.docker(['run', '-d', '--name', name, ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('docker top lists the container\'s processes and not the host\'s', async () => {
  await runDetached('topper', 'busybox', 'sh', '-c', 'sleep 1001 & exec sleep 1002');
  await until(async () => (await d.docker(['top', 'topper'])).stdout.includes('sleep 1001'), 10_000, 'both sleeps');
  const r = await d.docker(['top', 'topper']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  assert.equal(lines.length, 3, r.stdout);
  assert.ok(lines.some((l) => / sleep 1002$/.test(l)));
  assert.ok(lines.some((l) => / sleep 1001$/.test(l)));
  assert.ok(!r.stdout.includes('berthd') && !r.stdout.includes('conmon'), r.stdout);

  const o = await d.docker(['top', 'topper', '-o', 'pid,comm']);
  assert.equal(o.code, 0, o.stderr);
  const ol = o.stdout.trim().split('\n');
  assert.match(ol[0], /^PID\s+COMMAND$/);
  assert.equal(ol.length, 3);
  assert.ok(ol.slice(1).every((l) => /^\d+\s+sleep$/.test(l)), o.stdout);

  const noPid = await d.docker(['top', 'topper', '-o', 'comm']);
  assert.notEqual(noPid.code, 0);
  assert.match(noPid.stderr, /Couldn't find PID field in ps output/);

  await d.docker(['rm', '-f', 'topper']);
});

test('docker top of a stopped container is Docker\'s 409', async () => {
  const id = (await d.docker(['create', '--name', 'idle', 'busybox', 'true'])).stdout.trim();
  const r = await d.docker(['top', 'idle']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `Error response from daemon: Container ${id} is not running`);
  const api = await d.api('GET', '/containers/idle/top');
  assert.equal(api.status, 409);
  await d.docker(['rm', 'idle']);
});

test('berth stats without names follows containers as they start and stop', async () => {
  // One table per second without a terminal; the CLI is stopped by the timeout.
  const watching = d.berth(['stats', '--format', 'table {{.Name}}'], { timeoutMs: 7000 });
  await sleep(1500);
  const started = Date.now();
  assert.equal((await d.docker(['run', '-d', '--name', 'joiner', 'busybox', 'sleep', '1000'])).code, 0);
  await sleep(2500);
  assert.equal((await d.docker(['stop', '-t', '0', 'joiner'])).code, 0);
  const stopped = Date.now();
  const out = (await watching).stdout;
  const tables = out.split('NAME\n').slice(1);
  assert.ok(tables.length >= 5, out);
  assert.ok(!tables[0]!.includes('joiner'), 'not there before it started');
  assert.ok(tables.some((t) => t.includes('joiner')), out);
  assert.ok(!tables[tables.length - 1]!.includes('joiner'), `gone once it stopped (${stopped - started} ms after the start): ${out}`);
  assert.equal((await d.docker(['rm', 'joiner'])).code, 0);
});

test('docker stats --no-stream prints a row with memory and pids', async () => {
  await runDetached('statted', 'busybox', 'sh', '-c', 'sleep 1003 & exec sleep 1004');
  await until(async () => (await d.docker(['top', 'statted'])).stdout.includes('sleep 1003'), 10_000, 'processes');
  const r = await d.docker(['stats', '--no-stream', 'statted']);
  assert.equal(r.code, 0, r.stderr);
  const [head, row] = r.stdout.trim().split('\n');
  assert.match(head, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
  const f = row.split(/\s{3,}/);
  assert.equal(f[1], 'statted');
  assert.match(f[2], /^\d+\.\d\d%$/);
  assert.match(f[3], /^(\d+(\.\d+)?)(B|KiB|MiB) \/ \d+(\.\d+)?GiB$/);
  assert.doesNotMatch(f[3], /^0B /, 'memory usage is not zero');
  // eth0's counters (the bridge's first packets), in Docker's decimal units.
  assert.match(f[5], /^\d+(\.\d+)?(B|kB|MB) \/ \d+(\.\d+)?(B|kB|MB)$/);
  assert.equal(f[7], '2');

  const fmt = await d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.Container}}', 'statted']);
  assert.equal(fmt.stdout.trim(), 'statted 2 statted');
  // The berth CLI prints the same table and formats.
  const b = await d.berth(['stats', '--no-stream', 'statted']);
  assert.equal(b.code, 0, b.stderr);
  const [bhead, brow] = b.stdout.trim().split('\n');
  // The same columns; their widths follow the values, and NET I/O moves between the two reads.
  assert.deepEqual(bhead.split(/\s{2,}/), head.split(/\s{2,}/));
  const bf = brow.split(/\s{3,}/);
  assert.deepEqual([bf[1], bf[7]], ['statted', '2']);
  assert.match(bf[5], /^\d+(\.\d+)?(B|kB|MB) \/ \d+(\.\d+)?(B|kB|MB)$/);
  assert.match(bf[3], /^(\d+(\.\d+)?)(B|KiB|MiB) \/ \d+(\.\d+)?GiB$/);
  const bfmt = await d.berth(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'statted']);
  assert.equal(bfmt.stdout.trim(), 'statted 2');
  // Streaming without a terminal prints one table per sample; the CLI is stopped after a few.
  const streamed = await d.berth(['stats', '--format', '{{.Name}} {{.PIDs}}', 'statted'], { timeoutMs: 3500 });
  assert.ok(streamed.stdout.split('\n').filter((l) => l === 'statted 2').length >= 2, streamed.stdout);

  // The fields docker-py and the docker CLI read, from a one-shot sample.
  const one = await d.api('GET', '/containers/statted/stats?stream=false&one-shot=true');
  assert.equal(one.status, 200);
  const s = JSON.parse(one.body);
  assert.equal(s.name, '/statted');
  assert.match(s.read, /^\d{4}-\d\d-\d\dT/);
  assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
  assert.ok(s.cpu_stats.system_cpu_usage > 0);
  assert.ok(s.cpu_stats.online_cpus >= 1);
  assert.ok(s.memory_stats.usage > 0 && s.memory_stats.limit > 0);
  assert.equal(typeof s.memory_stats.stats, 'object');
  assert.equal(s.pids_stats.current, 2);
  assert.ok('io_service_bytes_recursive' in s.blkio_stats);
  assert.deepEqual(s.precpu_stats.cpu_usage.total_usage, 0);

  // Without one-shot the answer carries a previous sample.
  const two = JSON.parse((await d.api('GET', '/containers/statted/stats?stream=false')).body);
  assert.ok(two.precpu_stats.cpu_usage.total_usage > 0);
  assert.notEqual(two.preread, '0001-01-01T00:00:00Z');

  await d.docker(['stop', '-t', '0', 'statted']);
  const stopped = JSON.parse((await d.api('GET', '/containers/statted/stats?stream=false')).body);
  assert.equal(stopped.read, '0001-01-01T00:00:00Z');
  assert.deepEqual(stopped.memory_stats, {});
  await d.docker(['rm', '-f', 'statted']);
});

test('log rotation: max-size=10k, max-file=3 keeps 3 files and logs reads them in order', async () => {
  const id = await runDetached('rotor', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c',
    // Paced (4 KB per 50 ms): a writer that outruns berthd by more than max-size between two of
    // conmon's cuts loses the middle file (see runtime/log-rotation.ts).
    'i=0; while [ $i -lt 2000 ]; do echo "line $i padding-padding-padding"; i=$((i+1)); [ $((i % 50)) -eq 0 ] && sleep 0.05; done; sleep 1000');
  const inspect = await d.docker(['inspect', '--format', '{{json .HostConfig.LogConfig}}', 'rotor']);
  assert.equal(inspect.stdout.trim(), '{"Type":"json-file","Config":{"max-file":"3","max-size":"10k"}}');
  await until(async () => (await d.docker(['logs', '--tail', '1', 'rotor'])).stdout === 'line 1999 padding-padding-padding\n', 20_000, 'last line');
  await sleep(2500); // the keeper's poll interval: the last cut is shifted
  const dir = join(d.dataRoot, 'containers', id);
  const files = fs.readdirSync(dir).filter((n) => n.startsWith('ctr.log'));
  const inodes = new Map(files.map((n) => [fs.statSync(join(dir, n)).ino, n]));
  assert.ok(inodes.size <= 3, `at most 3 distinct files: ${files.join(' ')}`);
  for (const n of files) assert.ok(fs.statSync(join(dir, n)).size <= 10_000, `${n} is ${fs.statSync(join(dir, n)).size} bytes`);

  const logs = await d.docker(['logs', 'rotor']);
  const lines = logs.stdout.trim().split('\n');
  assert.equal(lines[lines.length - 1], 'line 1999 padding-padding-padding');
  const nums = lines.map((l) => Number(/^line (\d+) /.exec(l)![1]));
  for (let i = 1; i < nums.length; i++) assert.equal(nums[i], nums[i - 1] + 1, 'consecutive, in order');
  assert.ok(nums[0] > 0, 'the oldest lines were rotated away');

  const tail = await d.docker(['logs', '--tail', '2', 'rotor']);
  assert.equal(tail.stdout, 'line 1998 padding-padding-padding\nline 1999 padding-padding-padding\n');
  await d.docker(['rm', '-f', 'rotor']);
});

test('log opts are validated with Docker\'s errors', async () => {
  const bad = await d.docker(['create', '--log-opt', 'max-bogus=1', 'busybox', 'true']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown log opt 'max-bogus' for json-file log driver/);
  const size = await d.docker(['create', '--log-opt', 'max-size=lots', 'busybox', 'true']);
  assert.notEqual(size.code, 0);
  assert.match(size.stderr, /invalid size: 'lots'/);
});

test('docker logs --since shows only newer lines', async () => {
  await runDetached('sincer', 'busybox', 'sh', '-c', 'echo early; sleep 2; echo late; sleep 1000');
  await until(async () => (await d.docker(['logs', 'sincer'])).stdout.includes('late'), 10_000, 'late line');
  const all = await d.docker(['logs', '-t', 'sincer']);
  const lateTs = /^(\S+) late$/m.exec(all.stdout)![1];
  const since = (Date.parse(lateTs) / 1000 - 1).toFixed(3);
  const r = await d.docker(['logs', '--since', since, 'sincer']);
  assert.equal(r.stdout, 'late\n');
  await d.docker(['rm', '-f', 'sincer']);
});

test('docker events --since/--until shows create, start, die with filters', async () => {
  const t0 = (Date.now() / 1000 - 1).toFixed(3);
  const r = await d.docker(['run', '--name', 'evented', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  const t1 = (Date.now() / 1000 + 1).toFixed(3);
  const ev = await d.docker(['events', '--since', t0, '--until', t1, '--filter', 'container=evented', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
  assert.equal(ev.code, 0, ev.stderr);
  const actions = ev.stdout.trim().split('\n');
  for (const a of ['create', 'start', 'die']) assert.ok(actions.includes(`container ${a} evented`), ev.stdout);
  assert.ok(actions.indexOf('container create evented') < actions.indexOf('container start evented'));

  const starts = await d.docker(['events', '--since', t0, '--until', t1, '--filter', 'event=start', '--filter', 'container=evented']);
  const lines = starts.stdout.trim().split('\n');
  assert.equal(lines.length, 1, starts.stdout);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container start [a-f0-9]{64} \(image=busybox, name=evented\)$/);

  const json = await d.docker(['events', '--since', t0, '--until', t1, '--filter', 'event=die', '--filter', 'container=evented', '--format', '{{json .}}']);
  const msg = JSON.parse(json.stdout.trim().split('\n')[0]);
  assert.equal(msg.Type, 'container');
  assert.equal(msg.status, 'die');
  assert.equal(msg.Actor.Attributes.exitCode, '0');
  assert.equal(msg.scope, 'local');
  await d.docker(['rm', 'evented']);
});
