/**
 * A JSON Schema (draft-07) for one Compose file, after interpolation. Written for berth from the
 * Compose specification's prose. Objects reject unknown keys except x-* extensions. Where the spec
 * allows several shapes we use a type union with keywords that apply to only one of them
 * (`items` to arrays, `properties` to objects), never oneOf, so a mistake yields one clear error.
 * Numbers and booleans also accept strings: interpolation produces strings, and the normalizer
 * converts them (with its own error when they do not parse).
 */
type Schema = Record<string, unknown>;

const X = { '^x-': {} };

/** A closed mapping. */
function obj(properties: Record<string, Schema>, required?: string[]): Schema {
  return { type: 'object', properties, patternProperties: X, additionalProperties: false, ...(required ? { required } : {}) };
}

/** Adds other accepted types to a schema (keywords of the other types then don't apply to them). */
function or(types: string[], s: Schema): Schema {
  return { ...s, type: [...types, ...[s.type as string].flat()] };
}

const str: Schema = { type: 'string' };
const int: Schema = { type: ['integer', 'string'] };
const num: Schema = { type: ['number', 'string'] };
const bool: Schema = { type: ['boolean', 'string'] };
const strNum: Schema = { type: ['string', 'number'] };
const duration: Schema = { type: ['string', 'number'] };
const bytes: Schema = { type: ['string', 'number'] };
const strings: Schema = { type: 'array', items: { type: ['string', 'number'] } };
const stringOrList: Schema = { type: ['string', 'array'], items: { type: ['string', 'number'] } };
/** KEY=VAL list or KEY: VAL mapping. */
const listOrDict: Schema = {
  type: ['object', 'array'],
  items: { type: ['string', 'number'] },
  additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
};
const stringMap: Schema = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } };
const labels = listOrDict;
const extraHosts: Schema = {
  type: ['object', 'array'],
  items: str,
  additionalProperties: { type: ['string', 'array'], items: str },
};
const ulimits: Schema = {
  type: 'object',
  additionalProperties: or(['integer', 'string'], obj({ soft: int, hard: int }, ['soft', 'hard'])),
};
const command: Schema = { type: ['string', 'array', 'null'], items: { type: ['string', 'number'] } };
const blkioLimits: Schema = { type: 'array', items: obj({ path: str, rate: strNum }) };
const blkioWeights: Schema = { type: 'array', items: obj({ path: str, weight: int }) };

const healthcheck = obj({
  disable: bool,
  interval: duration,
  retries: num,
  test: { type: ['string', 'array'], items: str },
  timeout: duration,
  start_period: duration,
  start_interval: duration,
});

const resources = obj({ cpus: num, memory: bytes, pids: int });
const devices: Schema = {
  type: 'array',
  items: obj({ capabilities: strings, count: { type: ['integer', 'string'] }, device_ids: strings, driver: str, options: listOrDict }),
};

const deploy = obj({
  mode: str,
  endpoint_mode: str,
  replicas: int,
  labels,
  rollback_config: { type: 'object' },
  update_config: { type: 'object' },
  resources: obj({
    limits: resources,
    reservations: obj({ cpus: num, memory: bytes, generic_resources: { type: 'array' }, devices }),
  }),
  restart_policy: obj({ condition: { type: 'string', enum: ['none', 'on-failure', 'any'] }, delay: duration, max_attempts: int, window: duration }),
  placement: obj({ constraints: strings, preferences: { type: 'array' }, max_replicas_per_node: int }),
});

const build = or(
  ['string'],
  obj({
    context: str,
    dockerfile: str,
    dockerfile_inline: str,
    entitlements: strings,
    args: listOrDict,
    ssh: listOrDict,
    labels,
    cache_from: strings,
    cache_to: strings,
    no_cache: bool,
    additional_contexts: listOrDict,
    network: str,
    provenance: { type: ['string', 'boolean'] },
    sbom: { type: ['string', 'boolean'] },
    pull: bool,
    target: str,
    shm_size: bytes,
    extra_hosts: extraHosts,
    isolation: str,
    privileged: bool,
    secrets: { type: 'array' },
    tags: strings,
    ulimits,
    platforms: strings,
  }),
);

const port = or(
  ['string', 'number'],
  obj(
    { name: str, mode: str, host_ip: str, target: int, published: strNum, protocol: str, app_protocol: str },
    ['target'],
  ),
);

const serviceVolume = or(
  ['string'],
  obj(
    {
      type: { type: 'string', enum: ['bind', 'volume', 'tmpfs', 'cluster', 'npipe', 'image'] },
      source: str,
      target: str,
      read_only: bool,
      consistency: str,
      bind: obj({ propagation: str, create_host_path: bool, recursive: str, selinux: { type: 'string', enum: ['z', 'Z'] } }),
      volume: obj({ nocopy: bool, subpath: str, labels }),
      tmpfs: obj({ size: bytes, mode: strNum }),
      image: obj({ subpath: str }),
    },
    ['type'],
  ),
);

const fileGrant = or(['string'], obj({ source: str, target: str, uid: str, gid: str, mode: strNum }, ['source']));

const dependsOn: Schema = {
  type: ['array', 'object'],
  items: str,
  additionalProperties: obj({
    condition: { type: 'string', enum: ['service_started', 'service_healthy', 'service_completed_successfully'] },
    restart: bool,
    required: bool,
  }),
};

const serviceNetworks: Schema = {
  type: ['array', 'object'],
  items: str,
  additionalProperties: or(
    ['null'],
    obj({
      aliases: strings,
      ipv4_address: str,
      ipv6_address: str,
      link_local_ips: strings,
      mac_address: str,
      driver_opts: stringMap,
      priority: num,
      gw_priority: num,
      interface_name: str,
    }),
  ),
};

const envFile: Schema = {
  type: ['string', 'array'],
  items: or(['string'], obj({ path: str, required: bool, format: str }, ['path'])),
};

const hook = obj({ command, user: str, privileged: bool, working_dir: str, environment: listOrDict });

const service = obj({
  develop: { type: 'object' },
  deploy,
  annotations: listOrDict,
  attach: bool,
  build,
  blkio_config: obj({
    device_read_bps: blkioLimits,
    device_read_iops: blkioLimits,
    device_write_bps: blkioLimits,
    device_write_iops: blkioLimits,
    weight: int,
    weight_device: blkioWeights,
  }),
  cap_add: strings,
  cap_drop: strings,
  cgroup: { type: 'string', enum: ['host', 'private'] },
  cgroup_parent: str,
  command,
  configs: { type: 'array', items: fileGrant },
  container_name: str,
  cpu_count: int,
  cpu_percent: int,
  cpu_shares: int,
  cpu_quota: int,
  cpu_period: int,
  cpu_rt_period: duration,
  cpu_rt_runtime: duration,
  cpus: num,
  cpuset: str,
  credential_spec: { type: 'object' },
  depends_on: dependsOn,
  device_cgroup_rules: strings,
  devices: { type: 'array', items: { type: ['string', 'object'] } },
  dns: stringOrList,
  dns_opt: strings,
  dns_search: stringOrList,
  domainname: str,
  entrypoint: command,
  env_file: envFile,
  label_file: stringOrList,
  environment: listOrDict,
  expose: strings,
  extends: or(['string'], obj({ service: str, file: str }, ['service'])),
  provider: { type: 'object' },
  external_links: strings,
  extra_hosts: extraHosts,
  gpus: { type: ['string', 'array'] },
  group_add: strings,
  healthcheck,
  hostname: str,
  image: str,
  init: bool,
  ipc: str,
  isolation: str,
  labels,
  links: strings,
  logging: obj({ driver: str, options: stringMap }),
  mac_address: str,
  mem_limit: bytes,
  mem_reservation: bytes,
  mem_swappiness: int,
  memswap_limit: bytes,
  network_mode: str,
  models: { type: ['array', 'object'] },
  networks: serviceNetworks,
  oom_kill_disable: bool,
  oom_score_adj: int,
  pid: { type: ['string', 'null'] },
  pids_limit: int,
  platform: str,
  ports: { type: 'array', items: port },
  post_start: { type: 'array', items: hook },
  pre_stop: { type: 'array', items: hook },
  privileged: bool,
  profiles: strings,
  pull_policy: str,
  pull_refresh_after: str,
  read_only: bool,
  restart: str,
  runtime: str,
  scale: int,
  security_opt: strings,
  shm_size: bytes,
  secrets: { type: 'array', items: fileGrant },
  sysctls: listOrDict,
  stdin_open: bool,
  stop_grace_period: duration,
  stop_signal: str,
  storage_opt: { type: 'object' },
  tmpfs: stringOrList,
  tty: bool,
  ulimits,
  use_api_socket: bool,
  user: strNum,
  uts: str,
  userns_mode: str,
  volumes: { type: 'array', items: serviceVolume },
  volumes_from: strings,
  working_dir: str,
});

const external: Schema = or(['boolean', 'string'], obj({ name: str }));

const network = or(
  ['null'],
  obj({
    name: str,
    driver: str,
    driver_opts: stringMap,
    ipam: obj({
      driver: str,
      config: { type: 'array', items: obj({ subnet: str, ip_range: str, gateway: str, aux_addresses: stringMap }) },
      options: stringMap,
    }),
    external,
    internal: bool,
    enable_ipv4: bool,
    enable_ipv6: bool,
    attachable: bool,
    labels,
  }),
);

const volume = or(['null'], obj({ name: str, driver: str, driver_opts: stringMap, external, labels }));

const fileResource = (extra: Record<string, Schema>) =>
  or(['null'], obj({ name: str, file: str, environment: str, external, labels, driver: str, driver_opts: stringMap, template_driver: str, ...extra }));

const include: Schema = {
  type: 'array',
  items: or(['string'], obj({ path: stringOrList, project_directory: str, env_file: stringOrList }, ['path'])),
};

export const composeFileSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  ...obj({
    version: strNum,
    name: str,
    include,
    services: { type: ['object', 'null'], additionalProperties: service },
    networks: { type: ['object', 'null'], additionalProperties: network },
    volumes: { type: ['object', 'null'], additionalProperties: volume },
    secrets: { type: ['object', 'null'], additionalProperties: fileResource({}) },
    configs: { type: ['object', 'null'], additionalProperties: fileResource({ content: str }) },
    models: { type: ['object', 'null'] },
  }),
};
