/**
 * The ENOSYS prelude runc puts in front of every container's filter, so execs get the same
 * filter as the container's init. A profile is an allow list written against the syscalls its
 * authors knew; a syscall newer than all of them is denied with the profile's default (EPERM),
 * which programs take as "forbidden" and fail on, where ENOSYS makes them fall back to an older
 * call (glibc does that for fchmodat2, clone3 …). So, per architecture of the profile: a syscall
 * number above the largest one the profile names returns ENOSYS; every other goes on to the
 * filter. Not added when the default action lets calls through, or is ENOSYS already.
 *
 * Classic BPF over struct seccomp_data: nr at offset 0, arch at offset 4.
 */
import { endianness } from 'node:os';

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 shares x86_64's AUDIT_ARCH; its syscall numbers carry this bit. */
export const X32_SYSCALL_BIT = 0x40000000;
const RET_ERRNO_ENOSYS = 0x00050000 | 38;

const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;

/** The largest syscall number a profile names, for one kernel architecture (AUDIT_ARCH_*). */
export interface ArchLimit {
  auditArch: number;
  /** For x86_64: the limit of plain x86_64 numbers (undefined: the profile has no x86_64). */
  max?: number;
  /** For x86_64 only: the limit of x32 numbers (they include X32_SYSCALL_BIT). */
  x32Max?: number;
}

type Target = string | number;
interface Insn {
  code: number;
  k: number | Target;
  jt?: Target;
  jf?: Target;
  label?: string;
}

/** The prelude as raw sock_filter bytes (host byte order), to put before the filter's program. */
export function enosysPrelude(limits: ArchLimit[]): Buffer {
  if (limits.length === 0) return Buffer.alloc(0);
  const p: Insn[] = [{ code: LD_W_ABS, k: 4 }];
  limits.forEach((l, i) => p.push({ code: JMP_JEQ_K, k: l.auditArch, jt: `arch${i}` }));
  // Any other architecture: the filter decides (its bad-arch action).
  p.push({ code: JMP_JA, k: 'filter' });
  limits.forEach((l, i) => {
    p.push({ code: LD_W_ABS, k: 0, label: `arch${i}` });
    if (l.auditArch === AUDIT_ARCH_X86_64) {
      // x32 numbers are tested against the x32 limit, plain ones against x86_64's; a mode the
      // profile does not cover goes to the filter untouched.
      p.push({ code: JMP_JSET_K, k: X32_SYSCALL_BIT, jt: `x32_${i}` });
      if (l.max !== undefined) p.push({ code: JMP_JGT_K, k: l.max, jt: 'enosys' });
      p.push({ code: JMP_JA, k: 'filter' });
      p.push({ code: JMP_JA, k: l.x32Max !== undefined ? `x32cmp${i}` : 'filter', label: `x32_${i}` });
      if (l.x32Max !== undefined) {
        p.push({ code: JMP_JGT_K, k: l.x32Max, jt: 'enosys', label: `x32cmp${i}` });
        p.push({ code: JMP_JA, k: 'filter' });
      }
    } else {
      if (l.max !== undefined) p.push({ code: JMP_JGT_K, k: l.max, jt: 'enosys' });
      p.push({ code: JMP_JA, k: 'filter' });
    }
  });
  p.push({ code: RET_K, k: RET_ERRNO_ENOSYS, label: 'enosys' });
  return assemble(p, 'filter');
}

/** Resolves labels into forward offsets; `end` names the instruction right after the prelude. */
function assemble(p: Insn[], end: string): Buffer {
  const at = new Map<string, number>([[end, p.length]]);
  p.forEach((ins, i) => ins.label && at.set(ins.label, i));
  const offset = (from: number, t: Target | undefined, max: number): number => {
    if (t === undefined) return 0;
    if (typeof t === 'number') return t;
    const to = at.get(t);
    if (to === undefined) throw new Error(`seccomp prelude: no label ${t}`);
    const off = to - from - 1;
    if (off < 0 || off > max) throw new Error(`seccomp prelude: jump to ${t} out of range (${off})`);
    return off;
  };
  const buf = Buffer.alloc(8 * p.length);
  const le = endianness() === 'LE';
  p.forEach((ins, i) => {
    const o = i * 8;
    const k = ins.code === JMP_JA ? offset(i, ins.k, 0xffffffff) : (ins.k as number);
    if (le) {
      buf.writeUInt16LE(ins.code, o);
      buf.writeUInt32LE(k >>> 0, o + 4);
    } else {
      buf.writeUInt16BE(ins.code, o);
      buf.writeUInt32BE(k >>> 0, o + 4);
    }
    buf.writeUInt8(offset(i, ins.jt, 255), o + 2);
    buf.writeUInt8(offset(i, ins.jf, 255), o + 3);
  });
  return buf;
}
