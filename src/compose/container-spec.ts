/**
 * One service replica as the Engine API's container create body, labelled as Docker Compose
 * labels its containers, and the service's config hash: what `up` compares to decide whether a
 * container still matches its service or must be recreated.
 */
import { createHash } from 'node:crypto';
import type { Mount, Project, Service } from './model';

export const COMPOSE_VERSION = '2.29.0';

export const Label = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  hash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  version: 'com.docker.compose.version',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  dependsOn: 'com.docker.compose.depends_on',
  image: 'com.docker.compose.image',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

/** The container of replica `n`: <project>-<service>-<n>, or the service's container_name. */
export function containerName(project: Project, service: Service, n: number): string {
  return service.containerName ?? `${project.name}-${service.name}-${n}`;
}

/** The image a service runs: its `image`, or for a build without one, <project>-<service>. */
export function imageName(project: Project, service: Service): string {
  return service.image ?? `${project.name}-${service.name}`;
}

/**
 * What makes a container current: the service as loaded (replica count aside: scaling does not
 * recreate) and the image it was made from (a rebuilt or re-pulled image recreates it).
 */
export function configHash(service: Service, imageId: string): string {
  const { replicas: _replicas, ...rest } = service;
  return createHash('sha256').update(canonical(rest)).update('\0').update(imageId).digest('hex');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function mountOf(project: Project, m: Mount): Record<string, unknown> {
  switch (m.type) {
    case 'volume':
      return {
        Type: 'volume',
        ...(m.source ? { Source: project.volumes[m.source]?.name ?? m.source } : {}),
        Target: m.target,
        ReadOnly: m.readOnly,
        ...(m.nocopy ? { VolumeOptions: { NoCopy: true } } : {}),
      };
    case 'bind':
      return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly, ...(m.createHostPath ? {} : { BindOptions: { CreateMountpoint: false } }) };
    case 'tmpfs':
      return { Type: 'tmpfs', Target: m.target, TmpfsOptions: { ...(m.size ? { SizeBytes: m.size } : {}), ...(m.mode ? { Mode: m.mode } : {}) } };
  }
}

/** The create body of replica `n`, attached at creation to its first network (the rest are connected after). */
export function createBody(project: Project, service: Service, n: number, image: string, hash: string): Record<string, unknown> {
  const labels: Record<string, string> = {
    ...service.labels,
    [Label.project]: project.name,
    [Label.service]: service.name,
    [Label.number]: String(n),
    [Label.hash]: hash,
    [Label.oneoff]: 'False',
    [Label.version]: COMPOSE_VERSION,
    [Label.workingDir]: project.workingDir,
    [Label.configFiles]: project.files.join(','),
    [Label.dependsOn]: Object.entries(service.dependsOn)
      .map(([s, d]) => `${s}:${d.condition}:${d.restart}`)
      .join(','),
    [Label.image]: image,
  };
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const p of service.ports) {
    const key = `${p.target}/${p.protocol}`;
    exposed[key] = {};
    (ports[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.published ?? '' });
  }
  for (const e of service.expose) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  const [first] = Object.keys(service.networks);
  const networkMode = service.networkMode ?? (first ? project.networks[first].name : undefined);
  const host: Record<string, unknown> = {
    Mounts: [
      ...service.volumes.map((m) => mountOf(project, m)),
      // File-based secrets and configs are read-only binds of their files, as Compose mounts them.
      ...service.secrets.map((f) => ({ Type: 'bind', Source: project.secrets[f.source].file, Target: f.target, ReadOnly: true })),
      ...service.configs.map((f) => ({ Type: 'bind', Source: project.configs[f.source].file, Target: f.target, ReadOnly: true })),
    ],
    PortBindings: ports,
    ...(networkMode ? { NetworkMode: networkMode } : {}),
    ...(service.restart ? { RestartPolicy: restartPolicy(service.restart) } : {}),
    CapAdd: service.capAdd,
    CapDrop: service.capDrop,
    ...(service.init !== undefined ? { Init: service.init } : {}),
    ReadonlyRootfs: service.readOnly ?? false,
    Tmpfs: Object.fromEntries(service.tmpfs.map((t) => [t.split(':')[0], t.includes(':') ? t.slice(t.indexOf(':') + 1) : ''])),
    ExtraHosts: service.extraHosts,
    Dns: service.dns,
    ...(service.limits?.memory ? { Memory: service.limits.memory } : {}),
    ...(service.limits?.cpus ? { NanoCpus: Math.round(service.limits.cpus * 1e9) } : {}),
    ...(service.limits?.pids ? { PidsLimit: service.limits.pids } : {}),
    ...(service.logging?.driver ? { LogConfig: { Type: service.logging.driver, Config: service.logging.options } } : {}),
    ...(service.privileged ? { Privileged: true } : {}),
    ...(service.pid ? { PidMode: service.pid } : {}),
    ...(service.ipc ? { IpcMode: service.ipc } : {}),
  };
  const endpoints = first && !service.networkMode ? { [project.networks[first].name]: endpoint(service, first) } : {};
  return {
    Image: image,
    ...(service.command ? { Cmd: service.command } : {}),
    ...(service.entrypoint ? { Entrypoint: service.entrypoint } : {}),
    Env: Object.entries(service.environment).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: exposed,
    Labels: labels,
    ...(service.user ? { User: service.user } : {}),
    ...(service.workingDir ? { WorkingDir: service.workingDir } : {}),
    ...(service.hostname ? { Hostname: service.hostname } : {}),
    ...(service.healthcheck ? { Healthcheck: healthcheck(service) } : {}),
    ...(service.stopSignal ? { StopSignal: service.stopSignal } : {}),
    ...(service.stopGracePeriod !== undefined ? { StopTimeout: service.stopGracePeriod } : {}),
    Tty: service.tty ?? false,
    OpenStdin: service.stdinOpen ?? false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
}

/** A replica's endpoint on network `key`: the service name as an alias, as Compose gives it. */
export function endpoint(service: Service, key: string): Record<string, unknown> {
  const n = service.networks[key];
  return {
    Aliases: [service.name, ...n.aliases],
    ...(n.ipv4Address || n.ipv6Address ? { IPAMConfig: { ...(n.ipv4Address ? { IPv4Address: n.ipv4Address } : {}), ...(n.ipv6Address ? { IPv6Address: n.ipv6Address } : {}) } } : {}),
  };
}

function restartPolicy(r: string): { Name: string; MaximumRetryCount?: number } {
  const m = /^on-failure:(\d+)$/.exec(r);
  return m ? { Name: 'on-failure', MaximumRetryCount: Number(m[1]) } : { Name: r === 'no' ? '' : r };
}

function healthcheck(service: Service): Record<string, unknown> {
  const h = service.healthcheck!;
  return {
    Test: h.test,
    ...(h.interval !== undefined ? { Interval: h.interval } : {}),
    ...(h.timeout !== undefined ? { Timeout: h.timeout } : {}),
    ...(h.startPeriod !== undefined ? { StartPeriod: h.startPeriod } : {}),
    ...(h.retries !== undefined ? { Retries: h.retries } : {}),
  };
}
