/**
 * A container's OCI bundle: <data-root>/containers/<id>/ holding config.json and the files the
 * daemon owns inside the container (/etc/hostname, /etc/hosts, /etc/resolv.conf), bound in at
 * start so the image's own copies are never modified.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { resolveInRoot } from '../store/scoped-path';
import { execFile } from 'node:child_process';
import { buildSpec as buildOciSpec, devicesFromPath, hostDevices, mergeTmpfsOptions, type OciDevice, type OciDeviceRule, type OciMount } from '../runtime/oci-spec';
import type { MountPoint } from './mounts';
import { isMountPoint, mount, MS_BIND, MS_REC } from '../store/syscalls';
import { fromDockerProfile, type OciSeccomp, thisMachine, toOciSeccomp } from '../runtime/seccomp';
import { DEFAULT_SECCOMP } from '../runtime/seccomp-default';
import type { SeccompLoader } from '../runtime/seccomp-loader';
import { resolveUser } from '../runtime/user';
import { BerthError, invalid } from '../errors';
import { type HostConfig, type ContainerRecord, processEnv } from './container-model';
import { capabilitiesOf, ociResources, parseExtraHost, securityOptions } from './host-config';

const HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::\tip6-localnet',
  'ff00::\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** The host's resolv.conf without loopback resolvers, which mean nothing inside a container. */
function hostResolvConf(): string {
  let host = '';
  try {
    host = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolver configured on the host: the container gets an empty file, as with Docker.
  }
  return host
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l))
    .join('\n');
}

/**
 * The container's resolv.conf: the host's, with --dns, --dns-search and --dns-option replacing
 * its nameservers, search domains and options (`--dns-search .` means none).
 */
export function containerResolvConf(host: string, hc: Pick<HostConfig, 'Dns' | 'DnsSearch' | 'DnsOptions'>): string {
  const dns = hc.Dns ?? [];
  const search = hc.DnsSearch ?? [];
  const options = hc.DnsOptions ?? [];
  if (dns.length === 0 && search.length === 0 && options.length === 0) return host;
  const field = (key: string) => host.split('\n').filter((l) => new RegExp(`^\\s*${key}\\s`).test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  const servers = dns.length > 0 ? dns : field('nameserver');
  const domains = search.length > 0 ? search.filter((d) => d !== '.') : field('search');
  const opts = options.length > 0 ? options : field('options');
  return [
    ...servers.map((n) => `nameserver ${n}`),
    ...(domains.length > 0 ? [`search ${domains.join(' ')}`] : []),
    ...(opts.length > 0 ? [`options ${opts.join(' ')}`] : []),
  ].join('\n') + '\n';
}

/**
 * /etc/hosts: the loopback entries, --add-host entries in order, then the network's (the
 * container's own address, --link targets). `host-gateway` is the default bridge's gateway.
 */
export function containerHosts(extra: string[], network: string[] = [], hostGateway?: string): string {
  const added = extra.map((e) => parseExtraHost(e)).map(({ host, ip }) => {
    if (ip !== 'host-gateway') return `${ip}\t${host}`;
    if (!hostGateway) throw invalid('unable to derive the IP value for host-gateway: the daemon has no default bridge network');
    return `${hostGateway}\t${host}`;
  });
  return [...HOSTS, ...added, ...network].join('\n') + '\n';
}

/** --hostname, else the host's with --network host (as Docker does), else the short id. */
export function hostnameOf(r: ContainerRecord): string {
  if (r.spec.Config.Hostname) return r.spec.Config.Hostname;
  return r.spec.HostConfig.NetworkMode === 'host' ? os.hostname() : r.id.slice(0, 12);
}

/**
 * Plain writes, no temp file and rename: these files belong to one container and are rewritten
 * whole only while it is stopped, and runc reads config.json only once conmon is spawned. A
 * crash mid-write leaves a file the next start rewrites. (The renames cost ~0.5 ms each on the
 * `docker run` path.)
 */
function writeFile(path: string, data: string): void {
  fs.writeFileSync(path, data, { mode: 0o644 });
}

/**
 * The container's own runtime config, for its execs: spec.json when runc got a rewritten one
 * (the seccomp loader), else config.json. The loader's filter is named in LOADER_ANNOTATION.
 */
export const SPEC_FILE = 'spec.json';
export const LOADER_ANNOTATION = 'io.berth.seccomp-loader';

/**
 * Writes config.json and the etc files for a start of `r` on the mounted `rootfs`. With a
 * `loader`, runc gets a config that starts the program through it where it can
 * (runtime/seccomp-loader.ts); returns why not, or null.
 */
export function writeBundle(dir: string, r: ContainerRecord, rootfs: string, cgroupParent: string, net: BundleNetwork, loader?: SeccompLoader): string | null {
  const { Config: config, HostConfig: hc } = r.spec;
  const hostname = hostnameOf(r);
  writeFile(join(dir, 'hostname'), `${hostname}\n`);
  writeFile(join(dir, 'hosts'), net.oci === 'host' ? hostFile('/etc/hosts') : containerHosts(hc.ExtraHosts ?? [], net.hosts, net.hostGateway));
  writeFile(join(dir, 'resolv.conf'), net.nameserver ? embeddedResolvConf(net.nameserver, hostResolvConf(), hc) : containerResolvConf(net.oci === 'host' ? hostFile('/etc/resolv.conf') : hostResolvConf(), { ...hc, Dns: hc.Dns?.length ? hc.Dns : net.dns ?? [] }));

  const user = resolveUser(rootfs, config.User, hc.GroupAdd ?? []);
  const cwd = config.WorkingDir || '/';
  ensureWorkingDir(rootfs, cwd, user.uid, user.gid);
  const caps = capabilitiesOf(hc);
  const security = securityOptions(hc.SecurityOpt ?? []);
  const spec = buildOciSpec({
    rootfs,
    readonlyRootfs: hc.ReadonlyRootfs,
    hostname,
    process: {
      terminal: config.Tty,
      // The client's terminal size when it sent one (docker run -t does), so the first prompt fits.
      ...(config.Tty ? { consoleSize: consoleSizeOf(hc.ConsoleSize) } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args: [r.spec.Path, ...r.spec.Args],
      env: processEnv(config, hostname),
      cwd,
      capabilities: caps,
      noNewPrivileges: security.noNewPrivileges,
      rlimits: (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, hard: u.Hard, soft: u.Soft })),
    },
    etcFiles: [
      { destination: '/etc/resolv.conf', source: join(dir, 'resolv.conf') },
      { destination: '/etc/hostname', source: join(dir, 'hostname') },
      { destination: '/etc/hosts', source: join(dir, 'hosts') },
    ],
    cgroupsPath: `${cgroupParent}/${r.id}`,
    shmSize: hc.ShmSize,
    resources: ociResources(hc),
    devices: devicesOf(hc),
    privileged: hc.Privileged === true,
    unmaskedPaths: security.unmaskedPaths,
    sysctl: net.oci === 'host' ? { ...hc.Sysctls } : { ...defaultSysctls(), ...hc.Sysctls },
    network: net.oci,
    ...(net.pid ? { pid: net.pid } : {}),
    ...(net.ipc ? { ipc: net.ipc } : {}),
    seccomp: seccompOf(hc, security.seccomp, caps),
    tmpfs: hc.Tmpfs ?? {},
    binds: volumeMounts(rootfs, r.spec.Mounts ?? []),
    ...(hc.Init === true ? { init: initBinary() } : {}),
  });
  const loaded = loader ? loader.apply(spec, rootfs) : { refused: 'no loader' };
  if ('config' in loaded) {
    writeFile(join(dir, SPEC_FILE), JSON.stringify({ ...spec, annotations: { [LOADER_ANNOTATION]: JSON.stringify(loaded.filter) } }));
    writeFile(join(dir, 'config.json'), JSON.stringify(loaded.config));
    return null;
  }
  fs.rmSync(join(dir, SPEC_FILE), { force: true });
  writeFile(join(dir, 'config.json'), JSON.stringify(spec));
  return loaded.refused;
}

/** What the network side decided for this start (engine/networks.ts). */
export interface BundleNetwork {
  oci: { path: string } | 'host' | undefined;
  /** --pid and --ipc, resolved: the host's, or another container's namespace by path. */
  pid?: { path: string } | 'host';
  ipc?: { path: string } | 'host';
  hosts: string[];
  nameserver?: string;
  /** Resolvers instead of the host's (the daemon's --dns). */
  dns?: string[];
  hostGateway?: string;
}

function hostFile(path: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * resolv.conf of a container on a user-defined network: the embedded DNS server (which
 * forwards what it does not know to --dns or the host's resolvers), with the search domains and
 * options of the host or of --dns-search/--dns-option.
 */
export function embeddedResolvConf(nameserver: string, host: string, hc: Pick<HostConfig, 'Dns' | 'DnsSearch' | 'DnsOptions'>): string {
  const base = containerResolvConf(host, { ...hc, Dns: [nameserver] });
  const lines = base.split('\n').filter((l) => !/^\s*nameserver\s/.test(l) && l.trim() !== '');
  return [`nameserver ${nameserver}`, ...lines].join('\n') + '\n';
}

/**
 * Volumes, binds and --mount tmpfs as OCI mounts, parents first. A volume that is empty gets the
 * image's files at its path first (Docker's copy-up), unless nocopy. runc resolves each
 * destination inside the rootfs (a symlink in the image cannot point a mount out of it).
 */
function volumeMounts(rootfs: string, mounts: MountPoint[]): OciMount[] {
  const depth = (p: string) => p.split('/').length;
  return [...mounts].sort((a, b) => depth(a.Destination) - depth(b.Destination)).map((m): OciMount => {
    if (m.Type === 'tmpfs') {
      const opts = [...(m.Tmpfs?.size ? [`size=${m.Tmpfs.size}`] : []), ...(m.Tmpfs?.mode !== undefined ? [`mode=${m.Tmpfs.mode.toString(8)}`] : []), ...(m.RW ? [] : ['ro'])];
      return { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(opts.join(',')) };
    }
    // runc resolves the destination inside the rootfs; one that resolves to the root itself (a
    // symlink to / in the image) would hide the whole container under the mount.
    if (resolveInRoot(rootfs, m.Destination) === rootfs) {
      throw invalid(`invalid mount config: the mount path ${m.Destination} resolves to / in the container`);
    }
    if (m.Type === 'volume') {
      fs.mkdirSync(m.Source, { recursive: true, mode: 0o755 });
      if (m.VolumeOptions) mountVolume(m.Source, m.VolumeOptions);
    } else if (!fs.existsSync(m.Source)) {
      throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
    }
    const propagation = m.Type === 'bind' ? m.Propagation || 'rprivate' : 'rprivate';
    return { destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.RW ? 'rw' : 'ro', propagation] };
  });
}

/**
 * A volume with the local driver's options: its device mounted on _data the first time it is
 * used (`type=tmpfs,device=tmpfs,o=size=64m`, or `type=none,o=bind,device=/path`), and kept
 * mounted until the volume is removed, as Docker's local driver does.
 */
function mountVolume(data: string, o: Record<string, string>): void {
  if (isMountPoint(data, fs.readFileSync('/proc/self/mountinfo', 'utf8'))) return;
  const opts = (o.o ?? '').split(',').filter(Boolean);
  const bind = opts.includes('bind') || opts.includes('rbind');
  const data_ = opts.filter((x) => x !== 'bind' && x !== 'rbind').join(',');
  if (bind) {
    if (!o.device || !fs.existsSync(o.device)) throw invalid(`error while mounting volume '${data}': failed to mount local volume: no such file or directory: ${o.device}`);
    mount(o.device, data, 'none', MS_BIND | (opts.includes('rbind') ? MS_REC : 0), '');
  } else {
    mount(o.device ?? o.type ?? '', data, o.type ?? '', 0, data_);
  }
}

/**
 * Docker's copy-up, before a start: every empty volume (not nocopy) gets the image's directory
 * at its path, owners, modes and xattrs kept, by one `cp -a` each, off the event loop. The
 * volume's device (driver options) is mounted first, so the copy lands on it.
 */
export async function copyUpVolumes(rootfs: string, mounts: MountPoint[]): Promise<void> {
  for (const m of mounts) {
    if (m.Type !== 'volume' || m.NoCopy) continue;
    const src = resolveInRoot(rootfs, m.Destination);
    if (src === rootfs) continue; // refused by the bundle
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(src);
    } catch {
      continue; // nothing there in the image
    }
    await fs.promises.mkdir(m.Source, { recursive: true, mode: 0o755 });
    if (m.VolumeOptions) mountVolume(m.Source, m.VolumeOptions);
    if (!st.isDirectory() || (await fs.promises.readdir(m.Source)).length > 0) continue;
    await new Promise<void>((resolve, reject) => {
      execFile('cp', ['-a', '--', `${src}/.`, m.Source], (err, _out, stderr) => {
        if (err) reject(new BerthError('internal', `copying the image's ${m.Destination} into its volume failed: ${(stderr || err.message).trim()}`));
        else resolve();
      });
    });
  }
}

/** Docker creates a missing working directory, owned by the container's user. */
function ensureWorkingDir(rootfs: string, cwd: string, uid: number, gid: number): void {
  const host = resolveInRoot(rootfs, cwd);
  if (fs.existsSync(host)) return;
  fs.mkdirSync(host, { recursive: true, mode: 0o755 });
  fs.chownSync(host, uid, gid);
}

/**
 * Docker's seccomp choice: none for seccomp=unconfined, none for a privileged container unless
 * it names a profile, else the named profile or the default, resolved for the container's
 * capabilities and this machine.
 */
function seccompOf(hc: HostConfig, profile: string, caps: string[]): OciSeccomp | undefined {
  if (profile === 'unconfined') return undefined;
  if (hc.Privileged && profile === 'default') return undefined;
  const policy = profile === 'default' ? DEFAULT_SECCOMP : fromDockerProfile(profile);
  return policy ? toOciSeccomp(policy, thisMachine(caps)) : undefined;
}

/** --device mappings; a privileged container gets every host device (and only renamed mappings). */
function devicesOf(hc: HostConfig): { nodes: OciDevice[]; rules: OciDeviceRule[] } {
  const nodes: OciDevice[] = [];
  const rules: OciDeviceRule[] = [];
  if (hc.Privileged) nodes.push(...hostDevices());
  for (const d of hc.Devices ?? []) {
    if (hc.Privileged && d.PathOnHost === d.PathInContainer) continue;
    let found;
    try {
      found = devicesFromPath(d.PathOnHost, d.PathInContainer || d.PathOnHost, hc.Privileged ? 'rwm' : d.CgroupPermissions || 'rwm');
    } catch (e) {
      throw invalid((e as Error).message);
    }
    nodes.push(...found.nodes);
    rules.push(...found.rules);
  }
  return { nodes, rules };
}

/**
 * Docker's sysctls for a container with its own network namespace: unprivileged ping and
 * binding to low ports, which its default capabilities allow anyway. Only those this kernel has.
 */
function defaultSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  if (fs.existsSync('/proc/sys/net/ipv4/ping_group_range')) out['net.ipv4.ping_group_range'] = '0 2147483647';
  if (fs.existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) out['net.ipv4.ip_unprivileged_port_start'] = '0';
  return out;
}

/**
 * The init of --init containers: Debian's tini, statically linked so it runs in images without
 * a libc; docker-init where Docker's packages put it.
 */
const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/libexec/docker/docker-init', '/usr/bin/docker-init', '/usr/local/bin/docker-init'];

function initBinary(): string {
  const found = INIT_CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) throw new BerthError('internal', `could not find init binary docker-init: install Debian's tini package (${INIT_CANDIDATES[0]})`);
  return found;
}

function consoleSizeOf(size: unknown): { height: number; width: number } {
  const ok = Array.isArray(size) && size.length === 2 && size.every((n) => Number.isInteger(n) && n > 0 && n < 65536);
  return ok ? { height: size[0] as number, width: size[1] as number } : { height: 24, width: 80 };
}
