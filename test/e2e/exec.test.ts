/**
 * exec through the real docker CLI, the berth CLI and raw HTTP: output, exit codes, -e/-w/-u,
 * --privileged, detached execs, inspect, events, errors, and server-side detach keys.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { type Daemon, sleep, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

async function runningContainer(name: string, extra: string[] = []): Promise<string> {
  const r = await d.docker(['run', '-d', '--name', name, ...extra, 'busybox', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('docker exec echo hi, and the exit code of the process', async () => {
  await runningContainer('ex1');
  const r = await d.docker(['exec', 'ex1', 'echo', 'hi']);
  assert.deepEqual([r.code, r.stdout], [0, 'hi\n'], r.stderr);
  const e = await d.docker(['exec', 'ex1', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual([e.code, e.stdout, e.stderr], [3, 'out\n', 'err\n']);
  const b = await d.berth(['exec', 'ex1', 'sh', '-c', 'echo berth; echo err >&2; exit 4']);
  assert.deepEqual([b.code, b.stdout, b.stderr], [4, 'berth\n', 'err\n']);
  const missing = await d.docker(['exec', 'ex1', 'no-such-binary']);
  assert.equal(missing.code, 127);
  assert.match(missing.stdout + missing.stderr, /executable file not found/);
});

test('exec -e, -w, -u and --privileged', async () => {
  await runningContainer('ex2', ['-e', 'KEEP=1', '-e', 'OVER=old']);
  for (const cli of ['docker', 'berth'] as const) {
    const r = await d[cli](['exec', '-e', 'OVER=new', '-e', 'ADDED=2', '-w', '/tmp', '-u', 'nobody', 'ex2', 'sh', '-c', 'echo $KEEP $OVER $ADDED; pwd; id -u; id -g']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1 new 2\n/tmp\n65534\n65534\n', cli);
    const def = await d[cli](['exec', 'ex2', 'grep', 'CapEff', '/proc/self/status']);
    const priv = await d[cli](['exec', '--privileged', 'ex2', 'grep', 'CapEff', '/proc/self/status']);
    assert.equal(def.code, 0, def.stderr);
    assert.equal(priv.code, 0, priv.stderr);
    const caps = (s: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(s)![1]}`);
    // Docker's default set is 14 capabilities; privileged gets every one the daemon holds.
    assert.equal(caps(def.stdout), 0xa80425fbn, cli);
    const own = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))![1]}`);
    assert.equal(caps(priv.stdout), own, cli);
  }
  const bad = await d.docker(['exec', '-u', 'nosuchuser', 'ex2', 'true']);
  // As Docker: the user is resolved at start, so the failure comes in the stream; the exit is 126.
  assert.equal(bad.code, 126);
  assert.match(bad.stdout + bad.stderr, /unable to find user nosuchuser/);
});

test('detached exec: inspect shows it running, then its exit code', async () => {
  const id = await runningContainer('ex3');
  const create = await d.api('POST', '/containers/ex3/exec', { Cmd: ['sh', '-c', 'sleep 1; exit 5'] });
  assert.equal(create.status, 201, create.body);
  const execId = (JSON.parse(create.body) as { Id: string }).Id;
  const start = await d.api('POST', `/exec/${execId}/start`, { Detach: true });
  assert.equal(start.status, 200, start.body);
  const running = JSON.parse((await d.api('GET', `/exec/${execId}/json`)).body);
  assert.equal(running.Running, true);
  assert.equal(running.ExitCode, null);
  assert.equal(running.ContainerID, id);
  assert.deepEqual(running.ProcessConfig, { arguments: ['-c', 'sleep 1; exit 5'], entrypoint: 'sh', privileged: false, tty: false, user: '' });
  assert.ok(running.Pid > 0);
  const ids = await d.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ex3']);
  assert.equal(ids.stdout.trim(), JSON.stringify([execId]));
  const done = await until(async () => {
    const j = JSON.parse((await d.api('GET', `/exec/${execId}/json`)).body);
    return j.Running ? undefined : j;
  }, 10_000, 'the exec to end');
  assert.equal(done.ExitCode, 5);
  assert.equal((await d.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ex3'])).stdout.trim(), 'null');
  // Starting twice is refused.
  const again = await d.api('POST', `/exec/${execId}/start`, { Detach: true });
  assert.equal(again.status, 409);
  // docker exec -d prints nothing and exits 0; berth too.
  const dd = await d.docker(['exec', '-d', 'ex3', 'sh', '-c', 'echo x > /tmp/marker']);
  assert.deepEqual([dd.code, dd.stdout], [0, '']);
  const bd = await d.berth(['exec', '-d', 'ex3', 'sh', '-c', 'echo y >> /tmp/marker']);
  assert.deepEqual([bd.code, bd.stdout], [0, '']);
  await until(async () => (await d.docker(['exec', 'ex3', 'cat', '/tmp/marker'])).stdout.split('\n').length === 3, 5000, 'both detached execs');
});

test('an exec that is created but not started runs nothing in the container; started later, it runs', async () => {
  await runningContainer('ex-late');
  const create = await d.api('POST', '/containers/ex-late/exec', { Cmd: ['sh', '-c', 'echo started-late; touch /tmp/ran'], AttachStdout: true, AttachStderr: true });
  assert.equal(create.status, 201, create.body);
  const execId = (JSON.parse(create.body) as { Id: string }).Id;
  await sleep(300);
  const top = JSON.parse((await d.api('GET', '/containers/ex-late/top')).body) as { Processes: string[][] };
  assert.equal(top.Processes.length, 1, JSON.stringify(top.Processes));
  const ls = await d.docker(['exec', 'ex-late', 'ls', '/tmp/ran']);
  assert.equal(ls.code, 1, 'the created exec has not run');
  const start = await d.api('POST', `/exec/${execId}/start`, { Detach: false, Tty: false });
  assert.equal(start.status, 200);
  assert.match(start.body, /started-late/);
  const inspect = JSON.parse((await d.api('GET', `/exec/${execId}/json`)).body) as { ExitCode: number; Running: boolean };
  assert.deepEqual([inspect.Running, inspect.ExitCode], [false, 0]);
  assert.equal((await d.docker(['exec', 'ex-late', 'ls', '/tmp/ran'])).code, 0);
});

test('exec errors: stopped, paused, unknown exec, no command', async () => {
  const id = await runningContainer('ex4');
  const noCmd = await d.api('POST', '/containers/ex4/exec', { Cmd: [] });
  assert.equal(noCmd.status, 400);
  assert.equal(JSON.parse(noCmd.body).message, 'No exec command specified');
  assert.equal((await d.docker(['pause', 'ex4'])).code, 0);
  const paused = await d.docker(['exec', 'ex4', 'true']);
  assert.equal(paused.code, 1);
  assert.equal(paused.stderr.trim(), `Error response from daemon: Container ${id} is paused, unpause the container before exec`);
  assert.equal((await d.docker(['unpause', 'ex4'])).code, 0);
  assert.equal((await d.docker(['stop', '-t', '0', 'ex4'])).code, 0);
  const stopped = await d.docker(['exec', 'ex4', 'true']);
  assert.equal(stopped.code, 1);
  assert.equal(stopped.stderr.trim(), `Error response from daemon: container ${id} is not running`);
  const unknown = await d.api('GET', '/exec/0123456789abcdef/json');
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body).message, 'No such exec instance: 0123456789abcdef');
  const missing = await d.docker(['exec', 'no-such-ctr', 'true']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such container: no-such-ctr/);
});

test('exec events and records dropped with the container', async () => {
  await runningContainer('ex5');
  const since = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.docker(['exec', 'ex5', 'sh', '-c', 'exit 2'])).code, 2);
  const until_ = Math.floor(Date.now() / 1000) + 1;
  const ev = await d.docker(['events', '--since', String(since), '--until', String(until_), '--filter', 'container=ex5', '--format', '{{.Action}} {{index .Actor.Attributes "exitCode"}}']);
  const lines = ev.stdout.trim().split('\n');
  assert.ok(lines.includes('exec_create: sh -c exit 2 '), ev.stdout);
  assert.ok(lines.includes('exec_start: sh -c exit 2 '), ev.stdout);
  assert.ok(lines.includes('exec_die 2'), ev.stdout);
  const create = await d.api('POST', '/containers/ex5/exec', { Cmd: ['true'] });
  const execId = JSON.parse(create.body).Id as string;
  assert.equal((await d.api('GET', `/exec/${execId}/json`)).status, 200);
  assert.equal((await d.docker(['rm', '-f', 'ex5'])).code, 0);
  await until(async () => (await d.api('GET', `/exec/${execId}/json`)).status === 404, 5000, 'the exec record to go');
});

test('exec with piped stdin, and server-side detach keys on a TTY exec', async () => {
  await runningContainer('ex6');
  const piped = await d.docker(['exec', '-i', 'ex6', 'cat'], { input: 'through stdin\n' });
  assert.deepEqual([piped.code, piped.stdout], [0, 'through stdin\n'], piped.stderr);
  const berthPiped = await d.berth(['exec', '-i', 'ex6', 'cat'], { input: 'berth stdin\n' });
  assert.deepEqual([berthPiped.code, berthPiped.stdout], [0, 'berth stdin\n'], berthPiped.stderr);
  // A raw API client that leaves detach-key handling to the daemon: ctrl-x then "q" detaches.
  const create = await d.api('POST', '/containers/ex6/exec', { Cmd: ['sh'], AttachStdin: true, AttachStdout: true, Tty: true, DetachKeys: 'ctrl-x,q' });
  const execId = JSON.parse(create.body).Id as string;
  const out = await new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ Detach: false, Tty: true });
    const req = http.request({
      socketPath: d.socket, method: 'POST', path: `/v1.50/exec/${execId}/start`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    });
    req.on('upgrade', (_res, socket) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('marker-42')) socket.write(Buffer.from([0x18, 0x71]));
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write('echo marker-$((40+2))\n');
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.match(out, /marker-42/);
  const info = JSON.parse((await d.api('GET', `/exec/${execId}/json`)).body);
  assert.equal(info.Running, true, 'the exec keeps running after a detach');
  assert.equal(info.DetachKeys, Buffer.from([0x18, 0x71]).toString('base64'));
  process.kill(info.Pid, 'SIGKILL');
  const bad = await d.api('POST', '/containers/ex6/exec', { Cmd: ['true'], DetachKeys: 'ctrl-1' });
  assert.equal(bad.status, 400);
});
