/**
 * `berth compose` against a real berthd, on the three-tier sample in examples/compose (web built
 * from its Dockerfile, app, data with a named volume and a healthcheck; all from busybox): up with
 * --wait, the web answering on a published loopback port and reaching the app by service name,
 * depends_on service_healthy holding the app back, scale 3 behind one name, a changed environment
 * recreating only its service, and down -v removing all it made.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Daemon, freePort, getText as get, REPO, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
// A copy, so a test never writes into the repository's example.
const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-compose-'));
fs.cpSync(join(REPO, 'examples', 'compose'), dir, { recursive: true });
const file = join(dir, 'compose.yaml');
after(() => fs.rmSync(dir, { recursive: true, force: true }));


async function compose(args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<string> {
  const r = await d.berth(['compose', '-p', 'threetier', '-f', file, ...args], { env, timeoutMs });
  assert.equal(r.code, 0, `berth compose ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout + r.stderr;
}


interface Summary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
}

async function projectContainers(): Promise<Summary[]> {
  const r = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=threetier'] }))}`);
  return (JSON.parse(r.body) as Summary[]).sort((a, b) => a.Names[0].localeCompare(b.Names[0]));
}

interface Inspect {
  State: { StartedAt: string; Health?: { Status: string; Log: { Start: string; End: string; ExitCode: number }[] } };
}

const inspect = async (id: string) => JSON.parse((await d.api('GET', `/containers/${id}/json`)).body) as Inspect;

test('up --wait brings the three tiers up in dependency order; web reaches app by name; scale, a change and down -v', async () => {
  const port = await freePort();
  const env = { WEB_PORT: String(port) };
  await compose(['up', '-d', '--wait'], env);

  const cs = await projectContainers();
  assert.deepEqual(
    cs.map((c) => [c.Names[0], c.Labels['com.docker.compose.service'], c.Labels['com.docker.compose.container-number'], c.Labels['com.docker.compose.oneoff'], c.State]),
    [
      ['/threetier-app-1', 'app', '1', 'False', 'running'],
      ['/threetier-data-1', 'data', '1', 'False', 'running'],
      ['/threetier-web-1', 'web', '1', 'False', 'running'],
    ],
  );
  for (const c of cs) assert.match(c.Labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);

  // The web's CGI asks http://app:8080/ over the project network.
  const r = await until(async () => {
    const x = await get(port, '/cgi-bin/app');
    return /app says hello/.test(x.body) ? x : undefined;
  }, 20_000, 'the web to answer with the app\'s greeting');
  assert.equal(r!.status, 200);

  // depends_on service_healthy: the app started only after data's first passing healthcheck.
  const data = await inspect(cs[1].Id);
  const app = await inspect(cs[0].Id);
  const firstHealthy = data.State.Health!.Log.find((l) => l.ExitCode === 0)!;
  assert.ok(new Date(app.State.StartedAt).getTime() >= new Date(firstHealthy.End).getTime() - 50, `app started ${app.State.StartedAt}, data healthy at ${firstHealthy.End}`);

  // Networks and volumes are the project's, named and labelled as Compose names them.
  const netr = JSON.parse((await d.api('GET', '/networks/threetier_default')).body) as { Labels: Record<string, string> };
  assert.equal(netr.Labels['com.docker.compose.network'], 'default');
  const vol = JSON.parse((await d.api('GET', '/volumes/threetier_data')).body) as { Labels: Record<string, string> };
  assert.equal(vol.Labels['com.docker.compose.volume'], 'data');

  // A second up with nothing changed recreates nothing.
  await compose(['up', '-d', '--wait'], env);
  assert.deepEqual((await projectContainers()).map((c) => c.Id), cs.map((c) => c.Id));

  // A changed environment recreates that service only.
  await compose(['up', '-d', '--wait'], { ...env, GREETING: 'bonjour' });
  const after1 = await projectContainers();
  assert.notEqual(after1[0].Id, cs[0].Id, 'app was recreated');
  assert.equal(after1[1].Id, cs[1].Id, 'data was kept');
  assert.equal(after1[2].Id, cs[2].Id, 'web was kept');
  await until(async () => /app says bonjour/.test((await get(port, '/cgi-bin/app')).body), 20_000, 'the new greeting');

  // Three replicas of app behind its one name.
  await compose(['up', '-d', '--wait', '--scale', 'app=3'], { ...env, GREETING: 'bonjour' });
  const apps = (await projectContainers()).filter((c) => c.Labels['com.docker.compose.service'] === 'app');
  assert.deepEqual(apps.map((c) => c.Names[0]), ['/threetier-app-1', '/threetier-app-2', '/threetier-app-3']);
  // Right after replicas are recreated: the bridge keeps its address when ports come and go, so
  // the web's cached gateway entry still reaches the embedded DNS.
  const answer = await d.berth(['exec', 'threetier-web-1', 'nslookup', 'app']);
  // The answer's addresses come after "Name:"; the first Address line is the server's.
  const addresses = new Set([...answer.stdout.split('Name:').slice(1).join('').matchAll(/Address:\s*(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]));
  assert.equal(addresses.size, 3, answer.stdout);

  assert.match(await compose(['exec', '-T', '--index', '2', 'app', 'cat', '/www/index.html'], { ...env, GREETING: 'bonjour' }), /app says bonjour/);
  const ps = await compose(['ps']);
  assert.match(ps, /threetier-app-3/);
  assert.match(ps, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));

  await compose(['down', '-v']);
  assert.deepEqual(await projectContainers(), []);
  assert.equal((await d.api('GET', '/networks/threetier_default')).status, 404);
  assert.equal((await d.api('GET', '/volumes/threetier_data')).status, 404);
});

test('attached up prints each service with its prefix until they exit; secrets; pid and network of another service; run --rm; config names a bad key and line', async () => {
  const one = fs.mkdtempSync(join(os.tmpdir(), 'berth-compose-oneshot-'));
  try {
    fs.writeFileSync(join(one, 'token.txt'), 's3cret\n');
    fs.writeFileSync(
      join(one, 'compose.yaml'),
      [
        'services:',
        '  hello:',
        '    image: busybox',
        '    command: ["sh", "-c", "echo hi from $$(hostname); echo second line"]',
        '  reader:',
        '    image: busybox',
        '    command: ["cat", "/run/secrets/token"]',
        '    secrets: [token]',
        '  base:',
        '    image: busybox',
        '    command: ["sh", "-c", "echo base up; sleep 3"]',
        '  joined:',
        '    image: busybox',
        '    network_mode: "service:base"',
        '    pid: "service:base"',
        '    command: ["sh", "-c", "xargs -0 < /proc/1/cmdline"]',
        'secrets:',
        '  token:',
        '    file: ./token.txt',
        '',
      ].join('\n'),
    );
    const run = (args: string[]) => d.berth(['compose', '-p', 'oneshot', '-f', join(one, 'compose.yaml'), ...args], { timeoutMs: 120_000 });
    const up = await run(['up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Attaching to oneshot-base-1, oneshot-hello-1, oneshot-joined-1, oneshot-reader-1$/m);
    assert.match(up.stdout, /^oneshot-hello-1 +\| hi from [0-9a-f]{12}$/m);
    assert.match(up.stdout, /^oneshot-hello-1 +\| second line$/m);
    assert.match(up.stdout, /^oneshot-reader-1 +\| s3cret$/m);
    // pid: service:base — the joined container's PID 1 is base's (its shell exec'd the last command).
    assert.match(up.stdout, /^oneshot-joined-1 +\| sleep 3$/m);
    assert.match(up.stdout, /^oneshot-hello-1 exited with code 0$/m);

    const once = await run(['run', '--rm', '-T', 'hello', 'echo', 'one-off']);
    assert.equal(once.code, 0, once.stderr);
    assert.equal(once.stdout.trim(), 'one-off');
    const left = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=oneshot', 'com.docker.compose.oneoff=True'] }))}`);
    assert.deepEqual(JSON.parse(left.body), [], 'run --rm left no container');

    assert.equal((await run(['down'])).code, 0);
    fs.writeFileSync(join(one, 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    imagee: typo\n');
    const bad = await run(['config']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /compose\.yaml:4: services\.web\.imagee: unknown key/);
  } finally {
    fs.rmSync(one, { recursive: true, force: true });
  }
});
