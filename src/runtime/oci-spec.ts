/**
 * Builds the OCI runtime config (config.json) for a container with Docker's defaults:
 * its capability set, mounts, masked and read-only paths, and fresh pid/ipc/uts/mount/network
 * namespaces. (With a new network namespace and no network config, runc brings up loopback only.)
 */
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
  linux: Record<string, unknown>;
}

/** Docker's default capabilities (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

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
  cgroupsPath: string;
  shmSize: number;
}

export function buildSpec(input: SpecInput): OciSpec {
  const caps = input.process.capabilities ?? DEFAULT_CAPABILITIES;
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${input.shmSize}`] },
    ...input.etcFiles.map((f) => ({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate'] })),
  ];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: input.process.terminal,
      ...(input.process.consoleSize ? { consoleSize: input.process.consoleSize } : {}),
      user: input.process.user,
      args: input.process.args,
      env: input.process.env,
      cwd: input.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: input.process.noNewPrivileges ?? false,
      oomScoreAdj: input.process.oomScoreAdj ?? 0,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      // Deny all, then runc adds its standard allowed devices (null, zero, full, tty, random, urandom, ptmx, pts).
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: input.cgroupsPath,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
