/**
 * A container as Docker's API describes it: Config (what runs), HostConfig (how the host runs
 * it), State (what happened). Field names are the API's. This module also turns a create request
 * plus the image's config into the container's final Config, as Docker merges them.
 */
import { normalizeLogConfig } from '../runtime/log-rotation';
import { invalid } from '../errors';
import type { Digest } from '../store/content-store';
import { type HealthConfig, type HealthState, mergeHealthcheck, validateHealthcheck } from './health';
import { type RunConfig, sortedMap } from './image-config';
import { type HostSettings, normalizeHostSettings } from './host-config';
import type { MountPoint } from './mounts';
import { type RestartPolicy, validateRestartPolicy } from './restart-policy';

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
}

/** HostConfig is kept as the client sent it (with Docker's defaults filled in) and echoed by inspect. */
export type HostConfig = Record<string, unknown> & HostSettings & {
  AutoRemove: boolean;
  NetworkMode: string;
  ShmSize: number;
  ReadonlyRootfs: boolean;
  GroupAdd: string[] | null;
  RestartPolicy: RestartPolicy;
};

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: Status;
  Pid: number;
  ExitCode: number;
  Error: string;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  /** Restarts done by the restart policy (inspect's top-level RestartCount). */
  RestartCount?: number;
  /** Stopped by stop/kill (Docker's HasBeenManuallyStopped): cancels the policy's next restart. */
  ManuallyStopped?: boolean;
  Health?: HealthState;
}

/** Docker prints Go's zero time for "never". */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return { Status: 'created', Pid: 0, ExitCode: 0, Error: '', OOMKilled: false, StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME };
}

/** A container's settings on one network (NetworkingConfig.EndpointsConfig, `network connect`). */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  Links?: string[] | null;
  DriverOpts?: Record<string, string> | null;
  NetworkID?: string;
}

/** What is stored for a container and loaded again after a restart. */
export interface ContainerSpec {
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Path: string;
  Args: string[];
  /** The networks it is on, by name (absent in rows made before networks: loopback only). */
  Networks?: Record<string, EndpointConfig>;
  /** Its mounts, resolved at create (mounts.ts). */
  Mounts?: MountPoint[];
  /**
   * Its writable layer is read once after the exit or thrown away (a build step's container):
   * mounted volatile, so overlay skips every sync (see OverlaySnapshotter.mount).
   */
  Volatile?: boolean;
}

export interface ContainerRecord {
  id: string;
  name: string;
  imageId: Digest;
  layer: Digest | null;
  created: string;
  spec: ContainerSpec;
  state: ContainerState;
}

/** The body of POST /containers/create: Config fields at the top level, plus HostConfig. */
export interface CreateRequest extends Partial<Omit<ContainerConfig, 'Env' | 'Cmd' | 'Entrypoint' | 'Labels'>> {
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Labels?: Record<string, string> | null;
  HostConfig?: Record<string, unknown> | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig> | null } | null;
}

const asList = (v: string[] | string | null | undefined): string[] | null | undefined =>
  typeof v === 'string' ? [v] : v;

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** The request's entries first, then the image's entries it does not override (moby's merge). */
export function mergeEnv(image: string[] | null | undefined, user: string[] | null | undefined): string[] {
  if (!user || user.length === 0) return [...(image ?? [])];
  const keys = new Set(user.map(envKey));
  return [...user, ...(image ?? []).filter((e) => !keys.has(envKey(e)))];
}

/** Docker's ReplaceOrAppendEnvValues: an entry replaces the one with its key in place, or is appended. */
export function replaceOrAppend(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const i = out.findIndex((x) => envKey(x) === envKey(e));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** The container's spec from a create request and its image; Docker's warnings go to `warnings`. */
export function buildSpec(req: CreateRequest, image: RunConfig, imageName: string, warnings: string[] = []): ContainerSpec {
  // Cmd and Entrypoint may be a string (Docker's strslice); Env must be a list.
  for (const [k, v] of Object.entries({ Env: req.Env, Cmd: req.Cmd, Entrypoint: req.Entrypoint })) {
    const stringOk = k !== 'Env' && typeof v === 'string';
    if (v != null && !stringOk && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) {
      throw invalid(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field Config.${k} of type []string`);
    }
  }
  // moby's merge: a non-empty entrypoint from the request replaces the image's and drops its
  // Cmd; an empty one ([], compose's `entrypoint: []`) clears the entrypoint but keeps the image
  // Cmd; none at all inherits both. [""] is the docker CLI's `--entrypoint ""`: it counts as given
  // (so the image Cmd goes) but runs nothing itself.
  const givenEntrypoint = asList(req.Entrypoint);
  const userCmd = asList(req.Cmd);
  const resetEntrypoint = givenEntrypoint?.length === 1 && givenEntrypoint[0] === '';
  let entrypoint: string[] | null;
  let cmd: string[] | null;
  if (givenEntrypoint != null && givenEntrypoint.length > 0) {
    entrypoint = resetEntrypoint ? null : givenEntrypoint;
    cmd = userCmd != null && userCmd.length > 0 ? userCmd : null;
  } else {
    entrypoint = givenEntrypoint == null ? (image.Entrypoint ?? null) : null;
    cmd = userCmd != null && userCmd.length > 0 ? userCmd : (image.Cmd ?? null);
  }
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (argv.length === 0) throw invalid('no command specified');

  const workingDir = req.WorkingDir || image.WorkingDir || '';
  if (workingDir !== '' && !workingDir.startsWith('/')) {
    throw invalid(`the working directory '${workingDir}' is invalid, it needs to be an absolute path`);
  }
  const config: ContainerConfig = {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User || image.User || '',
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    ...(req.ExposedPorts || image.ExposedPorts ? { ExposedPorts: sortedMap({ ...image.ExposedPorts, ...req.ExposedPorts }) } : {}),
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: mergeEnv(image.Env, req.Env),
    Cmd: cmd,
    Image: imageName,
    // The image's VOLUMEs stay, whatever the request adds (clients always send Volumes: {}).
    Volumes: req.Volumes || image.Volumes ? sortedMap({ ...(image.Volumes ?? {}), ...(req.Volumes ?? {}) }) : null,
    WorkingDir: workingDir,
    Entrypoint: entrypoint,
    OnBuild: image.OnBuild ?? null,
    Labels: sortedMap({ ...(image.Labels ?? {}), ...(req.Labels ?? {}) }),
    ...(req.StopSignal || image.StopSignal ? { StopSignal: req.StopSignal || image.StopSignal } : {}),
    ...(req.StopTimeout !== undefined && req.StopTimeout !== null ? { StopTimeout: req.StopTimeout } : {}),
  };
  const healthcheck = mergeHealthcheck((image as { Healthcheck?: HealthConfig }).Healthcheck, req.Healthcheck);
  const healthError = validateHealthcheck(healthcheck);
  if (healthError) throw invalid(healthError);
  if (healthcheck) config.Healthcheck = healthcheck;
  const hc = req.HostConfig ?? {};
  const networkMode = typeof hc.NetworkMode === 'string' ? hc.NetworkMode : '';
  // Docker's checks and words for --pid and --ipc.
  if (hc.PidMode !== undefined && hc.PidMode !== '' && !(hc.PidMode === 'host' || (typeof hc.PidMode === 'string' && /^container:.+/.test(hc.PidMode)))) {
    throw invalid(`invalid PID mode: ${String(hc.PidMode)}`);
  }
  if (hc.IpcMode !== undefined && hc.IpcMode !== '' && !(['private', 'shareable', 'host', 'none'].includes(hc.IpcMode as string) || (typeof hc.IpcMode === 'string' && /^container:.+/.test(hc.IpcMode)))) {
    throw invalid(`invalid IPC mode: ${String(hc.IpcMode)}`);
  }
  const hostConfig: HostConfig = {
    ...hc,
    AutoRemove: hc.AutoRemove === true,
    // Resolved against the networks by the container service ('default' is 'bridge').
    NetworkMode: networkMode || 'default',
    ShmSize: typeof hc.ShmSize === 'number' && hc.ShmSize > 0 ? hc.ShmSize : 64 * 1024 * 1024,
    ReadonlyRootfs: hc.ReadonlyRootfs === true,
    GroupAdd: Array.isArray(hc.GroupAdd) ? (hc.GroupAdd as string[]) : null,
    RestartPolicy: validateRestartPolicy(hc.RestartPolicy, hc.AutoRemove === true),
    // Reported as json-file (conmon's k8s-file is the format on disk): clients such as
    // docker-compose only read logs from drivers they know, and `logs` behaves as json-file's does.
    LogConfig: normalizeLogConfig(hc.LogConfig),
    Runtime: 'runc',
  };
  // Resources and security options: Docker's checks, and its defaults filled in (MemorySwap…).
  warnings.push(...normalizeHostSettings(hostConfig));
  return { Config: config, HostConfig: hostConfig, Path: argv[0], Args: argv.slice(1) };
}

/**
 * The environment the process gets: Docker's defaults before the container's own. HOME is left
 * to runc, which sets it from the container's passwd file when absent, as under Docker.
 */
export function processEnv(config: ContainerConfig, hostname: string): string[] {
  const defaults = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${hostname}`];
  if (config.Tty) defaults.push('TERM=xterm');
  return replaceOrAppend(defaults, config.Env);
}
