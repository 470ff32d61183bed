import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { OciMount, OciSpec } from './oci-spec';
import { LOADER_DIR, loaderProcess, loaderRefusal, programCertain, SeccompLoader } from './seccomp-loader';
import type { OciSeccomp } from './seccomp';

const scratch = fs.mkdtempSync(join(os.tmpdir(), 'berth-loader-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A rootfs: /bin/tool (executable), /bin/data (not), /usr/bin -> ../bin, /vol/tool, /esc -> /vol. */
function rootfs(): string {
  const root = fs.mkdtempSync(join(scratch, 'root-'));
  fs.mkdirSync(join(root, 'bin'));
  fs.mkdirSync(join(root, 'usr'));
  fs.mkdirSync(join(root, 'vol'));
  fs.writeFileSync(join(root, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(join(root, 'bin', 'data'), 'x', { mode: 0o644 });
  fs.writeFileSync(join(root, 'vol', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.mkdirSync(join(root, 'bin', 'dir'), { mode: 0o755 });
  fs.symlinkSync('../bin', join(root, 'usr', 'bin'));
  fs.symlinkSync('/vol/tool', join(root, 'bin', 'esc'));
  fs.symlinkSync('/../../../../bin/tool', join(root, 'bin', 'climb'));
  return root;
}

const mounts: OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
  { destination: '/vol', type: 'bind', source: '/somewhere' },
];
const proc = (args: string[], path = '/usr/bin:/bin') => ({ args, env: [`PATH=${path}`] });

describe('programCertain: vouches only for what runc will find on a path no mount covers', () => {
  const root = rootfs();
  it('finds absolute paths and PATH entries, through symlinks inside the rootfs', () => {
    assert.equal(programCertain(root, proc(['/bin/tool']), mounts), true);
    assert.equal(programCertain(root, proc(['tool']), mounts), true);
    assert.equal(programCertain(root, proc(['tool'], '/nowhere:/usr/bin'), mounts), true);
    // ".." and absolute links stay in the root: /../../bin/tool is /bin/tool.
    assert.equal(programCertain(root, proc(['/bin/climb']), mounts), true);
  });
  it('is not sure of missing, non-executable or directory programs', () => {
    assert.equal(programCertain(root, proc(['/bin/none']), mounts), false);
    assert.equal(programCertain(root, proc(['none']), mounts), false);
    assert.equal(programCertain(root, proc(['/bin/data']), mounts), false);
    assert.equal(programCertain(root, proc(['/bin/dir']), mounts), false);
    assert.equal(programCertain(root, proc([]), mounts), false);
  });
  it('is not sure of anything a container mount covers, even through a symlink', () => {
    assert.equal(programCertain(root, proc(['/vol/tool']), mounts), false);
    assert.equal(programCertain(root, proc(['/bin/esc']), mounts), false);
    assert.equal(programCertain(root, proc(['tool'], '/vol'), mounts), false);
    // A mount over /bin hides the image's /bin/tool.
    assert.equal(programCertain(root, proc(['/usr/bin/tool']), [...mounts, { destination: '/bin', type: 'tmpfs', source: 'tmpfs' }]), false);
  });
  it('leaves relative names, relative PATH entries and a missing PATH to runc', () => {
    assert.equal(programCertain(root, proc(['./bin/tool']), mounts), false);
    assert.equal(programCertain(root, proc(['tool'], '.:/bin'), mounts), false);
    assert.equal(programCertain(root, proc(['tool'], ':/bin'), mounts), false);
    assert.equal(programCertain(root, { args: ['tool'], env: [] }, mounts), false);
    // The last PATH wins, as in runc's environment.
    assert.equal(programCertain(root, { args: ['tool'], env: ['PATH=/bin', 'PATH=.'] }, mounts), false);
  });
});

describe('loaderProcess', () => {
  it('puts the loader in front with the final sets, and lends CAP_SYS_ADMIN and CAP_SETPCAP', () => {
    const p = loaderProcess(
      { args: ['sh', '-c', 'x'], noNewPrivileges: true, capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } },
      { bpf: 'seccomp-abc.bpf', flags: 4 },
    );
    assert.deepEqual(p.args, [
      `${LOADER_DIR}/init`, '--in-place', '--seccomp', `${LOADER_DIR}/seccomp-abc.bpf`, '--seccomp-flags', '4',
      '--cap-bounding', '21', '--cap-effective', '20', '--cap-permitted', '20', '--cap-inheritable', '0', '--cap-ambient', '0',
      '--no-new-privs', '--', 'sh', '-c', 'x',
    ]);
    const lent = ['CAP_SYS_ADMIN', 'CAP_SETPCAP'];
    assert.deepEqual(p.capabilities, {
      bounding: ['CAP_KILL', 'CAP_CHOWN', ...lent], effective: ['CAP_KILL', ...lent], permitted: ['CAP_KILL', ...lent],
      // The permitted set rides along as ambient, so a non-root user's loader still holds it.
      inheritable: ['CAP_KILL', ...lent], ambient: ['CAP_KILL', ...lent],
    });
  });
});

function spec(over: Partial<OciSpec['linux']> = {}, extraMounts: OciMount[] = []): OciSpec {
  const seccomp: OciSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read', 'write', 'exit_group', 'execve'], action: 'SCMP_ACT_ALLOW' }] } as OciSeccomp;
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/tool'], env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: [], effective: [], permitted: [] }, noNewPrivileges: false },
    root: { path: '/r', readonly: false },
    hostname: 'h',
    mounts: [...mounts, ...extraMounts],
    linux: { namespaces: [], resources: { devices: [] }, cgroupsPath: '/x', seccomp, ...over },
  };
}

describe('loaderRefusal', () => {
  const root = rootfs();
  it('takes the common case and refuses what only runc can do', () => {
    assert.equal(loaderRefusal(spec(), root), null);
    assert.equal(loaderRefusal(spec({ seccomp: undefined }), root), 'no seccomp filter');
    const ptrace = spec();
    ptrace.process.capabilities.bounding.push('CAP_SYS_PTRACE');
    assert.equal(loaderRefusal(ptrace, root), 'CAP_SYS_PTRACE');
    assert.equal(loaderRefusal(spec({}, [{ destination: '/dev', type: 'bind', source: '/dev' }]), root), '/dev is not a tmpfs');
    assert.equal(loaderRefusal(spec({}, [{ destination: `${LOADER_DIR}/x`, type: 'tmpfs', source: 'tmpfs' }]), root), `a mount at ${LOADER_DIR}`);
    const missing = spec();
    missing.process.args = ['/bin/none'];
    assert.equal(loaderRefusal(missing, root), 'the program is not certainly found');
  });
});

describe('SeccompLoader', () => {
  it('keeps a runnable copy of berth-exec and one world-readable program per profile', () => {
    const dir = join(scratch, 'loader');
    const loader = new SeccompLoader(dir);
    assert.equal(loader.usable(), true);
    // --in-place on the host: no filter, no capability change, just the PATH lookup and execve.
    assert.equal(execFileSync(join(dir, 'init'), ['--in-place', '--', 'echo', 'in place']).toString(), 'in place\n');
    const root = rootfs();
    const a = loader.apply(spec(), root);
    assert.ok('config' in a);
    assert.equal(a.config.linux.seccomp, undefined);
    assert.equal(a.config.process.args[0], `${LOADER_DIR}/init`);
    assert.deepEqual(a.config.mounts.at(-1), { destination: LOADER_DIR, type: 'bind', source: dir, options: ['bind', 'ro', 'nosuid', 'nodev'] });
    const file = join(dir, a.filter.bpf);
    assert.equal(fs.statSync(file).mode & 0o777, 0o644);
    const b = loader.apply(spec(), root);
    assert.ok('config' in b);
    assert.equal(b.filter.bpf, a.filter.bpf);
    assert.deepEqual(loader.apply(spec({ seccomp: undefined }), root), { refused: 'no seccomp filter' });
  });
});
