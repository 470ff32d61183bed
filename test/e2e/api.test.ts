/**
 * The Engine API at the wire level: negotiation headers, hijacked attach with Docker's 8-byte
 * frames, logs, wait conditions, events and list filters, as docker-py and dockerode use them.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Demuxer } from '../../src/wire/stdcopy';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

async function create(body: object, name?: string): Promise<string> {
  const r = await d.api('POST', `/v1.41/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', ...body });
  assert.equal(r.status, 201, r.body);
  return (JSON.parse(r.body) as { Id: string }).Id;
}

/** Opens a hijacked attach the way docker-py does (Upgrade: tcp) and collects the raw bytes. */
function attach(id: string, query: string): Promise<{ headers: string; data: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/v1.41/containers/${id}/attach?${query}`, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (res, socket, head) => {
      const chunks: Buffer[] = [head];
      const data = new Promise<Buffer>((done) => {
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => done(Buffer.concat(chunks)));
      });
      resolve({ headers: `${res.statusCode} ${res.headers['content-type']}`, data });
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

test('/_ping answers OK with the negotiation headers; HEAD has no body', async () => {
  const get = await d.api('GET', '/_ping');
  assert.equal(get.status, 200);
  assert.equal(get.body, 'OK');
  assert.equal(get.headers['api-version'], '1.50');
  assert.equal(get.headers['ostype'], 'linux');
  assert.equal(get.headers['docker-experimental'], 'false');
  assert.match(String(get.headers['server']), /^berth\/0\.1\.0 \(linux\)$/);
  const head = await d.api('HEAD', '/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  const version = JSON.parse((await d.api('GET', '/v1.41/version')).body) as Record<string, string>;
  assert.equal(version.ApiVersion, '1.50');
  assert.equal(version.MinAPIVersion, '1.24');
});

test('attach before start streams stdout and stderr in 8-byte frames, then ends', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; echo again'], AttachStdout: true, AttachStderr: true });
  const a = await attach(id, 'stream=1&stdout=1&stderr=1');
  assert.equal(a.headers, '101 application/vnd.docker.raw-stream');
  assert.equal((await d.api('POST', `/v1.41/containers/${id}/start`)).status, 204);
  const raw = await a.data;
  // Frame layout: stream id, three zero bytes, big-endian length.
  assert.deepEqual([...raw.subarray(0, 4)], [1, 0, 0, 0]);
  const frames = new Demuxer().push(raw);
  const text = (n: number) => frames.filter((f) => f.stream === n).map((f) => f.data.toString()).join('');
  assert.equal(text(1), 'to-out\nagain\n');
  assert.equal(text(2), 'to-err\n');
});

test('API 1.42+ labels the attach stream as multiplexed', async () => {
  const id = await create({ Cmd: ['echo', 'x'] });
  const a = await attach(id.slice(0, 12), 'stream=1&stdout=1&stderr=1').catch(() => undefined);
  assert.ok(a);
  a.data.catch(() => {});
  const r = await new Promise<string>((resolve) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/v1.44/containers/${id}/attach?stream=1&stdout=1`, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(String(res.headers['content-type'])); });
    req.end();
  });
  assert.equal(r, 'application/vnd.docker.multiplexed-stream');
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('stdin through attach reaches the container and its EOF ends it', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'read line; echo "got $line"'], OpenStdin: true, StdinOnce: true, AttachStdin: true });
  const { socket, data } = await new Promise<{ socket: import('node:net').Socket; data: Promise<Buffer> }>((resolve) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/v1.41/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (_res, sock, head) => {
      const chunks: Buffer[] = [head];
      resolve({ socket: sock as import('node:net').Socket, data: new Promise((done) => { sock.on('data', (c: Buffer) => chunks.push(c)); sock.on('end', () => done(Buffer.concat(chunks))); }) });
    });
    req.end();
  });
  await d.api('POST', `/containers/${id}/start`);
  socket.end('hello berth\n');
  const frames = new Demuxer().push(await data);
  assert.equal(frames.map((f) => f.data.toString()).join(''), 'got hello berth\n');
  const wait = JSON.parse((await d.api('POST', `/containers/${id}/wait`)).body) as { StatusCode: number };
  assert.equal(wait.StatusCode, 0);
});

test('wait: not-running returns at once for a created container; next-exit waits for the run', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'sleep 0.3; exit 9'] });
  const now = await d.api('POST', `/containers/${id}/wait`);
  assert.deepEqual(JSON.parse(now.body), { StatusCode: 0, Error: null });
  const next = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  await d.api('POST', `/containers/${id}/start`);
  assert.deepEqual(JSON.parse((await next).body), { StatusCode: 9, Error: null });
  const removed = d.api('POST', `/containers/${id}/wait?condition=removed`);
  await d.api('DELETE', `/containers/${id}`);
  assert.equal((await removed).status, 200);
  // Docker checks the condition before it looks the container up.
  const bad = await d.api('POST', `/containers/${id}/wait?condition=whenever`);
  assert.equal(bad.status, 400);
  assert.equal((await d.api('POST', `/containers/${id}/wait`)).status, 404);
});

test('logs: streams, tail, timestamps, since and follow until the container stops', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'for i in 1 2 3; do echo out$i; echo err$i >&2; done; sleep 0.5; echo last'] }, 'chatty');
  // A never-started container has nothing to follow (Docker returns at once): start it first.
  await d.api('POST', `/containers/${id}/start`);
  const follow = d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1&follow=1`);
  const all = new Demuxer().push(Buffer.from((await follow).body, 'latin1'));
  assert.equal(all.filter((f) => f.stream === 1).map((f) => f.data.toString()).join(''), 'out1\nout2\nout3\nlast\n');
  assert.equal(all.filter((f) => f.stream === 2).map((f) => f.data.toString()).join(''), 'err1\nerr2\nerr3\n');

  const tail = await d.berth(['logs', '--tail', '2', 'chatty']);
  assert.equal(tail.stdout, 'last\n');
  assert.equal(tail.stderr, 'err3\n');
  const onlyErr = await d.api('GET', `/containers/${id}/logs?stderr=1&timestamps=1`);
  const lines = new Demuxer().push(Buffer.from(onlyErr.body, 'latin1')).map((f) => f.data.toString());
  assert.equal(lines.length, 3);
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err\d\n$/);
  const future = await d.api('GET', `/containers/${id}/logs?stdout=1&since=${Math.floor(Date.now() / 1000) + 60}`);
  assert.equal(future.body, '');
  const none = await d.api('GET', `/containers/${id}/logs`);
  assert.equal(none.status, 400);
});

test('list filters: status, name, label, id, exited, ancestor', async () => {
  await create({ Cmd: ['true'], Labels: { tier: 'web' } }, 'web-1');
  const ran = await d.berth(['run', '--name', 'job-1', '-l', 'tier=batch', 'busybox', 'sh', '-c', 'exit 2']);
  assert.equal(ran.code, 2);
  const names = async (filters: object) =>
    (JSON.parse((await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`)).body) as { Names: string[] }[])
      .map((c) => c.Names[0]).sort();
  assert.deepEqual(await names({ label: ['tier=web'] }), ['/web-1']);
  assert.deepEqual(await names({ label: ['tier'] }), ['/job-1', '/web-1']);
  assert.deepEqual(await names({ name: ['job'] }), ['/job-1']);
  assert.deepEqual(await names({ exited: ['2'] }), ['/job-1']);
  const jobId = (await d.berth(['inspect', '--format', '{{.Id}}', 'job-1'])).stdout.trim();
  assert.deepEqual(await names({ id: [jobId.slice(0, 10)] }), ['/job-1']);
  assert.ok((await names({ status: ['created'] })).includes('/web-1'));
  assert.ok(!(await names({ status: ['created'] })).includes('/job-1'));
  assert.ok((await names({ ancestor: ['busybox'] })).length >= 2);
  // The pre-1.22 map form still works.
  assert.deepEqual(await names({ label: { 'tier=web': true } }), ['/web-1']);
  const running = JSON.parse((await d.api('GET', '/containers/json')).body) as unknown[];
  assert.equal(running.length, 0);
});

test('events report a container\'s life in order, even for programs that exit at once', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  for (let i = 0; i < 20; i++) {
    const r = await d.berth(['run', '--rm', '--name', `evented-${i}-x`, 'busybox', 'true']);
    assert.equal(r.code, 0);
  }
  const until = Math.floor(Date.now() / 1000) + 1;
  for (let i = 0; i < 20; i++) {
    const body = (await d.api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: [`evented-${i}-x`] }))}`)).body;
    // Docker's container filter matches names by prefix: evented-1 would match evented-10 too.
    const actions = body.trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action);
    assert.deepEqual(actions.filter((a) => a !== 'attach'), ['create', 'start', 'die', 'destroy'], `run ${i}`);
  }
});

test('150 short-lived containers in a row all start (the exec.fifo start race)', async () => {
  // `true` can exit before the daemon has looked at it; a start that checks liveness in the
  // wrong order reported "container process is already dead" for ~2% of such runs.
  for (let i = 0; i < 150; i++) {
    const id = await create({ Cmd: ['true'], HostConfig: { AutoRemove: true } });
    const removed = d.api('POST', `/containers/${id}/wait?condition=removed`);
    const start = await d.api('POST', `/containers/${id}/start`);
    assert.equal(start.status, 204, `run ${i}: ${start.body}`);
    assert.equal(JSON.parse((await removed).body).StatusCode, 0);
  }
}, { timeout: 120_000 });
