import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { BERTH_EXEC } from './native-exec';
import { DEFAULT_CAPABILITIES } from './oci-spec';
import { type OciSeccomp, thisMachine, toOciSeccomp } from './seccomp';
import { actionValue, archLimits, ensureSeccompBpf, filterFlags } from './seccomp-bpf';
import { AUDIT_ARCH_X86_64 } from './seccomp-enosys';
import { DEFAULT_SECCOMP } from './seccomp-default';

const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-seccomp-bpf-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a shell script on the host under berth-exec with the compiled filter. */
function shUnder(seccomp: OciSeccomp | null, script: string, extra: string[] = []) {
  const args = [...extra];
  if (seccomp) {
    const bpf = ensureSeccompBpf(dir, seccomp);
    args.push('--seccomp', bpf.path, '--seccomp-flags', String(bpf.flags));
  }
  const r = spawnSync(BERTH_EXEC, [...args, '--', '/bin/sh', '-c', script], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const allowBut = (...syscalls: NonNullable<OciSeccomp['syscalls']>): OciSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });

describe('compiling a profile with libseccomp', () => {
  it('maps actions as runc does: ERRNO and TRACE default to EPERM', () => {
    assert.equal(actionValue('SCMP_ACT_ALLOW'), 0x7fff0000);
    assert.equal(actionValue('SCMP_ACT_ERRNO'), 0x00050001);
    assert.equal(actionValue('SCMP_ACT_ERRNO', 38), 0x00050026);
    assert.equal(actionValue('SCMP_ACT_TRACE'), 0x7ff00001);
    assert.equal(actionValue('SCMP_ACT_KILL'), 0);
    assert.equal(actionValue('SCMP_ACT_KILL_PROCESS'), 0x80000000);
    assert.throws(() => actionValue('SCMP_ACT_NOTIFY'), /not supported/);
    assert.throws(() => actionValue('SCMP_ACT_MAYBE'), /invalid seccomp action/);
    assert.equal(filterFlags({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }), 6);
  });

  it("compiles Docker's default profile once per bundle; a different profile gets its own file", () => {
    const oci = toOciSeccomp(DEFAULT_SECCOMP, thisMachine(DEFAULT_CAPABILITIES));
    const a = ensureSeccompBpf(dir, oci);
    const size = fs.statSync(a.path).size;
    assert.ok(size > 800 && size % 8 === 0, `a BPF program of whole instructions (${size} bytes)`);
    const mtime = fs.statSync(a.path).mtimeMs;
    assert.deepEqual(ensureSeccompBpf(dir, oci), a);
    assert.equal(fs.statSync(a.path).mtimeMs, mtime, 'not compiled again');
    const b = ensureSeccompBpf(dir, allowBut({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }));
    assert.notEqual(b.path, a.path);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  });

  it('refuses notify listeners and unknown architectures', () => {
    assert.throws(() => ensureSeccompBpf(dir, allowBut({ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' })), /not supported/);
    assert.throws(() => ensureSeccompBpf(dir, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }), /architecture/);
  });
});

describe('the compiled filter, loaded by berth-exec on the host', () => {
  it('denies mkdir with EPERM and nothing else; unknown syscall names are skipped', () => {
    const target = join(dir, 'made');
    const denied = shUnder(allowBut({ names: ['mkdir', 'mkdirat', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO' }),
      `grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir ${target}; echo mkdir=$?; ls / >/dev/null; echo ls=$?`);
    assert.match(denied.stdout, /^Seccomp:\t2$/m);
    assert.match(denied.stdout, /^NoNewPrivs:\t0$/m, 'loading the filter does not force no_new_privs');
    assert.match(denied.stdout, /mkdir=1\nls=0/);
    assert.match(denied.stderr, /Operation not permitted/);
    assert.equal(fs.existsSync(target), false);
    const free = shUnder(null, `mkdir ${target} && echo made; grep '^Seccomp:' /proc/self/status`);
    assert.equal(free.stdout, 'made\nSeccomp:\t0\n');
  });

  it('returns the errno the rule names', () => {
    const r = shUnder(allowBut({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }), `mkdir ${join(dir, 'nospace')}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No space left on device/);
  });

  it('matches arguments; two conditions on one argument are either-or, as in runc', () => {
    const sigZero = { index: 1, value: 0, op: 'SCMP_CMP_EQ' as const };
    const one = shUnder(allowBut({ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [sigZero] }),
      'kill -0 $$; echo zero=$?; kill -WINCH $$; echo winch=$?');
    assert.match(one.stdout, /zero=1\nwinch=0/);
    const either = shUnder(allowBut({ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [sigZero, { index: 1, value: 28, op: 'SCMP_CMP_EQ' }] }),
      'kill -0 $$; echo zero=$?; kill -WINCH $$; echo winch=$?; kill -CONT $$; echo cont=$?');
    assert.match(either.stdout, /zero=1\nwinch=1\ncont=0/);
    const masked = shUnder(allowBut({ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0x1c, valueTwo: 0x1c, op: 'SCMP_CMP_MASKED_EQ' }] }),
      'kill -WINCH $$; echo winch=$?; kill -CONT $$; echo cont=$?');
    assert.match(masked.stdout, /winch=1\ncont=0/);
  });

  it('syscalls newer than every one the profile names get ENOSYS (as under runc), known ones the default', { skip: os.arch() !== 'x64' }, () => {
    const oci = toOciSeccomp(DEFAULT_SECCOMP, thisMachine(DEFAULT_CAPABILITIES));
    const limits = archLimits(oci);
    const native = limits.find((l) => l.auditArch === AUDIT_ARCH_X86_64)!;
    // clone3 (435) is named by Docker's profile; the limit is at least that.
    assert.ok(native.max! >= 435, JSON.stringify(limits));
    // Raw syscalls from Python: one past the profile's newest, one far beyond any table, and
    // acct (163), which the profile denies without CAP_SYS_PACCT.
    const py = (nr: number) => `import ctypes; c = ctypes.CDLL(None, use_errno=True); r = c.syscall(${nr}, 0, 0, 0); print(${nr}, r, ctypes.get_errno())`;
    const script = [native.max! + 1, 1000, 163].map((nr) => `python3 -c '${py(nr)}'`).join('; ');
    const r = shUnder(oci, script, ['--cap-bounding', 'a80425fb', '--cap-effective', 'a80425fb', '--cap-permitted', 'a80425fb']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${native.max! + 1} -1 38\n1000 -1 38\n163 -1 1\n`);
    // A profile that allows by default gets no prelude: unknown numbers reach the kernel (ENOSYS from it).
    assert.deepEqual(archLimits(allowBut({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' })), []);
  });

  it("Docker's default profile with Docker's capabilities: ordinary programs run, namespaces cannot be made", () => {
    const oci = toOciSeccomp(DEFAULT_SECCOMP, thisMachine(DEFAULT_CAPABILITIES));
    const caps = 'a80425fb';
    for (const nnp of [[], ['--no-new-privs']]) {
      const r = shUnder(oci, "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; unshare -n true; echo unshare=$?",
        ['--cap-bounding', caps, '--cap-effective', caps, '--cap-permitted', caps, ...nnp]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Seccomp:\t2$/m);
      assert.match(r.stdout, new RegExp(`^NoNewPrivs:\\t${nnp.length}$`, 'm'));
      assert.match(r.stdout, /^CapEff:\t00000000a80425fb$/m);
      assert.match(r.stdout, /unshare=1/);
    }
  });
});
