/**
 * The seccomp loader: a container's init, and its runc execs, start through berth-exec
 * --in-place (native/berth-exec.c) instead of having runc apply `linux.seccomp` itself.
 *
 * Why: runc compiles the profile with libseccomp inside `runc init` on every create and every
 * `runc exec`: ~11 ms of the ~40 ms a create costs here with Docker's profile on x86_64 + x86
 * (the 32-bit half alone is ~8 ms). berth compiles each profile once (seccomp-bpf.ts, with
 * runc's ENOSYS prelude) into a file named by its digest, and the loader only loads it.
 *
 * How: the config runc gets has no `linux.seccomp`; its process is the loader with the
 * program's argv behind `--`; a read-only bind of the loader directory (the berth-exec binary
 * and the compiled programs) sits at /dev/.berth, on the container's own /dev tmpfs; and the
 * process's capability sets carry CAP_SYS_ADMIN (to load a filter without no-new-privileges)
 * and CAP_SETPCAP (to shrink the bounding set). runc does everything else as before (user,
 * cwd, rlimits, NNP, namespaces, cgroups); the loader then does what runc would have done last,
 * in runc's order: filter (before the capability calls when there is no NNP, else last), the
 * configured capability sets exactly, the PATH lookup, execve. The process the user sees has
 * the same credentials, filter and no-new-privileges bit as under runc alone.
 *
 * When runc stays in charge (`loaderRefusal`): no filter; a profile berth cannot compile
 * (notify); CAP_SYS_PTRACE in the bounding set (a traced loader would hand out CAP_SYS_ADMIN);
 * AppArmor or SELinux labels; a /dev that is not the container's own tmpfs; and a program the
 * host-side lookup cannot vouch for. runc checks the program at create, so a missing one fails
 * the start with runc's own message; the loader could only fail after it. So the loader is used
 * only when the lookup in the mounted rootfs finds the program on a path no container mount
 * covers; anything else (not found, on a volume, relative PATH entries) goes to runc.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot } from '../store/scoped-path';
import { BERTH_EXEC, capabilityMask } from './native-exec';
import type { OciMount, OciProcess, OciSpec } from './oci-spec';
import { ensureSeccompBpf } from './seccomp-bpf';

/** Where the loader directory is bound inside a container. */
export const LOADER_DIR = '/dev/.berth';
const LOADER_BIN = 'init';
/** The capabilities the loader needs and drops again. */
const LOADER_CAPS = ['CAP_SYS_ADMIN', 'CAP_SETPCAP'];

export type CapabilitySets = NonNullable<OciProcess['capabilities']> & { inheritable?: string[]; ambient?: string[] };

/** How a process is started through the loader: the compiled filter's file name in LOADER_DIR and its seccomp(2) flags. */
export interface LoaderFilter {
  bpf: string;
  flags: number;
}

/**
 * The host directory bound into containers: a copy of berth-exec (the data root may be on a
 * different file system than the package) and the compiled filters.
 */
export class SeccompLoader {
  private ready: boolean | undefined;

  constructor(readonly dir: string) {}

  /**
   * Copies berth-exec in (once per daemon, so an upgrade brings its own; the kernel copies, no
   * buffers in the daemon) and checks that it runs from there (a noexec mount would make every
   * container fail). False: not usable.
   */
  usable(): boolean {
    if (this.ready !== undefined) return this.ready;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
      const bin = join(this.dir, LOADER_BIN);
      const tmp = `${bin}.${process.pid}.tmp`;
      fs.copyFileSync(BERTH_EXEC, tmp);
      fs.chmodSync(tmp, 0o755);
      // Atomic: a container starting meanwhile runs the old copy or the new one, never half of one.
      fs.renameSync(tmp, bin);
      this.ready = runsFromHere(this.dir);
    } catch {
      this.ready = false;
    }
    return this.ready;
  }

  /**
   * The config runc gets for `spec` (its program found at `rootfs`), and the filter, or the
   * reason runc applies the filter itself.
   */
  apply(spec: OciSpec, rootfs: string): { config: OciSpec; filter: LoaderFilter } | { refused: string } {
    const refused = loaderRefusal(spec, rootfs);
    if (refused) return { refused };
    if (!this.usable()) return { refused: `the loader cannot run from ${this.dir}` };
    let filter: LoaderFilter;
    try {
      // Readable by all: the loader reads it as the container's user.
      const compiled = ensureSeccompBpf(this.dir, spec.linux.seccomp!, 0o644);
      filter = { bpf: compiled.path.slice(this.dir.length + 1), flags: compiled.flags };
    } catch (e) {
      return { refused: (e as Error).message };
    }
    const { seccomp: _, ...linux } = spec.linux;
    const config: OciSpec = {
      ...spec,
      process: loaderProcess(spec.process, filter),
      mounts: [...spec.mounts, { destination: LOADER_DIR, type: 'bind', source: this.dir, options: ['bind', 'ro', 'nosuid', 'nodev'] }],
      linux,
    };
    return { config, filter };
  }
}

/** `process` started through the loader: its argv behind the loader's, the loader's capabilities added. */
export function loaderProcess<P extends Pick<OciProcess, 'args' | 'noNewPrivileges'> & { capabilities?: CapabilitySets }>(process: P, filter: LoaderFilter): P {
  const caps: CapabilitySets = process.capabilities ?? { bounding: [], effective: [], permitted: [] };
  const args = [
    `${LOADER_DIR}/${LOADER_BIN}`, '--in-place',
    '--seccomp', `${LOADER_DIR}/${filter.bpf}`, '--seccomp-flags', String(filter.flags),
    '--cap-bounding', capabilityMask(caps.bounding), '--cap-effective', capabilityMask(caps.effective),
    '--cap-permitted', capabilityMask(caps.permitted), '--cap-inheritable', capabilityMask(caps.inheritable),
    '--cap-ambient', capabilityMask(caps.ambient),
    ...(process.noNewPrivileges ? ['--no-new-privs'] : []),
    '--', ...process.args,
  ];
  const plus = (...sets: (string[] | undefined)[]) => [...new Set([...sets.flatMap((s) => s ?? []), ...LOADER_CAPS])];
  // A non-root user keeps capabilities across runc's execve of the loader only as ambient ones
  // (which must be inheritable too): the whole permitted set goes there, so that the loader
  // can set the final sets exactly as runc would have had them at its own execve.
  const capabilities: CapabilitySets = {
    bounding: plus(caps.bounding), effective: plus(caps.effective), permitted: plus(caps.permitted),
    inheritable: plus(caps.inheritable, caps.permitted), ambient: plus(caps.ambient, caps.permitted),
  };
  return { ...process, args, capabilities };
}

/** Why runc must apply this spec's filter itself; null when the loader can. */
export function loaderRefusal(spec: OciSpec, rootfs: string): string | null {
  const p = spec.process as OciProcess & { apparmorProfile?: string; selinuxLabel?: string };
  if (!spec.linux.seccomp) return 'no seccomp filter';
  if (spec.linux.seccomp.listenerPath) return 'a seccomp listener';
  if (p.apparmorProfile || p.selinuxLabel) return 'an LSM label';
  if (p.capabilities?.bounding.includes('CAP_SYS_PTRACE')) return 'CAP_SYS_PTRACE';
  const dev = spec.mounts.filter((m) => m.destination === '/dev').pop();
  if (!dev || dev.type !== 'tmpfs') return '/dev is not a tmpfs';
  if (spec.mounts.some((m) => under(m.destination, LOADER_DIR))) return `a mount at ${LOADER_DIR}`;
  if (!programCertain(rootfs, p, spec.mounts)) return 'the program is not certainly found';
  return null;
}

/**
 * Whether runc's lookup of `process.args[0]` (Go's exec.LookPath with the process's PATH) will
 * find a program: true only when the file is found in the rootfs on a path that no container
 * mount covers, through absolute PATH entries. False means "runc decides", not "missing".
 */
export function programCertain(rootfs: string, process: Pick<OciProcess, 'args' | 'env'>, mounts: OciMount[]): boolean {
  const name = process.args[0];
  if (!name) return false;
  const covered = (path: string) => mounts.some((m) => m.destination !== '/' && under(path, m.destination));
  const runnable = (path: string): boolean => {
    let host;
    let crossed = false;
    try {
      host = resolveInRoot(rootfs, path, (seen) => {
        if (covered(seen)) crossed = true;
      });
    } catch {
      return false;
    }
    if (crossed) return false;
    try {
      const st = fs.statSync(host);
      return st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return name.startsWith('/') && runnable(name);
  let path: string | undefined;
  for (const e of process.env) if (e.startsWith('PATH=')) path = e.slice(5);
  if (path === undefined) return false;
  for (const dir of path.split(':')) {
    if (!dir.startsWith('/')) return false; // "." and relative entries: runc's rules, not ours
    if (runnable(`${dir}/${name}`)) return true;
  }
  return false;
}

function under(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return path === d || path.startsWith(`${d}/`);
}

/** Runs the copied loader once on the host, as `true`: proves the directory allows exec. */
function runsFromHere(dir: string): boolean {
  const r = spawnSync(join(dir, LOADER_BIN), ['--in-place', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}
