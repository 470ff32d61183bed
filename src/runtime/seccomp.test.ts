import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromDockerProfile, type OciSeccomp, SeccompProfileError, toOciSeccomp } from './seccomp';
import { DEFAULT_SECCOMP } from './seccomp-default';
import { DEFAULT_CAPABILITIES } from './oci-spec';

const AMD64 = { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '6.1.0-18-amd64' };
const rulesFor = (s: OciSeccomp, name: string) => (s.syscalls ?? []).filter((r) => r.names.includes(name));

describe('the default policy', () => {
  const oci = toOciSeccomp(DEFAULT_SECCOMP, AMD64);

  it('denies with EPERM by default, for x86_64 and its sub-architectures', () => {
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(oci.defaultErrnoRet, 1);
    assert.deepEqual(oci.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('allows ordinary syscalls and arch_prctl on amd64, not the privileged ones', () => {
    for (const n of ['read', 'write', 'execve', 'openat', 'arch_prctl', 'modify_ldt', 'ptrace']) assert.ok(rulesFor(oci, n).length > 0, n);
    for (const n of ['mount', 'unshare', 'setns', 'reboot', 'init_module', 'bpf', 'open_by_handle_at', 'kexec_load', 'sync_file_range2']) {
      assert.deepEqual(rulesFor(oci, n), [], n);
    }
  });

  it('restricts clone to no namespace flags and makes clone3 fail with ENOSYS without CAP_SYS_ADMIN', () => {
    assert.deepEqual(rulesFor(oci, 'clone'), [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    assert.deepEqual(rulesFor(oci, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  });

  it('with CAP_SYS_ADMIN: mount, unshare, and clone without conditions', () => {
    const admin = toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
    for (const n of ['mount', 'unshare', 'setns', 'umount2']) assert.ok(rulesFor(admin, n).length > 0, n);
    assert.deepEqual(rulesFor(admin, 'clone').map((r) => r.args), [undefined]);
    assert.equal(rulesFor(admin, 'clone3').every((r) => r.action === 'SCMP_ACT_ALLOW'), true);
  });

  it('only the harmless personalities, and no AF_ALG or AF_VSOCK sockets', () => {
    assert.deepEqual(rulesFor(oci, 'personality').map((r) => r.args![0]!.value), [0, 8, 0x20000, 0x20008, 0xffffffff]);
    assert.deepEqual(rulesFor(oci, 'socket').map((r) => [r.args![0]!.op, r.args![0]!.value]), [['SCMP_CMP_LT', 38], ['SCMP_CMP_EQ', 39], ['SCMP_CMP_GT', 40]]);
  });

  it('follows the architecture: arm64 gets ARM sub-arch and arm syscalls, not arch_prctl; s390x clone checks argument 1', () => {
    const arm = toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, arch: 'arm64' });
    assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.ok(rulesFor(arm, 'set_tls').length > 0);
    assert.deepEqual(rulesFor(arm, 'arch_prctl'), []);
    const s390 = toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, arch: 's390x' });
    assert.deepEqual(rulesFor(s390, 'clone').map((r) => r.args![0]!.index), [1]);
  });

  it('ptrace needs a 4.8 kernel or CAP_SYS_PTRACE', () => {
    const old = toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, kernel: '4.4.0' });
    assert.deepEqual(rulesFor(old, 'ptrace'), []);
    const oldPtrace = toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, kernel: '4.4.0', capabilities: ['CAP_SYS_PTRACE'] });
    assert.equal(rulesFor(oldPtrace, 'ptrace').length, 1);
  });
});

describe('Docker-format profiles', () => {
  it('reads names/name, archMap, includes/excludes with caps, arches and minKernel, errnoRet', () => {
    const policy = fromDockerProfile(JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: null }],
      syscalls: [
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod', 'fchmod'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_FOWNER'] } },
        { names: ['reboot'], action: 'SCMP_ACT_KILL', includes: { arches: ['arm64'] } },
        { names: ['kill'], action: 'SCMP_ACT_LOG', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }], includes: { minKernel: '99.0' } },
      ],
    }))!;
    const oci = toOciSeccomp(policy, AMD64);
    assert.deepEqual(oci, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      // chmod is dropped: the default set holds CAP_FOWNER; reboot is arm64-only; kill needs kernel 99.
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    });
    const noFowner = toOciSeccomp(policy, { ...AMD64, capabilities: ['CAP_CHOWN'], arch: 'arm64', kernel: '99.1' });
    assert.deepEqual(noFowner.architectures, ['SCMP_ARCH_AARCH64']);
    assert.deepEqual(noFowner.syscalls!.map((s) => s.names[0]), ['mkdir', 'chmod', 'reboot', 'kill']);
    assert.deepEqual(noFowner.syscalls![3]!.args, [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }]);
  });

  it('keeps fixed architectures and needs all included caps', () => {
    const policy = fromDockerProfile('{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["acct"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_PACCT","CAP_SYS_ADMIN"]}}]}')!;
    assert.deepEqual(toOciSeccomp(policy, { ...AMD64, capabilities: ['CAP_SYS_PACCT'] }), { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'] });
    assert.equal(toOciSeccomp(policy, { ...AMD64, capabilities: ['CAP_SYS_PACCT', 'CAP_SYS_ADMIN'] }).syscalls!.length, 1);
  });

  it("refuses what Docker refuses, with Docker's messages", () => {
    assert.throws(() => fromDockerProfile('{"defaultAction": '), (e) => e instanceof SeccompProfileError && /^Decoding seccomp profile failed: /.test(e.message));
    assert.throws(() => fromDockerProfile('{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}'),
      /both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'/);
    assert.throws(() => fromDockerProfile('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}'),
      /both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'/);
  });

  it('leaves out architectures the kernel cannot run', () => {
    assert.deepEqual(toOciSeccomp(DEFAULT_SECCOMP, AMD64).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(toOciSeccomp(DEFAULT_SECCOMP, { ...AMD64, unrunnableArches: ['SCMP_ARCH_X32'] }).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });

  it('an empty profile means no filter', () => {
    assert.equal(fromDockerProfile('{}'), null);
  });
});
