/**
 * A container's resource usage from its cgroup files, on cgroup v1 (one hierarchy per
 * controller) and cgroup v2 (one unified hierarchy). Hybrid hosts (v1 controllers plus an empty
 * cgroup2 mount, as here) read v1. The parsers are pure (text in, numbers out); `readCgroupStats`
 * reads through a `ReadText` so tests can point it at fixture directories.
 *
 * Which cgroup is the container's: the lines of /proc/<pid>/cgroup ("hier:controllers:path")
 * joined with the cgroup mounts of /proc/self/mountinfo.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

export type ReadText = (path: string) => string | undefined;

export const readText: ReadText = (path) => {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Where a process's cgroups are: one dir per v1 controller, or the one v2 dir. */
export type CgroupDirs = { version: 1; dirs: Map<string, string> } | { version: 2; dir: string };

export interface ProcCgroup {
  v1: Map<string, string>; // controller → path in its hierarchy
  v2: string | undefined; // the "0::" line's path
}

export function parseProcCgroup(text: string): ProcCgroup {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3];
    else for (const c of m[2].split(',')) if (c) v1.set(c, m[3]);
  }
  return { v1, v2 };
}

export interface CgroupMount {
  mountPoint: string;
  root: string; // the hierarchy path mounted there ("/" unless bind-mounted)
}

export interface CgroupMounts {
  v1: Map<string, CgroupMount>; // controller (or name=…) → mount
  v2: CgroupMount | undefined;
}

/** The cgroup mounts of /proc/self/mountinfo ("id parent dev root mountpoint opts … - fstype src superopts"). */
export function parseMountinfo(text: string): CgroupMounts {
  const v1 = new Map<string, CgroupMount>();
  let v2: CgroupMount | undefined;
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts] = post.split(' ');
    const mount = { root: unescapeMount(f[3]), mountPoint: unescapeMount(f[4]) };
    if (fstype === 'cgroup2') v2 ??= mount;
    else if (fstype === 'cgroup') {
      for (const o of (superOpts ?? '').split(',')) if (o !== 'rw' && o !== 'ro' && !v1.has(o)) v1.set(o, mount);
    }
  }
  return { v1, v2 };
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

function inMount(m: CgroupMount, path: string): string | undefined {
  const root = m.root === '/' ? '' : m.root;
  if (root && path !== root && !path.startsWith(root + '/')) return undefined;
  return join(m.mountPoint, path.slice(root.length));
}

/** Resolves the cgroup dirs of a process: v1 when its memory controller is on a v1 hierarchy. */
export function resolveCgroupDirs(proc: ProcCgroup, mounts: CgroupMounts): CgroupDirs | undefined {
  if (proc.v1.has('memory') || proc.v1.has('pids') || proc.v1.has('cpuacct')) {
    const dirs = new Map<string, string>();
    for (const [c, path] of proc.v1) {
      const m = mounts.v1.get(c);
      const dir = m && inMount(m, path);
      if (dir) dirs.set(c, dir);
    }
    return { version: 1, dirs };
  }
  if (proc.v2 !== undefined && mounts.v2) {
    const dir = inMount(mounts.v2, proc.v2);
    return dir ? { version: 2, dir } : undefined;
  }
  return undefined;
}

/** The cgroups of a live process, or undefined once it is gone. */
export function cgroupDirsOf(pid: number, read: ReadText = readText): CgroupDirs | undefined {
  const text = read(`/proc/${pid}/cgroup`);
  const mounts = read('/proc/self/mountinfo');
  if (text === undefined || mounts === undefined) return undefined;
  return resolveCgroupDirs(parseProcCgroup(text), parseMountinfo(mounts));
}

/** Every pid in a cgroup and its descendants (for `top`). */
export function cgroupPids(dirs: CgroupDirs): number[] {
  const top = dirs.version === 2 ? dirs.dir : (dirs.dirs.get('pids') ?? dirs.dirs.get('memory') ?? [...dirs.dirs.values()][0]);
  if (!top) return [];
  const out = new Set<number>();
  const walk = (dir: string, depth: number) => {
    for (const p of (readText(join(dir, 'cgroup.procs')) ?? '').split('\n')) if (p.trim()) out.add(Number(p));
    if (depth > 16) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), depth + 1);
  };
  walk(top, 0);
  return [...out].sort((a, b) => a - b);
}

// ---------------------------------------------------------------- file formats

/** "key value" lines (memory.stat, cpu.stat, pids.events, memory.events). */
export function parseFlatKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A single number, "max" as `max` (unlimited). */
export function parseSingle(text: string | undefined, max = 0): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max') return max;
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** v1 blkio files: "8:0 Read 4096" lines; the trailing "Total N" line is not per device. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const dev = /^(\d+):(\d+)$/.exec(f[0]);
    if (!dev) continue;
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op: f[1], value: Number(f[2]) });
  }
  return out;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
export function parseIoStatV2(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const kv = new Map(f.slice(1).map((x) => x.split('=') as [string, string]));
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    const n = (k: string) => Number(kv.get(k) ?? 0);
    bytes.push({ major, minor, op: 'read', value: n('rbytes') }, { major, minor, op: 'write', value: n('wbytes') });
    ios.push({ major, minor, op: 'read', value: n('rios') }, { major, minor, op: 'write', value: n('wios') });
  }
  return { bytes, ios };
}

/**
 * Host CPU time as Docker computes system_cpu_usage: the first seven fields of /proc/stat's
 * "cpu" line (user … softirq) in clock ticks, in nanoseconds; online CPUs = the "cpuN" lines.
 */
export function parseProcStat(text: string, clockTicks = 100): { systemUsage: number; onlineCpus: number } {
  let systemUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu' && f.length >= 8) {
      const ticks = f.slice(1, 8).reduce((a, x) => a + BigInt(x), 0n);
      systemUsage = Number((ticks * 1_000_000_000n) / BigInt(clockTicks));
    } else if (/^cpu\d+$/.test(f[0] ?? '')) {
      onlineCpus++;
    }
  }
  return { systemUsage, onlineCpus };
}

export interface NetDevStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** /proc/<pid>/net/dev of the container's network namespace, loopback left out (as Docker does). */
export function parseNetDev(text: string | undefined): Map<string, NetDevStats> {
  const out = new Map<string, NetDevStats>();
  for (const line of (text ?? '').split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const n = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (name === 'lo' || n.length < 16) continue;
    out.set(name, {
      rx_bytes: n[0], rx_packets: n[1], rx_errors: n[2], rx_dropped: n[3],
      tx_bytes: n[8], tx_packets: n[9], tx_errors: n[10], tx_dropped: n[11],
    });
  }
  return out;
}

// ---------------------------------------------------------------- one sample

export interface CgroupStats {
  cpu: {
    total: number; // ns
    kernel: number;
    user: number;
    perCpu: number[] | undefined; // v1 only
    periods: number;
    throttledPeriods: number;
    throttledTime: number; // ns
  };
  memory: {
    usage: number;
    maxUsage: number | undefined; // v1 only
    failcnt: number;
    limit: number; // 0 when unlimited
    stats: Map<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

const V1_MEMORY_KEYS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit',
  'hierarchical_memsw_limit', 'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty',
  'total_writeback', 'total_pgpgin', 'total_pgpgout', 'total_pgfault', 'total_pgmajfault', 'total_inactive_anon',
  'total_active_anon', 'total_inactive_file', 'total_active_file', 'total_unevictable',
];

const V2_MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback', 'anon_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable',
  'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan',
  'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
];

/** v1 limits read as this when unlimited (PAGE_COUNTER_MAX rounded to pages). */
const V1_UNLIMITED = 0x7ffffffffffff000;

function pick(all: Map<string, number>, keys: string[]): Map<string, number> {
  return new Map(keys.map((k) => [k, all.get(k) ?? (k === 'workingset_refault' ? (all.get('workingset_refault_anon') ?? 0) + (all.get('workingset_refault_file') ?? 0) : 0)]));
}

export function readCgroupStats(dirs: CgroupDirs, read: ReadText = readText, clockTicks = 100): CgroupStats {
  return dirs.version === 1 ? readV1(dirs.dirs, read, clockTicks) : readV2(dirs.dir, read);
}

function readV1(dirs: Map<string, string>, read: ReadText, clockTicks: number): CgroupStats {
  const f = (ctrl: string, file: string) => {
    const d = dirs.get(ctrl);
    return d === undefined ? undefined : read(join(d, file));
  };
  const num = (ctrl: string, file: string) => parseSingle(f(ctrl, file)) ?? 0;
  const acct = parseFlatKeyed(f('cpuacct', 'cpuacct.stat'));
  const tickNs = 1e9 / clockTicks;
  const cpuStat = parseFlatKeyed(f('cpu', 'cpu.stat'));
  const perCpu = f('cpuacct', 'cpuacct.usage_percpu')?.trim().split(/\s+/).filter(Boolean).map(Number);
  const limit = num('memory', 'memory.limit_in_bytes');
  const blk = (name: string) => parseBlkioV1(f('blkio', `blkio.${name}`));
  // CFQ's files when the kernel has them and they say something; else the throttle counters,
  // which every blkio hierarchy keeps (containerd's order).
  let serviceBytes = blk('io_service_bytes_recursive');
  let serviced = blk('io_serviced_recursive');
  if (serviceBytes.length + serviced.length === 0) {
    serviceBytes = blk('throttle.io_service_bytes_recursive');
    serviced = blk('throttle.io_serviced_recursive');
  }
  return {
    cpu: {
      total: num('cpuacct', 'cpuacct.usage'),
      kernel: (acct.get('system') ?? 0) * tickNs,
      user: (acct.get('user') ?? 0) * tickNs,
      perCpu: perCpu && perCpu.length ? perCpu : undefined,
      periods: cpuStat.get('nr_periods') ?? 0,
      throttledPeriods: cpuStat.get('nr_throttled') ?? 0,
      throttledTime: cpuStat.get('throttled_time') ?? 0,
    },
    memory: {
      usage: num('memory', 'memory.usage_in_bytes'),
      maxUsage: num('memory', 'memory.max_usage_in_bytes'),
      failcnt: num('memory', 'memory.failcnt'),
      limit: limit >= V1_UNLIMITED ? 0 : limit,
      stats: pick(parseFlatKeyed(f('memory', 'memory.stat')), V1_MEMORY_KEYS),
    },
    pids: { current: num('pids', 'pids.current'), limit: parseSingle(f('pids', 'pids.max'), 0) ?? 0 },
    blkio: { serviceBytes, serviced },
  };
}

function readV2(dir: string, read: ReadText): CgroupStats {
  const f = (file: string) => read(join(dir, file));
  const cpu = parseFlatKeyed(f('cpu.stat'));
  const io = parseIoStatV2(f('io.stat'));
  return {
    cpu: {
      total: (cpu.get('usage_usec') ?? 0) * 1000,
      kernel: (cpu.get('system_usec') ?? 0) * 1000,
      user: (cpu.get('user_usec') ?? 0) * 1000,
      perCpu: undefined,
      periods: cpu.get('nr_periods') ?? 0,
      throttledPeriods: cpu.get('nr_throttled') ?? 0,
      throttledTime: (cpu.get('throttled_usec') ?? 0) * 1000,
    },
    memory: {
      usage: parseSingle(f('memory.current')) ?? 0,
      maxUsage: undefined,
      failcnt: parseFlatKeyed(f('memory.events')).get('oom') ?? 0,
      limit: parseSingle(f('memory.max'), 0) ?? 0,
      stats: pick(parseFlatKeyed(f('memory.stat')), V2_MEMORY_KEYS),
    },
    pids: { current: parseSingle(f('pids.current')) ?? 0, limit: parseSingle(f('pids.max'), 0) ?? 0 },
    blkio: { serviceBytes: io.bytes, serviced: io.ios },
  };
}
