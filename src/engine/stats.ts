/**
 * GET /containers/{id}/stats in Docker's shape: one sample from the container's cgroups, the
 * host's CPU time beside it, and the previous sample as `precpu_stats`. Streams send one a
 * second (as Docker's collector does); `stream=false` takes two samples a second apart unless
 * `one-shot`, so CPU % can be computed from a single answer. A container that is not running
 * reports Docker's zero value (name and id only).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import {
  type BlkioEntry, type CgroupStats, cgroupDirsOf, parseNetDev, parseProcStat, readCgroupStats, readText,
} from '../runtime/cgroup-stats';
import type { ContainerService } from './containers';

const INTERVAL_MS = 1000;
const ZERO_TIME = '0001-01-01T00:00:00Z';

interface CpuStatsJson {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

type Entry = { major: number; minor: number; op: string; value: number };

export interface StatsJson {
  name?: string;
  id?: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, Entry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStatsJson;
  precpu_stats: CpuStatsJson;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks?: Record<string, Record<string, number>>;
}

const BLKIO_KEYS = [
  'io_service_bytes_recursive', 'io_serviced_recursive', 'io_queue_recursive', 'io_service_time_recursive',
  'io_wait_time_recursive', 'io_merged_recursive', 'io_time_recursive', 'sectors_recursive',
];

const zeroCpu = (): CpuStatsJson => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/** Docker's zero StatsResponse: what a container that is not running reports. */
export function emptyStats(name: string, id: string): StatsJson {
  return {
    name, id, read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {},
    blkio_stats: Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])), num_procs: 0, storage_stats: {},
    cpu_stats: zeroCpu(), precpu_stats: zeroCpu(), memory_stats: {},
  };
}

/** Go's RFC3339Nano: nanoseconds, trailing zeros dropped. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return new Date(ms).toISOString().slice(0, 19) + (frac ? `.${frac}` : '') + 'Z';
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);

const entries = (es: BlkioEntry[]): Entry[] | null => (es.length ? es.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value })) : null);

/** Builds Docker's JSON from a cgroup sample (omitempty fields left out when zero, as Go does). */
export function toDockerStats(s: CgroupStats, host: { systemUsage: number; onlineCpus: number; memTotal: number }, readNs: bigint): StatsJson {
  const omit = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== undefined)) as T;
  let limit = s.memory.limit;
  if ((limit === 0 || limit > host.memTotal) && host.memTotal > 0) limit = host.memTotal;
  const blkio = Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])) as Record<string, Entry[] | null>;
  blkio.io_service_bytes_recursive = entries(s.blkio.serviceBytes);
  blkio.io_serviced_recursive = entries(s.blkio.serviced);
  return {
    read: rfc3339Nano(readNs),
    preread: ZERO_TIME,
    pids_stats: omit({ current: s.pids.current, limit: s.pids.limit }),
    blkio_stats: blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: s.cpu.total,
        ...(s.cpu.perCpu ? { percpu_usage: s.cpu.perCpu } : {}),
        usage_in_kernelmode: s.cpu.kernel,
        usage_in_usermode: s.cpu.user,
      },
      ...omit({ system_cpu_usage: host.systemUsage, online_cpus: host.onlineCpus }),
      throttling_data: { periods: s.cpu.periods, throttled_periods: s.cpu.throttledPeriods, throttled_time: s.cpu.throttledTime },
    },
    precpu_stats: zeroCpu(),
    memory_stats: {
      ...omit({ usage: s.memory.usage, max_usage: s.memory.maxUsage }),
      stats: Object.fromEntries([...s.memory.stats].sort(([a], [b]) => (a < b ? -1 : 1))),
      ...omit({ failcnt: s.memory.failcnt, limit }),
    },
  };
}

export class StatsService {
  constructor(private readonly containers: ContainerService) {}

  /** One sample, or Docker's zero value when the container is not running (or just stopped). */
  sample(ref: string): StatsJson {
    const c = this.containers.find(ref);
    const name = `/${c.r.name}`;
    const pid = c.state.Pid;
    const dirs = c.running && pid > 0 ? cgroupDirsOf(pid) : undefined;
    if (!dirs) return emptyStats(name, c.id);
    const host = { ...parseProcStat(readText('/proc/stat') ?? ''), memTotal: os.totalmem() };
    const s = toDockerStats(readCgroupStats(dirs), host, nowNs());
    const nets = parseNetDev(readText(`/proc/${pid}/net/dev`));
    // The process may have exited between reading its cgroup and now: report it as stopped.
    if (!fs.existsSync(`/proc/${pid}`)) return emptyStats(name, c.id);
    return { name, id: c.id, ...s, ...(nets.size ? { networks: Object.fromEntries([...nets].map(([k, v]) => [k, { ...v }])) } : {}) };
  }

  /**
   * Docker's sequence: each sample carries the previous one's read time and CPU as preread and
   * precpu_stats. Without `stream` the first sample only primes precpu (unless `oneShot`).
   * Ends when the container is removed or `signal` aborts.
   */
  async *samples(ref: string, o: { stream: boolean; oneShot: boolean; signal: AbortSignal }): AsyncGenerator<StatsJson> {
    const c = this.containers.find(ref);
    if (!o.stream && !c.running) {
      yield this.sample(ref);
      return;
    }
    let prev: StatsJson | undefined;
    let skipFirst = !o.stream && !o.oneShot;
    while (!o.signal.aborted) {
      let cur: StatsJson;
      try {
        cur = this.sample(c.id);
      } catch {
        return; // removed
      }
      if (prev) {
        cur.preread = prev.read;
        cur.precpu_stats = prev.cpu_stats;
      }
      prev = { ...cur };
      if (!skipFirst) {
        yield cur;
        if (!o.stream) return;
      }
      skipFirst = false;
      await sleep(INTERVAL_MS, o.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
