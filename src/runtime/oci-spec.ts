/**
 * Builds the OCI runtime config (config.json) for a container with Docker's defaults:
 * its capability set, mounts, masked and read-only paths, and fresh pid/ipc/uts/mount/network
 * namespaces. (With a new network namespace and no network config, runc brings up loopback only.)
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { OciSeccomp } from './seccomp';
export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  rlimits?: OciRlimit[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** linux.resources: the cgroup limits (runc maps them onto cgroup v1 or v2 files). */
export interface OciResources {
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}

export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    resources: OciResources & { devices: OciDeviceRule[] };
    cgroupsPath: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    devices?: OciDevice[];
    sysctl?: Record<string, string>;
    seccomp?: OciSeccomp;
  };
  annotations?: Record<string, string>;
}

/** Docker's default capabilities (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability by number (linux/capability.h), for --cap-add/--cap-drop and --privileged. */
export const CAPABILITY_NUMBERS: Record<string, number> = Object.fromEntries(
  [
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
    'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
    'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
    'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
    'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
    'CHECKPOINT_RESTORE',
  ].map((n, i) => [`CAP_${n}`, i]),
);

/**
 * The capabilities a container can be given here: those the kernel knows, and that the daemon
 * itself holds in its bounding set (runc cannot grant more than it has; in a restricted
 * sandbox that is less than the kernel's list).
 */
export function availableCapabilities(): string[] {
  let last = 40;
  let bounding = (1n << 64n) - 1n;
  try {
    last = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    const m = /^CapBnd:\s*([0-9a-f]+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch {
    // Not Linux /proc: assume everything known.
  }
  return Object.entries(CAPABILITY_NUMBERS)
    .filter(([, n]) => n <= last && ((bounding >> BigInt(n)) & 1n) === 1n)
    .map(([name]) => name);
}

export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface SpecInput {
  rootfs: string;
  readonlyRootfs: boolean;
  hostname: string;
  process: Omit<OciProcess, 'capabilities' | 'noNewPrivileges'> & { capabilities?: string[]; noNewPrivileges?: boolean };
  /** Files the daemon writes per container and binds in: /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { destination: string; source: string }[];
  /** Volumes and binds, in the order they are mounted (a parent before what is under it). */
  binds?: OciMount[];
  cgroupsPath: string;
  shmSize: number;
  resources?: OciResources;
  /** Device nodes to create, with the cgroup rules that let the container use them. */
  devices?: { nodes: OciDevice[]; rules: OciDeviceRule[] };
  /** --privileged: every host device, writable /sys and cgroups, nothing masked. */
  privileged?: boolean;
  /** systempaths=unconfined: nothing masked or read-only under /proc and /sys. */
  unmaskedPaths?: boolean;
  sysctl?: Record<string, string>;
  seccomp?: OciSeccomp;
  /** Destination → tmpfs options as the user gave them ("rw,size=64m,noexec"). */
  tmpfs?: Record<string, string>;
  /** Host path of the init binary bound at /sbin/docker-init (--init). */
  init?: string;
  /**
   * The network namespace: a new one with loopback only (the default), one to join by path
   * (berthd's, wired before the start), or the host's (no namespace).
   */
  network?: { path: string } | 'host';
  /** --pid / --ipc: the host's namespace, another container's (by path), or a new one (absent). */
  pid?: { path: string } | 'host';
  ipc?: { path: string } | 'host';
}

/** Where Docker puts the init binary of --init containers. */
export const INIT_PATH = '/sbin/docker-init';

export function buildSpec(input: SpecInput): OciSpec {
  const caps = input.process.capabilities ?? DEFAULT_CAPABILITIES;
  const privileged = input.privileged === true;
  const ro = privileged ? [] : ['ro'];
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...ro, 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${input.shmSize}`] },
  ];
  const userTmpfs = Object.entries(input.tmpfs ?? {}).map(([destination, options]): OciMount => ({
    destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(options),
  }));
  const binds = input.binds ?? [];
  const taken = new Set([...userTmpfs, ...binds].map((m) => m.destination));
  const mounts: OciMount[] = [
    // A user mount at a default's place (--tmpfs /dev/shm, -v x:/etc/hosts) replaces it, as in Docker.
    ...defaults.filter((m) => !taken.has(m.destination)),
    ...binds,
    ...input.etcFiles.filter((f) => !taken.has(f.destination)).map((f) => ({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate'] })),
    ...userTmpfs,
  ];
  let args = input.process.args;
  if (input.init) {
    args = [INIT_PATH, '--', ...args];
    mounts.push({ destination: INIT_PATH, type: 'bind', source: input.init, options: ['bind', 'ro'] });
  }
  const unmasked = privileged || input.unmaskedPaths === true;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: input.process.terminal,
      ...(input.process.consoleSize ? { consoleSize: input.process.consoleSize } : {}),
      user: input.process.user,
      args,
      env: input.process.env,
      cwd: input.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: input.process.noNewPrivileges ?? false,
      oomScoreAdj: input.process.oomScoreAdj ?? 0,
      ...(input.process.rlimits?.length ? { rlimits: input.process.rlimits } : {}),
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts,
    linux: {
      namespaces: [
        ...namespace('pid', input.pid),
        ...namespace('ipc', input.ipc),
        { type: 'uts' },
        { type: 'mount' },
        ...(input.network === 'host' ? [] : [{ type: 'network', ...(input.network ? { path: input.network.path } : {}) }]),
      ],
      resources: {
        ...input.resources,
        // Deny all, then runc adds its standard allowed devices (null, zero, full, tty, random,
        // urandom, ptmx, pts); a privileged container may use every device.
        devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }, ...(input.devices?.rules ?? [])],
      },
      cgroupsPath: input.cgroupsPath,
      ...(unmasked ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
      ...(input.devices?.nodes.length ? { devices: input.devices.nodes } : {}),
      ...(input.sysctl && Object.keys(input.sysctl).length > 0 ? { sysctl: input.sysctl } : {}),
      ...(input.seccomp ? { seccomp: input.seccomp } : {}),
    },
  };
}

// ------------------------------------------------------------------------- tmpfs options

/** Mount flags by the bit they set or clear: a later "exec" undoes an earlier "noexec". */
const FLAG_GROUPS: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev', exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand', atime: 'noatime',
  noatime: 'noatime', diratime: 'nodiratime', nodiratime: 'nodiratime', bind: 'bind', rbind: 'bind', relatime: 'relatime',
  norelatime: 'relatime', strictatime: 'strictatime', nostrictatime: 'strictatime',
  private: 'propagation', rprivate: 'propagation', shared: 'propagation', rshared: 'propagation', slave: 'propagation',
  rslave: 'propagation', unbindable: 'propagation', runbindable: 'propagation',
};
const TMPFS_DATA = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/**
 * Docker's tmpfs options: noexec, nosuid, nodev and rprivate unless the user says otherwise;
 * the last of two opposite flags (or two values of one key) wins. Throws on an unknown option.
 */
export function mergeTmpfsOptions(user: string): string[] {
  const options = ['noexec', 'nosuid', 'nodev', 'rprivate', ...(user ? user.split(',') : [])];
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const group = FLAG_GROUPS[o];
    if (group) {
      if (!seenFlags.has(group)) {
        out.unshift(o);
        seenFlags.add(group);
      }
      continue;
    }
    const eq = o.indexOf('=');
    if (eq < 0 || !TMPFS_DATA.has(o.slice(0, eq))) {
      throw new Error(`invalid tmpfs option [${o.split('=').map((p) => JSON.stringify(p)).join(' ')}]`);
    }
    const key = o.slice(0, eq);
    if (!seenData.has(key)) {
      out.unshift(o);
      seenData.add(key);
    }
  }
  return out;
}

// ------------------------------------------------------------------------- devices

/** A host device node as runc should create it at `inContainer`, or null if `path` is not one. */
function deviceAt(path: string, inContainer: string): OciDevice | null {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('no such file or directory');
    throw e;
  }
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : null;
  if (!type) return null;
  const rdev = st.rdev;
  // glibc's gnu_dev_major/minor.
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { path: inContainer, type, major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) };
}

function walk(dir: string, visit: (path: string) => void, skip: (name: string) => boolean = () => false): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip(e.name)) walk(p, visit, skip);
    } else if (!e.isSymbolicLink()) {
      visit(p);
    }
  }
}

/**
 * Docker's DevicesFromPath (--device): one device node, or every node under a directory, with
 * cgroup rules granting `permissions` on each.
 */
export function devicesFromPath(onHost: string, inContainer: string, permissions: string): { nodes: OciDevice[]; rules: OciDeviceRule[] } {
  let resolved = onHost;
  try {
    resolved = fs.realpathSync(onHost);
  } catch {
    // reported below
  }
  const nodes: OciDevice[] = [];
  let why = 'not a device node';
  try {
    const d = deviceAt(resolved, inContainer);
    if (d) nodes.push(d);
    else if (fs.statSync(resolved).isDirectory()) {
      walk(resolved, (p) => {
        try {
          const child = deviceAt(p, inContainer + p.slice(resolved.length));
          if (child) nodes.push(child);
        } catch {
          // not a device: skipped, as Docker does
        }
      });
    }
  } catch (e) {
    why = (e as Error).message;
  }
  if (nodes.length === 0) throw new Error(`error gathering device information while adding custom device "${onHost}": ${why}`);
  const rules = nodes.filter((n) => n.type !== 'p').map((n) => ({ allow: true, type: n.type as 'c' | 'b', major: n.major, minor: n.minor, access: permissions }));
  return { nodes, rules };
}

/** Every device node of the host's /dev, as a privileged container gets them (runc's GetDevices). */
export function hostDevices(): OciDevice[] {
  const nodes: OciDevice[] = [];
  const skipDirs = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
  walk('/dev', (p) => {
    if (p === '/dev/console') return;
    try {
      const d = deviceAt(p, p);
      if (d && d.type !== 'p') nodes.push(d);
    } catch {
      // vanished meanwhile
    }
  }, (name) => skipDirs.has(name));
  return nodes;
}

/** A namespace entry: none for the host's, a path to join another's, or a new one. */
function namespace(type: 'pid' | 'ipc', ns: { path: string } | 'host' | undefined): { type: string; path?: string }[] {
  if (ns === 'host') return [];
  return [{ type, ...(ns ? { path: ns.path } : {}) }];
}
