import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { ExecStartError } from './exec-monitor';
import { capabilityMask, nativeExec, nativeExecArgs, nativeExecUnsupported, type NativeExecSession } from './native-exec';
import { DEFAULT_CAPABILITIES } from './oci-spec';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function output(s: NativeExecSession): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  s.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  s.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // A stream may have ended already (the caller awaited `started` first): once() would wait forever.
  const ended = (r: NodeJS.ReadableStream & { readableEnded: boolean }) => (r.readableEnded ? Promise.resolve() : once(r, 'end'));
  const [code] = await Promise.all([s.exited, ended(s.stdout!), ended(s.stderr!)]);
  return { code, stdout, stderr };
}

describe('berth-exec command lines', () => {
  it("masks capability names by number; Docker's default set is a80425fb", () => {
    assert.equal(capabilityMask(DEFAULT_CAPABILITIES), 'a80425fb');
    assert.equal(capabilityMask([]), '0');
    assert.equal(capabilityMask(['CAP_SYS_ADMIN', 'CAP_NO_SUCH_THING']), '200000');
  });

  it('carries the whole process spec', () => {
    const args = nativeExecArgs({
      initPid: 42,
      containerId: 'abc',
      seccomp: { path: '/b/seccomp-1.bpf', flags: 0 },
      process: {
        args: ['sh', '-c', 'x'], cwd: '/srv', user: { uid: 1000, gid: 100, additionalGids: [10, 20] },
        capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
        noNewPrivileges: true, oomScoreAdj: 5,
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 18446744073709552000, hard: 18446744073709552000 }],
      },
    }, 3);
    assert.deepEqual(args, [
      '--pid', '42', '--status-fd', '3', '--cwd', '/srv', '--uid', '1000', '--gid', '100', '--groups', '10,20',
      '--cap-bounding', '20', '--cap-effective', '20', '--cap-permitted', '20', '--cap-inheritable', '0', '--cap-ambient', '0',
      '--no-new-privs', '--rlimit', 'RLIMIT_NOFILE=1024:4096', '--rlimit', 'RLIMIT_CORE=unlimited:unlimited',
      '--oom-score-adj', '5', '--keyring', '_ses.abc', '--seccomp', '/b/seccomp-1.bpf', '--seccomp-flags', '0',
      '--', 'sh', '-c', 'x',
    ]);
  });

  it('leaves TTYs and CAP_SYS_PTRACE to runc', () => {
    assert.equal(nativeExecUnsupported({ args: ['true'] }), null);
    assert.equal(nativeExecUnsupported({ args: ['true'], terminal: true }), 'a terminal');
    assert.equal(nativeExecUnsupported({ args: ['true'] }, ['CAP_SYS_PTRACE']), 'CAP_SYS_PTRACE');
  });
});

// A host process stands in for a container's init: joining its (the host's) namespaces and
// cgroups is a no-op, which leaves the process handling to be checked on its own.
describe('nativeExec on the host', { timeout: 60_000 }, () => {
  let init: ChildProcess;
  before(() => {
    init = spawn('sleep', ['600'], { stdio: 'ignore' });
  });
  after(() => {
    init.kill('SIGKILL');
  });
  const run = (args: string[], extra: { env?: string[]; user?: { uid: number; gid: number }; gated?: boolean } = {}) =>
    nativeExec({ initPid: init.pid!, gated: extra.gated, process: { args, env: extra.env ?? [PATH], cwd: '/', user: extra.user, capabilities: { bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES } } });

  it('reports the pid, streams output and exits with the program', async () => {
    const s = run(['sh', '-c', 'echo out; echo err >/dev/stderr; echo $HOME; ls -l /proc/self/fd/0 /proc/self/fd/1 | grep -c pipe; exit 3'], { user: { uid: 65534, gid: 65534 } });
    s.stdin!.end();
    const pid = await s.started;
    assert.ok(pid > 0 && pid !== s.pid);
    assert.deepEqual(await output(s), { code: 3, stdout: 'out\n/nonexistent\n2\n', stderr: 'err\n' }, 'OS pipes, reopenable by the user');
  });

  it("a missing program is Docker's error with 127; nothing reaches the program's stderr", async () => {
    const s = run(['no-such-program']);
    await assert.rejects(s.started, (e: unknown) => {
      assert.ok(e instanceof ExecStartError);
      assert.equal(e.exitCode, 127);
      assert.equal(e.message, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "no-such-program": executable file not found in $PATH: unknown');
      return true;
    });
    assert.deepEqual(await output(s), { code: 127, stdout: '', stderr: '' });
    const plain = join(fs.mkdtempSync(join(os.tmpdir(), 'berth-native-exec-')), 'not-executable');
    fs.writeFileSync(plain, 'data', { mode: 0o644 });
    const denied = run([plain]);
    await assert.rejects(denied.started, (e: unknown) => e instanceof ExecStartError && e.exitCode === 126 && /permission denied/.test(e.message));
    assert.equal(await denied.exited, 126);
    fs.rmSync(dirname(plain), { recursive: true });
  });

  it('forwards signals; a signal that kills the program gives 128+N', async () => {
    const s = run(['sleep', '30']);
    await s.started;
    s.kill('SIGTERM');
    assert.equal(await s.exited, 143);
  });

  it('the program dies with berth-exec (SIGKILL cannot be forwarded)', async () => {
    const s = run(['sh', '-c', 'trap "" TERM; exec sleep 30']);
    const pid = await s.started;
    s.kill('SIGKILL');
    assert.equal(await s.exited, 137);
    const deadline = Date.now() + 5000;
    while (fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!fs.existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readStatus(pid)), 'the program is gone');
  });

  // Gated: prepared at exec create, released (or called off) at its start.
  const gated = (file: string) =>
    nativeExec({ initPid: init.pid!, gated: true, process: { args: ['sh', '-c', `echo ran > ${file}; echo out`], env: [PATH], cwd: '/' } });

  it('gated: runs nothing until released, then runs as usual', async () => {
    const file = join(fs.mkdtempSync(join(os.tmpdir(), 'berth-gated-')), 'ran');
    const s = gated(file);
    s.stdin!.end();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!fs.existsSync(file), 'nothing ran before the release');
    assert.ok(fs.existsSync(`/proc/${s.pid}`), 'berth-exec waits');
    s.release();
    assert.ok((await s.started) > 0);
    assert.deepEqual(await output(s), { code: 0, stdout: 'out\n', stderr: '' });
    assert.equal(fs.readFileSync(file, 'utf8'), 'ran\n');
    fs.rmSync(dirname(file), { recursive: true });
  });

  it('gated and called off: exits without running anything', async () => {
    const file = join(fs.mkdtempSync(join(os.tmpdir(), 'berth-gated-')), 'ran');
    const s = gated(file);
    s.started.catch(() => {});
    s.callOff();
    assert.equal(await s.exited, 0);
    assert.ok(!fs.existsSync(file), 'nothing ran');
    assert.ok(!fs.existsSync(`/proc/${s.pid}`), 'berth-exec is gone and reaped');
    fs.rmSync(dirname(file), { recursive: true });
  });
});

function readStatus(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
