/**
 * Seccomp filters for containers. A policy is held in berth's own form (`SeccompPolicy`):
 * rules that apply only when a condition on the container holds (a capability in its bounding
 * set, the machine's architecture, the kernel's version). `toOciSeccomp` resolves a policy for
 * one container into the runtime spec's `linux.seccomp`, which runc compiles into BPF.
 *
 * Docker-format profiles (`--security-opt seccomp=<json>`; the docker CLI sends the file's
 * contents) are read by `fromDockerProfile`, with Docker's checks and messages. The default
 * policy, Docker's, lives in seccomp-default.ts.
 */
import * as os from 'node:os';
import { x32Supported } from '../store/syscalls';

/** The comparison operators of libseccomp, as the OCI spec names them. */
export type SeccompOp =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOp;
}

/** When a rule applies. Every listed part must hold. */
export interface SeccompCondition {
  /** Every one of these capabilities is in the container's bounding set. */
  caps?: string[];
  /** The machine's architecture (libseccomp's native names: amd64, arm64, s390x…) is one of these. */
  arches?: string[];
  /** The running kernel is at least this version ("4.8"). */
  minKernel?: string;
}

export interface SeccompRule {
  syscalls: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
  /** The rule applies only if this holds. */
  when?: SeccompCondition;
  /**
   * The rule is dropped if any part of this holds: the architecture is listed, *any* listed
   * capability is in the bounding set, or the kernel is at least minKernel (Docker's `excludes`).
   */
  unless?: SeccompCondition;
}

export interface SeccompPolicy {
  defaultAction: string;
  defaultErrnoRet?: number;
  /** Filter architectures by native architecture: the first is the native one, then its sub-architectures. */
  archMap?: Record<string, string[]>;
  /** Fixed filter architectures (a profile that lists `architectures`). */
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  rules: SeccompRule[];
}

/** The runtime spec's linux.seccomp. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

/** What a policy is resolved against: one container on one machine. */
export interface SeccompTarget {
  /** The container's bounding capabilities, CAP_-prefixed. */
  capabilities: string[];
  /** libseccomp's native architecture name (nativeArch()). */
  arch: string;
  /** The kernel release ("6.1.0-18-amd64"). */
  kernel: string;
  /**
   * Filter architectures this kernel cannot run at all (x32 without CONFIG_X86_X32_ABI): left
   * out, since no process can make their calls, and each one costs runc ~10 ms to compile.
   */
  unrunnableArches?: string[];
}

const NODE_TO_NATIVE: Record<string, string> = {
  x64: 'amd64', ia32: 'x86', arm: 'arm', arm64: 'arm64', loong64: 'loongarch64', mips64el: 'mipsel64',
  ppc: 'ppc', ppc64: 'ppc64le', riscv64: 'riscv64', s390: 's390', s390x: 's390x',
};

/** The native architecture names the filter architectures are keyed by. */
export const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  loongarch64: 'SCMP_ARCH_LOONGARCH64', mips64: 'SCMP_ARCH_MIPS64', mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64', mips3l64n32: 'SCMP_ARCH_MIPSEL64N32', mipsle: 'SCMP_ARCH_MIPSEL', ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64', s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

export function nativeArch(): string {
  return NODE_TO_NATIVE[process.arch] ?? process.arch;
}

export function thisMachine(capabilities: string[]): SeccompTarget {
  x32 ??= x32Supported();
  return { capabilities, arch: nativeArch(), kernel: os.release(), ...(x32 ? {} : { unrunnableArches: ['SCMP_ARCH_X32'] }) };
}

let x32: boolean | undefined;

function kernelAtLeast(kernel: string, min: string): boolean {
  const want = /^(\d+)\.(\d+)/.exec(min);
  if (!want) throw new Error(`invalid kernel version: ${min}`);
  const have = /^(\d+)\.(\d+)/.exec(kernel);
  if (!have) return false;
  const [hM, hm, wM, wm] = [have[1], have[2], want[1], want[2]].map(Number) as [number, number, number, number];
  return hM > wM || (hM === wM && hm >= wm);
}

function applies(rule: SeccompRule, t: SeccompTarget): boolean {
  const u = rule.unless;
  if (u) {
    if (u.arches?.includes(t.arch)) return false;
    if (u.caps?.some((c) => t.capabilities.includes(c))) return false;
    if (u.minKernel && kernelAtLeast(t.kernel, u.minKernel)) return false;
  }
  const w = rule.when;
  if (w) {
    if (w.arches && w.arches.length > 0 && !w.arches.includes(t.arch)) return false;
    if (w.caps && !w.caps.every((c) => t.capabilities.includes(c))) return false;
    if (w.minKernel && !kernelAtLeast(t.kernel, w.minKernel)) return false;
  }
  return true;
}

/** The filter for one container: the rules that apply to it, for this machine's architectures. */
export function toOciSeccomp(policy: SeccompPolicy, target: SeccompTarget): OciSeccomp {
  let architectures = policy.architectures;
  if (policy.archMap) architectures = policy.archMap[NATIVE_TO_SCMP[target.arch] ?? ''] ?? [];
  if (target.unrunnableArches) architectures = architectures?.filter((a) => !target.unrunnableArches!.includes(a));
  const syscalls = policy.rules
    .filter((r) => applies(r, target))
    .map((r) => ({
      names: r.syscalls,
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args && r.args.length > 0 ? { args: r.args } : {}),
    }));
  return {
    defaultAction: policy.defaultAction,
    ...(policy.defaultErrnoRet !== undefined ? { defaultErrnoRet: policy.defaultErrnoRet } : {}),
    ...(architectures && architectures.length > 0 ? { architectures } : {}),
    ...(policy.flags?.length ? { flags: policy.flags } : {}),
    ...(policy.listenerPath ? { listenerPath: policy.listenerPath } : {}),
    ...(policy.listenerMetadata ? { listenerMetadata: policy.listenerMetadata } : {}),
    ...(syscalls.length > 0 ? { syscalls } : {}),
  };
}

// ------------------------------------------------------------------ Docker's profile format

interface DockerCondition {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

interface DockerSyscall {
  name?: string;
  names?: string[] | null;
  action?: string;
  errnoRet?: number | null;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: DockerCondition | null;
  excludes?: DockerCondition | null;
}

interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number | null;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  flags?: string[] | null;
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: DockerSyscall[] | null;
}

export class SeccompProfileError extends Error {}

function condition(c: DockerCondition | null | undefined): SeccompCondition | undefined {
  if (!c) return undefined;
  const out: SeccompCondition = {};
  if (c.caps?.length) out.caps = c.caps;
  if (c.arches?.length) out.arches = c.arches;
  if (c.minKernel) {
    if (!/^\d+\.\d+/.test(c.minKernel)) throw new SeccompProfileError(`invalid kernel version: ${c.minKernel}`);
    out.minKernel = c.minKernel;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Reads a Docker-format profile (the JSON text). Returns null for a profile that filters
 * nothing (no default action and no syscalls), which Docker treats as no seccomp at all.
 */
export function fromDockerProfile(text: string): SeccompPolicy | null {
  let p: DockerProfile;
  try {
    p = JSON.parse(text) as DockerProfile;
  } catch (e) {
    throw new SeccompProfileError(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new SeccompProfileError('Decoding seccomp profile failed: json: cannot unmarshal into Go value of type seccomp.Seccomp');
  if (!p.defaultAction && !p.syscalls?.length) return null;
  if (p.architectures?.length && p.archMap?.length) {
    throw new SeccompProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const rules: SeccompRule[] = (p.syscalls ?? []).map((s) => {
    if (s.name && s.names?.length) {
      throw new SeccompProfileError("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    }
    const when = condition(s.includes);
    const unless = condition(s.excludes);
    return {
      syscalls: s.name ? [s.name] : (s.names ?? []),
      action: s.action ?? '',
      ...(s.errnoRet != null ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args } : {}),
      ...(when ? { when } : {}),
      ...(unless ? { unless } : {}),
    };
  });
  const policy: SeccompPolicy = { defaultAction: p.defaultAction ?? '', rules };
  if (p.defaultErrnoRet != null) policy.defaultErrnoRet = p.defaultErrnoRet;
  if (p.archMap?.length) {
    policy.archMap = Object.fromEntries(p.archMap.map((a) => [a.architecture, [a.architecture, ...(a.subArchitectures ?? [])]]));
  } else if (p.architectures?.length) {
    policy.architectures = p.architectures;
  }
  if (p.flags?.length) policy.flags = p.flags;
  if (p.listenerPath) policy.listenerPath = p.listenerPath;
  if (p.listenerMetadata) policy.listenerMetadata = p.listenerMetadata;
  return policy;
}
