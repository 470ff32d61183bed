/**
 * GET /containers/{id}/json in Docker's shape. Clients index into it freely (docker CLI templates,
 * docker-py, compose), so every field Docker always sends is present, with Docker's empty values.
 */
import { join } from 'node:path';
import type { ContainerRecord } from '../../engine/container-model';
import type { Engine } from '../../engine/engine';
import { MASKED_PATHS, READONLY_PATHS } from '../../runtime/oci-spec';
import type { LiveEndpoint } from '../../engine/networks';
import { inspectMount } from '../../engine/mounts';

const HOST_CONFIG_DEFAULTS = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'bridge',
  PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  ConsoleSize: [0, 0],
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: 'host',
  Dns: [],
  DnsOptions: [],
  DnsSearch: [],
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 67108864,
  Runtime: 'runc',
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: [],
  BlkioDeviceReadBps: [],
  BlkioDeviceWriteBps: [],
  BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [],
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: [],
  DeviceCgroupRules: null,
  DeviceRequests: null,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: null,
  PidsLimit: null,
  Ulimits: [],
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  MaskedPaths: MASKED_PATHS,
  ReadonlyPaths: READONLY_PATHS,
};

export function inspectContainer(engine: Engine, r: ContainerRecord, _version: string) {
  const dir = engine.containers.bundleDir(r.id);
  const s = r.state;
  const snap = join(engine.config.dataRoot, 'snapshots', r.id);
  return {
    Id: r.id,
    Created: r.created,
    Path: r.spec.Path,
    Args: r.spec.Args,
    State: {
      Status: s.Status,
      Running: s.Status === 'running' || s.Status === 'paused',
      Paused: s.Status === 'paused',
      Restarting: s.Status === 'restarting',
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
      ...(s.Health ? { Health: s.Health } : {}),
    },
    Image: r.imageId,
    ResolvConfPath: join(dir, 'resolv.conf'),
    HostnamePath: join(dir, 'hostname'),
    HostsPath: join(dir, 'hosts'),
    LogPath: engine.containers.logPath(r.id),
    Name: `/${r.name}`,
    RestartCount: s.RestartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: engine.execs.runningIds(r.id).length ? engine.execs.runningIds(r.id) : null,
    HostConfig: { ...HOST_CONFIG_DEFAULTS, ...r.spec.HostConfig },
    GraphDriver: {
      Name: 'overlay2',
      Data: { MergedDir: join(snap, 'merged'), UpperDir: join(snap, 'diff'), WorkDir: join(snap, 'work') },
    },
    Mounts: (r.spec.Mounts ?? []).map(inspectMount),
    Config: r.spec.Config,
    NetworkSettings: networkSettings(engine, r),
  };
}

/** NetworkSettings: every network the container is on; addresses and ports while it runs. */
export function networkSettings(engine: Engine, r: ContainerRecord) {
  const running = r.state.Status === 'running' || r.state.Status === 'paused';
  const nets = engine.networks;
  const networks: Record<string, unknown> = {};
  let primary: LiveEndpoint | undefined;
  for (const [name, cfg] of Object.entries(r.spec.Networks ?? {})) {
    const ep = running && cfg.NetworkID ? nets.endpointOf(r.id, cfg.NetworkID) : undefined;
    if (ep && name === 'bridge') primary = ep;
    const userNet = name !== 'bridge' && name !== 'host' && name !== 'none';
    networks[name] = {
      IPAMConfig: cfg.IPAMConfig ?? null,
      Links: cfg.Links ?? null,
      Aliases: cfg.Aliases ?? null,
      MacAddress: ep?.mac ?? cfg.MacAddress ?? '',
      DriverOpts: cfg.DriverOpts ?? null,
      GwPriority: 0,
      NetworkID: cfg.NetworkID ?? '',
      EndpointID: ep?.hostIf ?? '',
      Gateway: ep?.gateway ?? '',
      IPAddress: ep?.ip ?? '',
      IPPrefixLen: ep?.prefixLen ?? 0,
      IPv6Gateway: ep?.gateway6 ?? '',
      GlobalIPv6Address: ep?.ip6 ?? '',
      GlobalIPv6PrefixLen: ep?.prefixLen6 ?? 0,
      DNSNames: userNet ? [r.name, r.id.slice(0, 12), ...(cfg.Aliases ?? [])] : null,
    };
  }
  return {
    Bridge: '',
    SandboxID: running ? nets.sandboxKey(r.id).split('/').pop() ?? '' : '',
    SandboxKey: running ? nets.sandboxKey(r.id) : '',
    Ports: running ? (nets.portsOf(r.id) ?? {}) : {},
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: primary?.hostIf ?? '',
    Gateway: primary?.gateway ?? '',
    GlobalIPv6Address: primary?.ip6 ?? '',
    GlobalIPv6PrefixLen: primary?.prefixLen6 ?? 0,
    IPAddress: primary?.ip ?? '',
    IPPrefixLen: primary?.prefixLen ?? 0,
    IPv6Gateway: primary?.gateway6 ?? '',
    MacAddress: primary?.mac ?? '',
    Networks: networks,
  };
}
