/**
 * The resource and security parts of a container's HostConfig: their types, Docker's
 * validation (with its messages) and defaults at create, the merge of POST /containers/{id}/update,
 * and what they mean for the runtime (the cgroup resources, capabilities, security options).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { isIP } from 'node:net';
import { BerthError, invalid } from '../errors';
import { availableCapabilities, CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES, type OciResources } from '../runtime/oci-spec';
import { fromDockerProfile, SeccompProfileError } from '../runtime/seccomp';
import { mergeTmpfsOptions } from '../runtime/oci-spec';

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** The fields of Docker's container.Resources that berth applies (the rest are kept and echoed). */
export interface ResourceSettings {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  OomKillDisable?: boolean | null;
  Ulimits?: Ulimit[] | null;
  Devices?: DeviceMapping[] | null;
}

export interface SecuritySettings {
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string> | null;
  Init?: boolean | null;
  Sysctls?: Record<string, string> | null;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
}

export type HostSettings = ResourceSettings & SecuritySettings;

/** Docker's floor for memory limits: room for the container to start at all. */
const MIN_MEMORY = 6 * 1024 * 1024;
/** The CFS period Docker uses for --cpus. */
export const CPU_PERIOD = 100_000;

// ------------------------------------------------------------------------- field types

const NUMBER_FIELDS = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod',
] as const;

function unmarshalError(field: string, v: unknown, goType: string): BerthError {
  const kind = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v;
  return invalid(`json: cannot unmarshal ${kind} into Go struct field HostConfig.HostConfig.${field} of type ${goType}`);
}

function checkTypes(hc: Record<string, unknown>): void {
  for (const k of NUMBER_FIELDS) {
    const v = hc[k];
    if (v != null && (typeof v !== 'number' || !Number.isInteger(v))) throw unmarshalError(k, v, 'int64');
  }
  for (const k of ['PidsLimit', 'MemorySwappiness'] as const) {
    const v = hc[k];
    if (v != null && (typeof v !== 'number' || !Number.isInteger(v))) throw unmarshalError(k, v, 'int64');
  }
  for (const k of ['CpusetCpus', 'CpusetMems'] as const) {
    const v = hc[k];
    if (v != null && typeof v !== 'string') throw unmarshalError(k, v, 'string');
  }
  for (const k of ['Privileged', 'Init', 'OomKillDisable'] as const) {
    const v = hc[k];
    if (v != null && typeof v !== 'boolean') throw unmarshalError(k, v, 'bool');
  }
  for (const k of ['CapAdd', 'CapDrop', 'SecurityOpt', 'ExtraHosts', 'Dns', 'DnsSearch', 'DnsOptions'] as const) {
    const v = hc[k];
    if (v != null && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) throw unmarshalError(k, v, k.startsWith('Cap') ? 'strslice.StrSlice' : '[]string');
  }
  for (const k of ['Tmpfs', 'Sysctls'] as const) {
    const v = hc[k];
    if (v != null && (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))) {
      throw unmarshalError(k, v, 'map[string]string');
    }
  }
  for (const k of ['Ulimits', 'Devices'] as const) {
    const v = hc[k];
    if (v != null && (!Array.isArray(v) || !v.every((x) => x && typeof x === 'object'))) throw unmarshalError(k, v, k === 'Ulimits' ? '[]*container.Ulimit' : '[]container.DeviceMapping');
  }
}

// ------------------------------------------------------------------------- cpusets

/** Docker's parsers.ParseUintList: "0-2,4" → {0,1,2,4}. */
export function parseCpuList(s: string): Set<number> {
  const out = new Set<number>();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${s}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`invalid format: ${s}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

function readFirst(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch {
      // next
    }
  }
  return undefined;
}

/** The CPUs and memory nodes containers may use (the root cpuset; v1 or v2 layout). */
export function availableCpuset(): { cpus: string; mems: string } {
  return {
    cpus: readFirst(['/sys/fs/cgroup/cpuset/cpuset.cpus', '/sys/fs/cgroup/cpuset.cpus.effective']) ?? `0-${os.cpus().length - 1}`,
    mems: readFirst(['/sys/fs/cgroup/cpuset/cpuset.mems', '/sys/fs/cgroup/cpuset.mems.effective']) ?? '0',
  };
}

function checkCpuset(value: string | undefined, available: string, what: 'cpus' | 'mems'): void {
  if (!value) return;
  let want: Set<number>;
  try {
    want = parseCpuList(value);
  } catch (e) {
    throw invalid(`Invalid value ${value} for cpuset ${what}: ${(e as Error).message}`);
  }
  const have = parseCpuList(available);
  if ([...want].some((n) => !have.has(n))) {
    throw invalid(what === 'cpus'
      ? `Requested CPUs are not available - requested ${value}, available: ${available}`
      : `Requested memory nodes are not available - requested ${value}, available: ${available}`);
  }
}

// ------------------------------------------------------------------------- resources

/** Docker's verifyPlatformContainerResources: the checks shared by create and update. */
export function verifyResources(r: ResourceSettings, update: boolean): string[] {
  const warnings: string[] = [];
  const memory = r.Memory ?? 0;
  const swap = r.MemorySwap ?? 0;
  const reservation = r.MemoryReservation ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw invalid('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0 && !update) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.MemorySwappiness != null && r.MemorySwappiness !== -1 && (r.MemorySwappiness < 0 || r.MemorySwappiness > 100)) {
    throw invalid(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalid('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (r.OomKillDisable === true && memory === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  const nano = r.NanoCpus ?? 0;
  if (nano > 0 && (r.CpuPeriod ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (r.CpuQuota ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano !== 0) {
    const nc = os.cpus().length;
    if (nano < 0 || nano > nc * 1e9) throw invalid(`range of CPUs is from 0.01 to ${nc}.00, as there are only ${nc} CPUs available`);
  }
  if ((r.CpuShares ?? 0) < 0) throw invalid(`invalid CPU shares (${r.CpuShares}): value must be a positive integer`);
  const period = r.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = r.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const avail = availableCpuset();
  checkCpuset(r.CpusetCpus, avail.cpus, 'cpus');
  checkCpuset(r.CpusetMems, avail.mems, 'mems');
  return warnings;
}

/** The rlimits Docker's --ulimit accepts (go-units). */
const ULIMIT_NAMES = new Set([
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
]);

function checkUlimits(list: Ulimit[]): void {
  for (const u of list) {
    if (!ULIMIT_NAMES.has(u.Name)) throw invalid(`invalid ulimit type: ${u.Name}`);
    if (typeof u.Soft !== 'number' || typeof u.Hard !== 'number') throw invalid(`invalid ulimit argument: ${u.Name}`);
    if (u.Soft > u.Hard) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
}

/** The cgroup resources of the runtime spec (memory, cpu, pids) as Docker derives them. */
export function ociResources(r: ResourceSettings): OciResources {
  const out: OciResources = {};
  const memory: NonNullable<OciResources['memory']> = {};
  if ((r.Memory ?? 0) > 0) memory.limit = r.Memory;
  if ((r.MemoryReservation ?? 0) > 0) memory.reservation = r.MemoryReservation;
  if ((r.MemorySwap ?? 0) > 0) memory.swap = r.MemorySwap;
  // Swappiness and the OOM-killer switch exist on cgroup v1 only: set them only when asked.
  if (r.MemorySwappiness != null && r.MemorySwappiness >= 0) memory.swappiness = r.MemorySwappiness;
  if (r.OomKillDisable === true) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0) out.memory = memory;
  const cpu = cpuResources(r);
  if (cpu) out.cpu = cpu;
  if (r.PidsLimit != null && r.PidsLimit > 0) out.pids = { limit: r.PidsLimit };
  return out;
}

function cpuResources(r: ResourceSettings): OciResources['cpu'] | undefined {
  const cpu: NonNullable<OciResources['cpu']> = {};
  if ((r.CpuShares ?? 0) > 0) cpu.shares = r.CpuShares;
  let period = 0;
  let quota = 0;
  if ((r.NanoCpus ?? 0) > 0) {
    period = CPU_PERIOD;
    quota = Math.trunc((r.NanoCpus! * CPU_PERIOD) / 1e9);
  }
  if (quota === 0 && (r.CpuQuota ?? 0) !== 0) quota = r.CpuQuota!;
  if (period === 0 && (r.CpuPeriod ?? 0) !== 0) period = r.CpuPeriod!;
  if (period !== 0) cpu.period = period;
  if (quota !== 0) cpu.quota = quota;
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

/**
 * What `runc update` gets for an update request: only the fields the request sets (zero means
 * "unchanged", as in Docker), with the memory pair taken from the merged settings so runc can
 * order the two cgroup writes; a pids limit of 0 or less lifts the limit (-1).
 */
export function updateResources(req: ResourceSettings, merged: ResourceSettings): OciResources {
  const out: OciResources = {};
  if (req.Memory || req.MemorySwap || req.MemoryReservation) {
    const memory: NonNullable<OciResources['memory']> = {};
    if ((merged.Memory ?? 0) > 0) memory.limit = merged.Memory;
    if (merged.MemorySwap) memory.swap = merged.MemorySwap;
    if ((merged.MemoryReservation ?? 0) > 0) memory.reservation = merged.MemoryReservation;
    out.memory = memory;
  }
  const cpu = cpuResources(req);
  if (cpu) out.cpu = cpu;
  if (req.PidsLimit != null) out.pids = { limit: req.PidsLimit > 0 ? req.PidsLimit : -1 };
  return out;
}

// ------------------------------------------------------------------------- capabilities

/** Docker's NormalizeLegacyCapabilities + ValidateCapabilities: "sys_admin" → "CAP_SYS_ADMIN". */
export function normalizeCapabilities(caps: string[]): string[] {
  const available = new Set(availableCapabilities());
  return caps.map((c) => {
    let n = c.toUpperCase();
    if (n === 'ALL') return n;
    if (!n.startsWith('CAP_')) n = `CAP_${n}`;
    if (!(n in CAPABILITY_NUMBERS)) throw invalid(`unknown capability: "${n}"`);
    if (!available.has(n)) throw invalid(`capability not supported by your kernel or not available in the current environment: "${n}"`);
    return n;
  });
}

/** Docker's TweakCapabilities: the container's capability set. */
export function capabilitiesOf(hc: SecuritySettings): string[] {
  const all = availableCapabilities();
  if (hc.Privileged) return all;
  const add = hc.CapAdd ?? [];
  const drop = hc.CapDrop ?? [];
  if (add.includes('ALL')) return all.filter((c) => !drop.includes(c));
  if (drop.includes('ALL')) return add.filter((c, i) => add.indexOf(c) === i);
  const caps = DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  for (const c of add) if (!caps.includes(c)) caps.push(c);
  return caps;
}

// ------------------------------------------------------------------------- security options

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** 'default', 'unconfined', or a Docker-format profile's JSON text. */
  seccomp: string;
  /** systempaths=unconfined: no masked or read-only /proc and /sys paths. */
  unmaskedPaths: boolean;
}

/** Docker's parseSecurityOpt (label and apparmor are accepted and have no effect here). */
export function securityOptions(opts: string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccomp: 'default', unmaskedPaths: false };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'writable-cgroups' || opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalid(`invalid --security-opt 1: "${opt}"`);
    const i = opt.indexOf(sep);
    const k = opt.slice(0, i);
    const v = opt.slice(i + 1);
    switch (k) {
      case 'label':
      case 'apparmor':
        break;
      case 'seccomp':
        out.seccomp = v === 'builtin' ? 'default' : v;
        break;
      case 'systempaths':
        if (v !== 'unconfined') throw invalid(`invalid --security-opt 2: "${opt}"`);
        out.unmaskedPaths = true;
        break;
      case 'no-new-privileges':
      case 'writable-cgroups': {
        const b = goBool(v);
        if (b === undefined) throw invalid(`invalid --security-opt 2: "${opt}"`);
        if (k === 'no-new-privileges') out.noNewPrivileges = b;
        break;
      }
      default:
        throw invalid(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

function goBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

// ------------------------------------------------------------------------- sysctls, hosts

/** Sysctls that belong to a namespace the container has its own of (runc refuses the others). */
export function namespacedSysctl(name: string): boolean {
  return /^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(name)
    || name.startsWith('fs.mqueue.') || name.startsWith('net.')
    || name === 'kernel.domainname' || name === 'kernel.hostname';
}

/** "name:ip" or "name=ip" (the docker CLI's newer form) → host and address. */
export function parseExtraHost(entry: string): { host: string; ip: string } {
  const eq = entry.indexOf('=');
  const i = eq >= 0 ? eq : entry.indexOf(':');
  if (i <= 0) throw invalid(`invalid extra host entry: "${entry}"`);
  const host = entry.slice(0, i);
  let ip = entry.slice(i + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  // The default bridge's gateway, known at start (container-bundle.ts).
  if (ip === 'host-gateway') return { host, ip };
  if (isIP(ip) === 0) throw invalid(`invalid IP address in add-host: "${ip}"`);
  return { host, ip };
}

// ------------------------------------------------------------------------- create

/**
 * Validates the resource and security fields of a create request and fills Docker's defaults
 * in place (MemorySwap = 2 × Memory, normalized capabilities, PidsLimit ≤ 0 = none). Returns
 * Docker's warnings.
 */
export function normalizeHostSettings(hc: HostSettings & Record<string, unknown>): string[] {
  checkTypes(hc);
  if (typeof hc.ShmSize === 'number' && hc.ShmSize < 0) throw invalid('SHM size can not be less than 0');
  const warnings = verifyResources(hc, false);
  if ((hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) === 0) hc.MemorySwap = hc.Memory! * 2;
  if (hc.MemorySwappiness === -1) hc.MemorySwappiness = null;
  if (hc.PidsLimit != null && hc.PidsLimit <= 0) hc.PidsLimit = null;
  if (hc.Ulimits) checkUlimits(hc.Ulimits);
  if (hc.CapAdd) hc.CapAdd = normalizeCapabilities(hc.CapAdd);
  if (hc.CapDrop) hc.CapDrop = normalizeCapabilities(hc.CapDrop);
  const sec = securityOptions(hc.SecurityOpt ?? []);
  if (sec.seccomp !== 'default' && sec.seccomp !== 'unconfined') {
    try {
      fromDockerProfile(sec.seccomp);
    } catch (e) {
      if (e instanceof SeccompProfileError) throw invalid(e.message);
      throw e;
    }
  }
  for (const [dest, options] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw invalid(`invalid mount config for type "tmpfs": invalid mount path: '${dest}' mount path must be absolute`);
    try {
      mergeTmpfsOptions(options);
    } catch (e) {
      throw invalid((e as Error).message);
    }
  }
  for (const name of Object.keys(hc.Sysctls ?? {})) {
    if (!namespacedSysctl(name)) throw invalid(`sysctl "${name}" is not in a separate kernel namespace`);
  }
  for (const d of hc.Devices ?? []) {
    if (typeof d.PathOnHost !== 'string' || d.PathOnHost === '') throw invalid('bad format for path: ');
    d.PathInContainer ||= d.PathOnHost;
    d.CgroupPermissions ||= 'rwm';
    if (!/^[rwm]{1,3}$/.test(d.CgroupPermissions)) throw invalid(`invalid device mode: ${d.CgroupPermissions}`);
  }
  for (const h of hc.ExtraHosts ?? []) parseExtraHost(h);
  for (const ns of hc.Dns ?? []) if (isIP(ns) === 0) throw invalid(`IP address is not correctly formatted: ${ns}`);
  return warnings;
}

// ------------------------------------------------------------------------- update

/** The body of POST /containers/{id}/update: resources plus a restart policy. */
export type UpdateRequest = ResourceSettings & { RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null } & Record<string, unknown>;

const conflictingUpdate = (msg: string) => invalid(msg);

/**
 * Docker's Container.UpdateContainer: applies the non-zero resource fields of `req` to `hc` (in
 * place), refusing the combinations Docker refuses. The restart policy is the caller's to set.
 */
export function mergeUpdate(hc: HostSettings & { AutoRemove: boolean }, req: UpdateRequest): void {
  if ((req.NanoCpus ?? 0) > 0 && (hc.CpuPeriod ?? 0) > 0) throw conflictingUpdate('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if ((req.NanoCpus ?? 0) > 0 && (hc.CpuQuota ?? 0) > 0) throw conflictingUpdate('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((req.CpuPeriod ?? 0) > 0 && (hc.NanoCpus ?? 0) > 0) throw conflictingUpdate('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if ((req.CpuQuota ?? 0) > 0 && (hc.NanoCpus ?? 0) > 0) throw conflictingUpdate('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (req.Memory && req.Memory > (hc.MemorySwap ?? 0) && !req.MemorySwap) {
    throw conflictingUpdate('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  const rp = req.RestartPolicy;
  if (rp?.Name) {
    if (hc.AutoRemove && rp.Name !== 'no') throw conflictingUpdate('Restart policy cannot be updated because AutoRemove is enabled for the container');
  }
  for (const k of ['CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'Memory', 'MemorySwap', 'MemoryReservation'] as const) {
    if (req[k]) hc[k] = req[k];
  }
  if (req.CpusetCpus) hc.CpusetCpus = req.CpusetCpus;
  if (req.CpusetMems) hc.CpusetMems = req.CpusetMems;
  if (req.PidsLimit != null) hc.PidsLimit = req.PidsLimit > 0 ? req.PidsLimit : null;
}

/** Type checks and Docker's resource checks for an update request (update=true relaxes one). */
export function verifyUpdate(req: UpdateRequest): string[] {
  checkTypes(req);
  return verifyResources(req, true);
}
