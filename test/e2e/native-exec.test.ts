/**
 * berth-exec against real berthd containers: what a process it starts sees (capabilities,
 * no_new_privs, seccomp, credentials, cgroups, hostname, root, pid namespace, exit codes) must
 * be what `runc exec` gives the same process spec, and nothing of the host must be reachable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after } from 'node:test';
import { nativeExec, type ExecProcess } from '../../src/runtime/native-exec';
import { ensureSeccompBpf } from '../../src/runtime/seccomp-bpf';
import { Daemon, useDaemon } from './harness';

const BUSYBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
const scratch = fs.mkdtempSync(join(os.tmpdir(), 'berth-native-exec-e2e-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface Target {
  id: string;
  initPid: number;
  bundle: string;
  config: { hostname: string; process: ExecProcess; linux: { seccomp?: Parameters<typeof ensureSeccompBpf>[1] } };
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A running container whose filter runc applies (its runc execs get it without berth's help):
 * a relative PATH entry keeps the seccomp loader out (runtime/seccomp-loader.ts).
 */
async function target(name: string, ...flags: string[]): Promise<Target> {
  const r = await d.docker(['run', '-d', '--name', name, '-e', `PATH=.:${BUSYBOX_PATH}`, ...flags, 'busybox', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const initPid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
  const bundle = join(d.dataRoot, 'containers', id);
  assert.ok(!fs.existsSync(join(bundle, 'spec.json')), 'runc applies the filter');
  return { id, initPid, bundle, config: JSON.parse(fs.readFileSync(join(bundle, 'config.json'), 'utf8')) };
}

function processFor(t: Target, args: string[], override: Partial<ExecProcess> = {}): ExecProcess {
  return { ...t.config.process, terminal: false, args, ...override };
}

function collect(out: Readable, err: Readable, exited: Promise<number>): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  err.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return Promise.all([exited, once(out, 'end'), once(err, 'end')]).then(([code]) => ({ code, stdout, stderr }));
}

function viaNative(t: Target, args: string[], override: Partial<ExecProcess> = {}): Promise<Ran & { startError?: string }> {
  const seccomp = t.config.linux.seccomp ? ensureSeccompBpf(t.bundle, t.config.linux.seccomp) : undefined;
  const s = nativeExec({ initPid: t.initPid, process: processFor(t, args, override), seccomp, containerId: t.id, stdio: ['ignore', 'pipe', 'pipe'] });
  let startError: string | undefined;
  s.started.catch((e: Error) => (startError = e.message));
  return collect(s.stdout!, s.stderr!, s.exited).then((r) => ({ ...r, startError }));
}

let specs = 0;
function viaRunc(t: Target, args: string[], override: Partial<ExecProcess> = {}): Promise<Ran> {
  const spec = join(scratch, `process-${specs++}.json`);
  fs.writeFileSync(spec, JSON.stringify(processFor(t, args, override)));
  const child = spawn('runc', ['--root', join(d.execRoot, 'runc'), 'exec', '--process', spec, t.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? 128 + os.constants.signals[signal!])));
  return collect(child.stdout!, child.stderr!, exited);
}

async function same(t: Target, script: string, override: Partial<ExecProcess> = {}): Promise<string> {
  const [n, r] = [await viaNative(t, ['sh', '-c', script], override), await viaRunc(t, ['sh', '-c', script], override)];
  assert.equal(n.code, 0, n.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(n.stdout, r.stdout, script);
  return n.stdout;
}

test("capabilities, no_new_privs, seccomp and credentials are runc exec's", async () => {
  const t = await target('creds');
  const status = 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status';
  const root = await same(t, `${status}; id; echo $HOME`);
  assert.match(root, /^CapEff:\t00000000a80425fb$/m);
  assert.match(root, /^CapBnd:\t00000000a80425fb$/m);
  assert.match(root, /^NoNewPrivs:\t0$/m);
  assert.match(root, /^Seccomp:\t2$/m);
  assert.match(root, /^uid=0\(root\) gid=0\(root\)/m);
  const nobody = await same(t, `${status}; id; echo $HOME; echo to-stderr >/dev/stderr`, { user: { uid: 65534, gid: 65534, additionalGids: [1, 2] } });
  assert.match(nobody, /^CapEff:\t0000000000000000$/m);
  assert.match(nobody, /^uid=65534\(nobody\) gid=65534\(nogroup\) groups=1,2$/m);
  assert.match(nobody, /^\/nonexistent$/m);

  const nnp = await target('nnp', '--security-opt', 'no-new-privileges');
  assert.match(await same(nnp, status), /^NoNewPrivs:\t1\nSeccomp:\t2$/m);
  // The filter holds: a namespace cannot be made without CAP_SYS_ADMIN.
  const unshare = await viaNative(t, ['unshare', '-n', 'true']);
  assert.notEqual(unshare.code, 0);
  assert.match(unshare.stderr, /Operation not permitted/);

  const free = await target('unconfined', '--security-opt', 'seccomp=unconfined');
  assert.match(await same(free, status), /^Seccomp:\t0$/m);
});

test("the container's cgroups, hostname, root and pid namespace", async () => {
  const t = await target('where');
  const cgroups = await same(t, 'cat /proc/self/cgroup');
  assert.equal(cgroups, fs.readFileSync(`/proc/${t.initPid}/cgroup`, 'utf8'));
  assert.match(cgroups, new RegExp(`/berth/${t.id}$`, 'm'));
  const hostname = await same(t, 'hostname');
  assert.equal(hostname, `${t.id.slice(0, 12)}\n`);
  assert.equal(await same(t, 'ls /'), await same(t, 'ls /proc/1/root/'));
  const ps = await viaNative(t, ['sh', '-c', 'echo $$; ps -o pid,comm; true']);
  const [pid, , ...procs] = ps.stdout.trim().split('\n');
  assert.ok(Number(pid) < 100, `a pid of the container's namespace: ${pid}`);
  assert.deepEqual(procs.map((l) => l.trim().split(/\s+/)[1]).sort(), ['ps', 'sh', 'sleep'], 'only the container\'s processes');
});

test('exit codes: the program\'s, 127 for a missing one with Docker\'s message, 128+9 when killed', async () => {
  const t = await target('codes');
  assert.equal((await viaNative(t, ['sh', '-c', 'exit 3'])).code, 3);
  const missing = await viaNative(t, ['no-such-program']);
  assert.equal(missing.code, 127);
  assert.equal(missing.startError, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "no-such-program": executable file not found in $PATH: unknown');
  assert.equal(missing.stderr, '');
  const runcMissing = await viaRunc(t, ['no-such-program']);
  assert.match(runcMissing.stderr, /exec: \\"no-such-program\\": executable file not found in \$PATH/);
  const badCwd = await viaNative(t, ['true'], { cwd: '/no/such/dir' });
  assert.match(badCwd.startError ?? '', /chdir to cwd \("\/no\/such\/dir"\) set in config.json failed: no such file or directory/);
  assert.equal((await viaNative(t, ['sh', '-c', 'kill -9 $$'])).code, 137);
  assert.equal((await viaRunc(t, ['sh', '-c', 'kill -9 $$'])).code, 137);
});

test('nothing of the host is reachable from the exec', async () => {
  const t = await target('escape');
  const marker = `berth-escape-${process.pid}-${Date.now()}`;
  fs.writeFileSync(join('/tmp', marker), 'host');
  try {
    const r = await viaNative(t, ['sh', '-c', `readlink /proc/self/root; ls /tmp; cat /tmp/${marker} /proc/*/root/tmp/${marker} 2>/dev/null; ls /proc/*/root/tmp/ 2>/dev/null; true`]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, new RegExp(marker));
    assert.doesNotMatch(r.stdout, /^host$/m);
    assert.match(r.stdout, /^\/$/m);
    // The helper itself is not in the container's pid namespace, and no process there has the host's root.
    const roots = await viaNative(t, ['sh', '-c', 'for p in /proc/[0-9]*; do readlink $p/root; done | sort -u']);
    assert.equal(roots.stdout, '/\n');
  } finally {
    fs.rmSync(join('/tmp', marker), { force: true });
  }
});
