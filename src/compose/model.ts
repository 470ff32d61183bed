/**
 * A Compose project after loading: files merged, variables interpolated, profiles applied, short
 * syntaxes expanded to long ones, relative paths made absolute. The loader (loader.ts) produces
 * it; `compose config` prints it; the orchestrator (project.ts) turns it into API calls. Only
 * what the loader has checked reaches here, so every field has one shape.
 */

export interface Project {
  /** Lower-case, [a-z0-9_-], from -p, COMPOSE_PROJECT_NAME, `name:` or the directory. */
  name: string;
  /** The directory relative paths were resolved against (the first file's). */
  workingDir: string;
  /** The files it was loaded from, in order. */
  files: string[];
  /** Sorted by name; only the services of the active profiles. */
  services: Service[];
  networks: Record<string, Network>;
  volumes: Record<string, Volume>;
  secrets: Record<string, FileResource>;
  configs: Record<string, FileResource>;
}

export interface Service {
  name: string;
  image?: string;
  build?: Build;
  /** Exec form: a shell-form string is split as the spec says (shell words, no shell). */
  command?: string[];
  entrypoint?: string[];
  /** Resolved values; a variable named without a value and unset in the environment is absent. */
  environment: Record<string, string>;
  ports: Port[];
  expose: string[];
  volumes: Mount[];
  /** Network name (as in Project.networks) → attachment; `default` when the file names none. */
  networks: Record<string, ServiceNetwork>;
  /** network_mode: host, none, service:<name>, container:<id>; exclusive with networks. */
  networkMode?: string;
  dependsOn: Record<string, { condition: 'service_started' | 'service_healthy' | 'service_completed_successfully'; restart: boolean; required: boolean }>;
  healthcheck?: Healthcheck;
  restart?: 'no' | 'always' | 'on-failure' | 'unless-stopped' | `on-failure:${number}`;
  /** deploy.replicas, or scale; 1 when neither is given. */
  replicas: number;
  /** deploy.resources.limits: bytes and CPUs. */
  limits?: { memory?: number; cpus?: number; pids?: number };
  labels: Record<string, string>;
  user?: string;
  workingDir?: string;
  hostname?: string;
  /** "host:ip" entries. */
  extraHosts: string[];
  dns: string[];
  capAdd: string[];
  capDrop: string[];
  init?: boolean;
  readOnly?: boolean;
  /** Container paths, with options ("/run:size=64m"). */
  tmpfs: string[];
  stopSignal?: string;
  /** Seconds. */
  stopGracePeriod?: number;
  logging?: { driver?: string; options: Record<string, string> };
  secrets: FileMount[];
  configs: FileMount[];
  pid?: string;
  ipc?: string;
  containerName?: string;
  tty?: boolean;
  stdinOpen?: boolean;
  privileged?: boolean;
  profiles: string[];
}

export interface Build {
  /** Absolute. */
  context: string;
  /** Relative to the context, as the API wants it ("Dockerfile" by default). */
  dockerfile: string;
  args: Record<string, string>;
  target?: string;
  cacheFrom: string[];
  labels: Record<string, string>;
}

export interface Port {
  /** Container port. */
  target: number;
  /** Host port or range ("8080", "8000-8010"); absent: an ephemeral one. */
  published?: string;
  hostIp?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export type Mount =
  /** A named volume of the project (source is its key in Project.volumes), or anonymous when absent. */
  | { type: 'volume'; source?: string; target: string; readOnly: boolean; nocopy?: boolean }
  /** An absolute host path. */
  | { type: 'bind'; source: string; target: string; readOnly: boolean; createHostPath: boolean }
  | { type: 'tmpfs'; target: string; size?: number; mode?: number };

export interface ServiceNetwork {
  aliases: string[];
  ipv4Address?: string;
  ipv6Address?: string;
}

export interface Healthcheck {
  /** The API's Test: ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]. */
  test: string[];
  /** Nanoseconds, as the API takes them. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  retries?: number;
}

export interface Network {
  /** The engine's name: <project>_<key>, or `name:` when given, or the external name. */
  name: string;
  external: boolean;
  driver?: string;
  driverOpts: Record<string, string>;
  internal: boolean;
  enableIpv6: boolean;
  ipam?: { driver?: string; config: { subnet?: string; ipRange?: string; gateway?: string }[] };
  labels: Record<string, string>;
}

export interface Volume {
  /** The engine's name: <project>_<key>, or `name:`, or the external name. */
  name: string;
  external: boolean;
  driver?: string;
  driverOpts: Record<string, string>;
  labels: Record<string, string>;
}

/** A file-based secret or config: its absolute host path. */
export interface FileResource {
  file: string;
}

export interface FileMount {
  /** Its key in Project.secrets / Project.configs. */
  source: string;
  /** Absolute path in the container (/run/secrets/<source> for a secret by default). */
  target: string;
  mode?: number;
}
