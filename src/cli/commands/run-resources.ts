/**
 * The resource, security and host-file flags of run/create (and the resource flags `update`
 * shares), turned into HostConfig fields as the docker CLI does; and Docker's KEY=VALUE file
 * format for --env-file and --label-file.
 */
import * as fs from 'node:fs';
import { ramInBytes } from '../../wire/units';
import { FlagError, type FlagSpec, type ParsedFlags } from '../flags';
import { goQuote } from '../template';

export const RESOURCE_FLAGS: FlagSpec[] = [
  { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', description: 'Memory limit' },
  { name: 'memory-swap', type: 'string', valueName: 'bytes', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'memory-reservation', type: 'string', valueName: 'bytes', description: 'Memory soft limit' },
  { name: 'cpus', type: 'string', valueName: 'decimal', description: 'Number of CPUs' },
  { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpu-quota', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-period', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'pids-limit', type: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
];

export const CREATE_RESOURCE_FLAGS: FlagSpec[] = [
  ...RESOURCE_FLAGS,
  { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'cap-add', type: 'list', description: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', description: 'Drop Linux capabilities' },
  { name: 'device', type: 'list', description: 'Add a host device to the container' },
  { name: 'dns', type: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-option', type: 'list', description: 'Set DNS options' },
  { name: 'dns-search', type: 'list', description: 'Set custom DNS search domains' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'init', type: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'label-file', type: 'list', description: 'Read in a line delimited file of labels' },
  { name: 'oom-kill-disable', type: 'bool', description: 'Disable OOM Killer' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to this container' },
  { name: 'security-opt', type: 'list', description: 'Security Options' },
  { name: 'shm-size', type: 'string', valueName: 'bytes', description: 'Size of /dev/shm' },
  { name: 'sysctl', type: 'list', valueName: 'map', description: 'Sysctl options' },
  { name: 'tmpfs', type: 'list', description: 'Mount a tmpfs directory' },
  { name: 'ulimit', type: 'list', valueName: 'ulimit', description: 'Ulimit options' },
];

function flagError(name: string, short: string | undefined, value: string, why: string): FlagError {
  const display = short ? `-${short}, --${name}` : `--${name}`;
  return new FlagError(`invalid argument ${goQuote(value)} for ${goQuote(display)} flag: ${why}`);
}

function bytesFlag(flags: ParsedFlags, name: string, short?: string): number | undefined {
  if (!flags.changed.has(name)) return undefined;
  const v = flags.string(name);
  if (name === 'memory-swap' && v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (e) {
    throw flagError(name, short, v, (e as Error).message);
  }
}

/** docker's NanoCPUs flag: a decimal number of CPUs, exact to the nanosecond. */
export function parseCpus(v: string): number {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw new Error(`failed to parse ${v} as a rational number`);
  const frac = m[2] ?? '';
  if (frac.replace(/0+$/, '').length > 9) throw new Error('value is too precise');
  return Number(m[1] || '0') * 1e9 + Number((frac + '000000000').slice(0, 9));
}

/** The resource fields of HostConfig (run, create and update), only those given. */
export function resourceFields(flags: ParsedFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const memory = bytesFlag(flags, 'memory', 'm');
  if (memory !== undefined) out.Memory = memory;
  const swap = bytesFlag(flags, 'memory-swap');
  if (swap !== undefined) out.MemorySwap = swap;
  const reservation = bytesFlag(flags, 'memory-reservation');
  if (reservation !== undefined) out.MemoryReservation = reservation;
  if (flags.changed.has('cpus')) {
    try {
      out.NanoCpus = parseCpus(flags.string('cpus'));
    } catch (e) {
      throw flagError('cpus', undefined, flags.string('cpus'), (e as Error).message);
    }
  }
  if (flags.changed.has('cpu-shares')) out.CpuShares = flags.int('cpu-shares');
  if (flags.changed.has('cpu-quota')) out.CpuQuota = flags.int('cpu-quota');
  if (flags.changed.has('cpu-period')) out.CpuPeriod = flags.int('cpu-period');
  if (flags.changed.has('cpuset-cpus')) out.CpusetCpus = flags.string('cpuset-cpus');
  if (flags.changed.has('cpuset-mems')) out.CpusetMems = flags.string('cpuset-mems');
  if (flags.changed.has('pids-limit')) out.PidsLimit = flags.int('pids-limit');
  return out;
}

const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** go-units ParseUlimit: "nofile=1024:2048" or "nofile=1024". */
export function parseUlimit(v: string): { Name: string; Soft: number; Hard: number } {
  const eq = v.indexOf('=');
  if (eq < 0) throw new Error(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = v.slice(eq + 1).split(':');
  if (parts.length > 2 || !parts.every((p) => /^-?\d+$/.test(p))) throw new Error(`invalid ulimit argument: ${v}`);
  const soft = Number(parts[0]);
  const hard = parts.length === 2 ? Number(parts[1]) : soft;
  if (soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

/** The docker CLI's --device parsing: host[:container][:permissions]. */
export function parseDevice(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const arr = v.split(':');
  if (arr.length > 3 || arr[0] === '') throw new Error(`invalid device specification: ${v}`);
  let perms = 'rwm';
  let dst = '';
  if (arr.length === 3) perms = arr[2]!;
  if (arr.length >= 2) {
    if (/^[rwm]{1,3}$/.test(arr[1]!) && arr.length === 2) perms = arr[1]!;
    else dst = arr[1]!;
  }
  if (!/^[rwm]{1,3}$/.test(perms)) throw new Error(`invalid device mode: ${perms}`);
  return { PathOnHost: arr[0]!, PathInContainer: dst || arr[0]!, CgroupPermissions: perms };
}

/** --security-opt as the docker CLI sends it: a seccomp profile path becomes the profile's compact JSON. */
export function securityOpts(values: string[]): string[] {
  return values.map((opt) => {
    let sep = opt.indexOf('=');
    if (sep < 0 && opt !== 'no-new-privileges') sep = opt.indexOf(':');
    const k = sep < 0 ? opt : opt.slice(0, sep);
    const v = sep < 0 ? '' : opt.slice(sep + 1);
    if (v === '' && k !== 'no-new-privileges') throw new Error(`Invalid --security-opt: ${goQuote(opt)}`);
    if (k !== 'seccomp' || v === 'builtin' || v === 'unconfined') return opt;
    let text: string;
    try {
      text = fs.readFileSync(v, 'utf8');
    } catch (e) {
      throw new Error(`opening seccomp profile (${v}) failed: open ${v}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch (e) {
      throw new Error(`compacting json for seccomp profile (${v}) failed: ${(e as Error).message}`);
    }
  });
}

function keyValueMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    out[i < 0 ? v : v.slice(0, i)] = i < 0 ? '' : v.slice(i + 1);
  }
  return out;
}

/** The HostConfig fields of the flags above that run/create send. */
export function createHostFields(flags: ParsedFlags): Record<string, unknown> {
  const out = resourceFields(flags);
  const list = (name: string) => flags.list(name);
  const wrap = <T>(name: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FlagError) throw e;
      const value = flags.list(name).at(-1) ?? '';
      throw flagError(name, undefined, value, (e as Error).message);
    }
  };
  if (flags.changed.has('shm-size')) out.ShmSize = bytesFlag(flags, 'shm-size');
  if (flags.bool('oom-kill-disable')) out.OomKillDisable = true;
  if (flags.bool('privileged')) out.Privileged = true;
  if (flags.bool('init')) out.Init = true;
  if (list('cap-add').length) out.CapAdd = list('cap-add');
  if (list('cap-drop').length) out.CapDrop = list('cap-drop');
  if (list('ulimit').length) out.Ulimits = wrap('ulimit', () => list('ulimit').map(parseUlimit));
  if (list('device').length) out.Devices = wrap('device', () => list('device').map(parseDevice));
  if (list('security-opt').length) out.SecurityOpt = securityOpts(list('security-opt'));
  if (list('sysctl').length) out.Sysctls = keyValueMap(list('sysctl'));
  if (list('tmpfs').length) {
    out.Tmpfs = Object.fromEntries(list('tmpfs').map((t) => {
      const i = t.indexOf(':');
      return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
    }));
  }
  if (list('add-host').length) out.ExtraHosts = list('add-host');
  out.Dns = list('dns');
  out.DnsOptions = list('dns-option');
  out.DnsSearch = list('dns-search');
  return out;
}

/**
 * Docker's KEY=VALUE files (--env-file, --label-file): `#` comments and blank lines skipped,
 * values kept verbatim; a bare KEY takes its value from `lookup` (the CLI's environment for
 * env files) and is dropped when that has none.
 */
export function readKeyValueFile(path: string, lookup?: (key: string) => string | undefined): string[] {
  const text = fs.readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^[ \t\n\v\f\r]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') throw new Error(`no variable name on line '${line}'`);
    if (/[ \t\n\v\f\r]/.test(key.trimEnd()) || (eq >= 0 && /[ \t\n\v\f\r]/.test(key))) {
      throw new Error(`poorly formatted environment: variable '${key}' contains whitespaces`);
    }
    if (eq >= 0) out.push(line);
    else {
      const v = lookup?.(key.trimEnd());
      if (v !== undefined) out.push(`${key.trimEnd()}=${v}`);
    }
  }
  return out;
}
