/**
 * Compiles a container's `linux.seccomp` into the raw BPF program the kernel loads, with the
 * system's libseccomp (Debian's libseccomp.so.2, runc's own dependency) through koffi, the way
 * runc 1.1 builds its filter (libcontainer/seccomp/seccomp_linux.go): the native architecture
 * plus the listed ones, no-new-privileges left to the caller, rules whose action is the default
 * skipped, syscall names this libseccomp does not know skipped, conditions on one argument
 * repeated split into one rule each. berth-exec loads the result (native/berth-exec.c).
 *
 * runc's ENOSYS prelude for syscalls newer than the profile goes in front (seccomp-enosys.ts).
 * Not reproduced: SCMP_ACT_NOTIFY listeners. A profile using notify is refused (use runc for it).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../errors';
import type { OciSeccomp, SeccompArg } from './seccomp';
import { type ArchLimit, AUDIT_ARCH_X86_64, enosysPrelude } from './seccomp-enosys';

/** The slice of koffi's API used here (its bundled types are ESM-only, this build is CommonJS). */
type NativeFn = (...args: unknown[]) => unknown;
interface Koffi {
  load(path: string): { func(signature: string): NativeFn };
}

interface LibSeccomp {
  init: NativeFn;
  release: NativeFn;
  archAdd: NativeFn;
  archResolve: NativeFn;
  syscallResolve: NativeFn;
  syscallResolveArch: NativeFn;
  ruleAdd: NativeFn;
  attrSet: NativeFn;
  exportBpf: NativeFn;
}

let lib: LibSeccomp | undefined;

function libseccomp(): LibSeccomp {
  if (lib) return lib;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as Koffi;
  let so: ReturnType<Koffi['load']>;
  try {
    so = koffi.load('libseccomp.so.2');
  } catch (e) {
    throw new BerthError('internal', `Cannot compile seccomp profile: libseccomp.so.2 is not installed (${(e as Error).message})`);
  }
  lib = {
    init: so.func('void *seccomp_init(uint32_t def_action)'),
    release: so.func('void seccomp_release(void *ctx)'),
    archAdd: so.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archResolve: so.func('uint32_t seccomp_arch_resolve_name(const char *arch_name)'),
    syscallResolve: so.func('int seccomp_syscall_resolve_name(const char *name)'),
    syscallResolveArch: so.func('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    ruleAdd: so.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)'),
    attrSet: so.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    exportBpf: so.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
  return lib;
}

const EPERM = 1;
const EEXIST = 17;
const SCMP_FLTATR_CTL_NNP = 3;
const SCMP_FLTATR_CTL_OPTIMIZE = 8;
/** libseccomp's binary-tree layout (level 2) instead of its default linear one. */
const OPTIMIZE_BINARY_TREE = 2;
const NR_SCMP_ERROR = -1;

/** The runtime spec's flag names → seccomp(2) SECCOMP_FILTER_FLAG_* bits. */
const FILTER_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0, // one thread loads it and then execs: nothing to synchronise
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

const OPS: Record<SeccompArg['op'], number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

/** libseccomp's action value for a rule (runc's getAction: ERRNO and TRACE default to EPERM). */
export function actionValue(action: string, errnoRet?: number): number {
  const ret = (errnoRet ?? EPERM) & 0xffff;
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | ret) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | ret) >>> 0;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY':
      throw new BerthError('invalid', 'seccomp notify (SCMP_ACT_NOTIFY) is not supported by berth-exec');
    default:
      throw new BerthError('invalid', `invalid seccomp action: ${action}`);
  }
}

/** seccomp(2) flags for the profile's `flags`. */
export function filterFlags(seccomp: OciSeccomp): number {
  let flags = 0;
  for (const f of seccomp.flags ?? []) {
    const bit = FILTER_FLAGS[f];
    if (bit === undefined) throw new BerthError('invalid', `seccomp flag ${f} is not supported`);
    flags |= bit;
  }
  return flags;
}

/** `struct scmp_arg_cmp[]`: { unsigned int arg; enum scmp_compare op; uint64 datum_a, datum_b }. */
function encodeArgs(args: SeccompArg[]): Buffer {
  const buf = Buffer.alloc(24 * args.length);
  const le = endianness() === 'LE';
  args.forEach((a, i) => {
    const op = OPS[a.op];
    if (op === undefined) throw new BerthError('invalid', `invalid seccomp operator: ${a.op}`);
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new BerthError('invalid', `invalid seccomp argument index: ${a.index}`);
    const off = i * 24;
    const u64 = (v: number | undefined) => BigInt.asUintN(64, BigInt(Math.trunc(v ?? 0)));
    if (le) {
      buf.writeUInt32LE(a.index, off);
      buf.writeInt32LE(op, off + 4);
      buf.writeBigUInt64LE(u64(a.value), off + 8);
      buf.writeBigUInt64LE(u64(a.valueTwo), off + 16);
    } else {
      buf.writeUInt32BE(a.index, off);
      buf.writeInt32BE(op, off + 4);
      buf.writeBigUInt64BE(u64(a.value), off + 8);
      buf.writeBigUInt64BE(u64(a.valueTwo), off + 16);
    }
  });
  return buf;
}

function check(rc: number, what: string): void {
  if (rc < 0) throw new BerthError('internal', `Cannot compile seccomp profile: ${what}: errno ${-rc}`);
}

/** Writes the BPF program for `seccomp` to the open file `fd`. */
export function compileSeccomp(seccomp: OciSeccomp, fd: number): void {
  const s = libseccomp();
  if (seccomp.listenerPath) throw new BerthError('invalid', 'seccomp listenerPath is not supported by berth-exec');
  const defaultAction = actionValue(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const ctx = s.init(defaultAction);
  if (!ctx) throw new BerthError('internal', 'Cannot compile seccomp profile: seccomp_init failed');
  try {
    for (const arch of seccomp.architectures ?? []) {
      const token = s.archResolve(arch.replace(/^SCMP_ARCH_/, '').toLowerCase()) as number;
      if (!token) throw new BerthError('invalid', `error validating Seccomp architecture: ${arch} is unknown`);
      const rc = s.archAdd(ctx, token) as number;
      if (rc !== -EEXIST) check(rc, `adding architecture ${arch}`);
    }
    check(s.attrSet(ctx, SCMP_FLTATR_CTL_NNP, 0) as number, 'unsetting no_new_privs');
    check(s.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, OPTIMIZE_BINARY_TREE) as number, 'choosing the binary-tree layout');
    for (const rule of seccomp.syscalls ?? []) {
      const action = actionValue(rule.action, rule.errnoRet);
      if (action === defaultAction) continue;
      const args = rule.args ?? [];
      const perIndex = new Map<number, number>();
      for (const a of args) perIndex.set(a.index, (perIndex.get(a.index) ?? 0) + 1);
      // Two conditions on one argument cannot be one libseccomp rule: one rule per condition.
      const groups = [...perIndex.values()].some((n) => n > 1) ? args.map((a) => [a]) : [args];
      for (const name of rule.names) {
        const nr = s.syscallResolve(name) as number;
        if (nr === NR_SCMP_ERROR) continue; // unknown to this libseccomp: runc skips it too
        for (const g of groups) {
          check(s.ruleAdd(ctx, action, nr, g.length, g.length ? encodeArgs(g) : null) as number, `adding a rule for ${name}`);
        }
      }
    }
    check(s.exportBpf(ctx, fd) as number, 'exporting the BPF program');
  } finally {
    s.release(ctx);
  }
}

/** libseccomp's token for x32, which the kernel reports as x86_64 (see X32_SYSCALL_BIT). */
const SCMP_ARCH_X32 = 0x4000003e;
const ENOSYS = 38;

/**
 * Per architecture the profile lists, the largest syscall number it names (runc's rule: any
 * rule, whatever its action; names unknown to the architecture skipped); none when the default
 * action lets calls through or already answers ENOSYS.
 */
export function archLimits(seccomp: OciSeccomp): ArchLimit[] {
  const def = seccomp.defaultAction;
  if (def === 'SCMP_ACT_ALLOW' || def === 'SCMP_ACT_LOG' || def === 'SCMP_ACT_TRACE') return [];
  if (def === 'SCMP_ACT_ERRNO' && seccomp.defaultErrnoRet === ENOSYS) return [];
  const s = libseccomp();
  const names = [...new Set((seccomp.syscalls ?? []).flatMap((r) => r.names))];
  const byAudit = new Map<number, ArchLimit>();
  for (const arch of seccomp.architectures ?? []) {
    const token = s.archResolve(arch.replace(/^SCMP_ARCH_/, '').toLowerCase()) as number;
    if (!token) continue;
    let max = -1;
    for (const n of names) max = Math.max(max, s.syscallResolveArch(token, n) as number);
    if (max < 0) continue;
    const x32 = token === SCMP_ARCH_X32;
    const auditArch = x32 ? AUDIT_ARCH_X86_64 : token >>> 0;
    const limit = byAudit.get(auditArch) ?? { auditArch };
    if (x32) limit.x32Max = max;
    else limit.max = max;
    byAudit.set(auditArch, limit);
  }
  return [...byAudit.values()];
}

export interface SeccompBpf {
  /** The raw BPF program (struct sock_filter[]), for berth-exec --seccomp. */
  path: string;
  /** seccomp(2) flags, for berth-exec --seccomp-flags. */
  flags: number;
}

/**
 * The container's filter, compiled once and kept beside its bundle. The file name carries a
 * digest of the profile, so a changed profile never meets a stale program; it is written to a
 * temp name and renamed, so concurrent callers and crashes never see half a file.
 */
export function ensureSeccompBpf(bundleDir: string, seccomp: OciSeccomp, mode = 0o600): SeccompBpf {
  const flags = filterFlags(seccomp);
  // "2": programs with the ENOSYS prelude; files from before it are not reused.
  const digest = createHash('sha256').update('2').update(JSON.stringify(seccomp)).digest('hex').slice(0, 16);
  const path = join(bundleDir, `seccomp-${digest}.bpf`);
  if (fs.existsSync(path)) return { path, flags };
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.fchmodSync(fd, mode); // whatever the umask
    // libseccomp writes its program at the file's offset: after the prelude.
    fs.writeSync(fd, enosysPrelude(archLimits(seccomp)));
    compileSeccomp(seccomp, fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { path, flags };
}
