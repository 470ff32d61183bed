/**
 * The seccomp loader (runtime/seccomp-loader.ts): a container started through it must look,
 * from the inside, exactly like one whose filter runc applied; every kind of exec in it must
 * carry the filter; and what the loader cannot vouch for must go to runc, with runc's errors.
 * A relative PATH entry makes the reference containers (runc applies the filter).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Daemon, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const BY_RUNC = ['-e', 'PATH=.:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
const STATUS = 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):" /proc/self/status; id';

const loaded = (id: string) => fs.existsSync(join(d.dataRoot, 'containers', id, 'spec.json'));

async function docker(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Runs `script` as a container's own process; its output, and whether the loader started it. */
async function ran(flags: string[], script: string): Promise<{ out: string; loader: boolean }> {
  const id = (await docker(['run', '-d', ...flags, 'busybox', 'sh', '-c', script])).trim();
  assert.equal(await docker(['wait', id]), '0\n');
  const out = await docker(['logs', id]);
  const loader = loaded(id);
  await docker(['rm', id]);
  return { out, loader };
}

test("credentials, no_new_privs and the filter of a container's process are those runc gives", async () => {
  const cases = [
    [], ['--user', '1000:1000'], ['--user', '1000', '--group-add', '5'], ['--security-opt', 'no-new-privileges'],
    ['--user', '1000', '--security-opt', 'no-new-privileges'], ['--cap-drop', 'ALL', '--cap-add', 'kill'],
    ['--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN'], ['--user', '1000', '--cap-add', 'NET_ADMIN'],
  ];
  for (const flags of cases) {
    const viaLoader = await ran(flags, STATUS);
    const viaRunc = await ran([...BY_RUNC, ...flags], STATUS);
    assert.ok(viaLoader.loader, `loader used: ${flags.join(' ')}`);
    assert.ok(!viaRunc.loader, `runc used: ${flags.join(' ')}`);
    assert.equal(viaLoader.out, viaRunc.out, flags.join(' '));
    assert.match(viaLoader.out, /^Seccomp:\t2\nSeccomp_filters:\t1$/m);
  }
  // The filter holds: no namespace without CAP_SYS_ADMIN.
  const r = await d.docker(['run', '--rm', 'busybox', 'unshare', '-n', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Operation not permitted/);
});

test('every kind of exec carries the filter and the credentials runc gives', async () => {
  await docker(['run', '-d', '--name', 'ld', 'busybox', 'sleep', '1000']);
  await docker(['run', '-d', '--name', 'rc', ...BY_RUNC, 'busybox', 'sleep', '1000']);
  const ld = (await docker(['inspect', '-f', '{{.Id}}', 'ld'])).trim();
  assert.ok(loaded(ld));
  const viaBoth = async (args: string[]) => {
    const [a, b] = [await docker(['exec', ...args.map((x) => (x === '%c' ? 'ld' : x))]), await docker(['exec', ...args.map((x) => (x === '%c' ? 'rc' : x))])];
    assert.equal(a.replace(/\r/g, ''), b.replace(/\r/g, ''), args.join(' '));
    assert.match(a, /^Seccomp:\t2\r?$/m, args.join(' '));
    return a;
  };
  await viaBoth(['%c', 'sh', '-c', STATUS]); // berth-exec
  await viaBoth(['-t', '%c', 'sh', '-c', STATUS]); // conmon + runc exec
  await viaBoth(['-t', '-u', '1000:1000', '%c', 'sh', '-c', STATUS]);
  await viaBoth(['-t', '--privileged', '%c', 'sh', '-c', STATUS]);
  for (const c of ['ld', 'rc']) await docker(['exec', '-d', c, 'sh', '-c', `{ ${STATUS}; } > /tmp/detached`]);
  const detached = (c: string) => until(async () => {
    const r = await d.docker(['exec', c, 'cat', '/tmp/detached']);
    return r.code === 0 && r.stdout.includes('uid=') ? r.stdout : '';
  }, 10_000, `${c}'s detached exec`);
  assert.equal(await detached('ld'), await detached('rc'));
  assert.match(await detached('ld'), /^Seccomp:\t2$/m);
  const blocked = await d.docker(['exec', '-t', 'ld', 'unshare', '-n', 'true']);
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stdout + blocked.stderr, /Operation not permitted/);

  // The loader's directory is read-only to the container; a restart goes through it again.
  assert.notEqual((await d.docker(['exec', 'ld', 'touch', '/dev/.berth/x'])).code, 0);
  await docker(['restart', '-t', '0', 'ld']);
  assert.ok(loaded(ld));
  assert.match(await docker(['exec', '-t', 'ld', 'grep', 'Seccomp:', '/proc/self/status']), /^Seccomp:\t2\r?$/m);
  await docker(['rm', '-f', 'ld', 'rc']);
});

test('what the loader cannot vouch for, runc runs with its own errors', async () => {
  // Not found: runc's create-time error and exit status, the container left created.
  const missing = await d.docker(['run', '--name', 'missing', 'busybox', 'no-such-program']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /exec: "no-such-program": executable file not found in \$PATH/);
  assert.equal(await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'missing']), 'created 127\n');
  const notRunnable = await d.docker(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notRunnable.code, 126);
  assert.match(notRunnable.stderr, /permission denied/);

  // A mount over the program's directory: the image's file is not what the container would run.
  const hidden = await d.docker(['run', '--rm', '--tmpfs', '/bin', 'busybox', '/bin/sh', '-c', 'true']);
  assert.equal(hidden.code, 127);
  assert.match(hidden.stderr, /exec: "\/bin\/sh": stat \/bin\/sh: no such file or directory/);
  // --init's program is a bind mount: runc's filter, the same view from the inside.
  const init = await ran(['--init'], STATUS);
  assert.equal(init.loader, false);
  assert.equal(init.out, (await ran([], STATUS)).out);
});
