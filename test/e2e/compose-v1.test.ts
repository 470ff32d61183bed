/**
 * Debian's docker-compose 1.29 (python, docker-py 5) driving berthd on the same three-tier
 * sample as `berth compose` (examples/compose): up, ps, logs, exec, a changed environment that
 * recreates only its service, scale 3 behind one name, down -v. It names things the v1 way
 * (<project>_<service>_<n>) and disconnects and connects every container it creates.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Daemon, freePort, getText, REPO, until, useDaemon } from './harness';

const get = async (port: number, path: string) => (await getText(port, path)).body;

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-compose-v1-'));
fs.cpSync(join(REPO, 'examples', 'compose'), dir, { recursive: true });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function dockerCompose(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'docker-compose',
      ['-p', 'threetier', '-f', join(dir, 'compose.yaml'), ...args],
      { env: { ...process.env, ...env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(dir, '.docker') }, timeout: 180_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await dockerCompose(args, env);
  assert.equal(r.code, 0, `docker-compose ${args.join(' ')} exited ${r.code}:\n${r.out}`);
  return r.out;
}



const ids = async () => {
  const r = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=threetier'] }))}`);
  return Object.fromEntries((JSON.parse(r.body) as { Id: string; Names: string[] }[]).map((c) => [c.Names[0].slice(1), c.Id]));
};

test('docker-compose 1.29 against berthd: up, ps, logs, exec, a change, scale, down -v', async () => {
  const port = await freePort();
  const env = { WEB_PORT: String(port) };
  await ok(['up', '-d'], env);
  const first = await ids();
  assert.deepEqual(Object.keys(first).sort(), ['threetier_app_1', 'threetier_data_1', 'threetier_web_1']);
  let last = '';
  await until(async () => /app says hello/.test((last = await get(port, '/cgi-bin/app').catch((e: Error) => e.message))), 30_000, 'the web to reach the app').catch(async (e: Error) => {
    const w = await d.docker(['exec', 'threetier_web_1', 'wget', '-qO-', 'http://app:8080/']);
    throw new Error(`${e.message}; last answer: ${last}; wget in web: ${w.code} ${w.stdout} ${w.stderr}; ps: ${await ok(['ps'], env)}`);
  });

  const ps = await ok(['ps'], env);
  assert.match(ps, /threetier_data_1 .* Up \(healthy\)/);
  assert.match(ps, new RegExp(`threetier_web_1 .* 127\\.0\\.0\\.1:${port}->80/tcp`));
  assert.match(await ok(['exec', '-T', 'app', 'cat', '/www/index.html'], env), /app says hello/);
  assert.match(await ok(['logs', '--no-color', 'data'], env), /Attaching to threetier_data_1/);

  // A changed environment: app is recreated, the others are up-to-date.
  const changed = await ok(['up', '-d'], { ...env, GREETING: 'bonjour' });
  assert.match(changed, /Recreating threetier_app_1/);
  const second = await ids();
  assert.notEqual(second.threetier_app_1, first.threetier_app_1);
  assert.equal(second.threetier_data_1, first.threetier_data_1);
  assert.equal(second.threetier_web_1, first.threetier_web_1);
  await until(async () => /app says bonjour/.test(await get(port, '/cgi-bin/app').catch(() => '')), 30_000, 'the new greeting');

  await ok(['up', '-d', '--scale', 'app=3'], { ...env, GREETING: 'bonjour' });
  assert.deepEqual(Object.keys(await ids()).filter((n) => n.includes('_app_')).sort(), ['threetier_app_1', 'threetier_app_2', 'threetier_app_3']);
  const lookup = await d.docker(['exec', 'threetier_web_1', 'nslookup', 'app']);
  const addresses = new Set([...lookup.stdout.split('Name:').slice(1).join('').matchAll(/Address:\s*(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]));
  assert.equal(addresses.size, 3, lookup.stdout);

  await ok(['down', '-v'], env);
  assert.deepEqual(await ids(), {});
  assert.equal((await d.api('GET', '/networks/threetier_default')).status, 404);
  assert.equal((await d.api('GET', '/volumes/threetier_data')).status, 404);
});
