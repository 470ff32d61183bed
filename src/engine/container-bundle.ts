/**
 * A container's OCI bundle: <data-root>/containers/<id>/ holding config.json and the files the
 * daemon owns inside the container (/etc/hostname, /etc/hosts, /etc/resolv.conf), bound in at
 * start so the image's own copies are never modified.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot } from '../store/scoped-path';
import { buildSpec as buildOciSpec } from '../runtime/oci-spec';
import { resolveUser } from '../runtime/user';
import { type ContainerRecord, processEnv } from './container-model';

const HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::\tip6-localnet',
  'ff00::\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** The host's resolv.conf without loopback resolvers, which mean nothing inside a container. */
function containerResolvConf(): string {
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

export function hostnameOf(r: ContainerRecord): string {
  return r.spec.Config.Hostname || r.id.slice(0, 12);
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

/** Writes config.json and the etc files for a start of `r` on the mounted `rootfs`. */
export function writeBundle(dir: string, r: ContainerRecord, rootfs: string, cgroupParent: string): void {
  const { Config: config, HostConfig: hc } = r.spec;
  const hostname = hostnameOf(r);
  writeFile(join(dir, 'hostname'), `${hostname}\n`);
  writeFile(join(dir, 'hosts'), HOSTS.join('\n') + '\n');
  writeFile(join(dir, 'resolv.conf'), containerResolvConf());

  const user = resolveUser(rootfs, config.User, hc.GroupAdd ?? []);
  const cwd = config.WorkingDir || '/';
  ensureWorkingDir(rootfs, cwd, user.uid, user.gid);
  const spec = buildOciSpec({
    rootfs,
    readonlyRootfs: hc.ReadonlyRootfs,
    hostname,
    process: {
      terminal: config.Tty,
      ...(config.Tty ? { consoleSize: { height: 24, width: 80 } } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args: [r.spec.Path, ...r.spec.Args],
      env: processEnv(config, hostname),
      cwd,
    },
    etcFiles: [
      { destination: '/etc/resolv.conf', source: join(dir, 'resolv.conf') },
      { destination: '/etc/hostname', source: join(dir, 'hostname') },
      { destination: '/etc/hosts', source: join(dir, 'hosts') },
    ],
    cgroupsPath: `${cgroupParent}/${r.id}`,
    shmSize: hc.ShmSize,
  });
  writeFile(join(dir, 'config.json'), JSON.stringify(spec));
}

/** Docker creates a missing working directory, owned by the container's user. */
function ensureWorkingDir(rootfs: string, cwd: string, uid: number, gid: number): void {
  const host = resolveInRoot(rootfs, cwd);
  if (fs.existsSync(host)) return;
  fs.mkdirSync(host, { recursive: true, mode: 0o755 });
  fs.chownSync(host, uid, gid);
}
