/**
 * One raw service definition (merged, interpolated, validated) → the model's Service: short
 * syntaxes expanded, units converted, paths made absolute, references checked.
 */
import * as fs from 'node:fs';
import { parseEnvFile } from './env-file';
import { hostsMapping } from './merge';
import { isMapping } from './meta';
import type { Build, Healthcheck, Port, Service, ServiceNetwork } from './model';
import { normalizeGrants, normalizeMounts } from './normalize-mounts';
import { Field, NormContext, Obj, hostPath, scalarString, stringList, stringMap, stringOf } from './normalize-util';
import { displayName } from './pipeline';
import { isRemoteContext } from './rebase';
import { parsePortShort, parseProtocol } from './short-syntax';
import { parseBoolean, parseBytes, parseDuration, parseInteger, parseNumber, splitShellWords } from './units';

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

export function normalizeService(services: Obj, name: string, ctx: NormContext): Service {
  const s = new Field(services, name, `services.${name}`);
  if (!SERVICE_NAME.test(name)) throw s.error(`invalid service name "${name}": use letters, digits, '.', '_' and '-'`);
  const f = (k: string) => s.at(k);
  const bool = (k: string) => f(k).optional(parseBoolean);
  const str = (k: string) => stringOf(f(k));
  const build = f('build').present ? normalizeBuild(f('build'), ctx) : undefined;
  const image = str('image');
  if (!image && !build) throw s.error(`service "${name}" has neither an image nor a build context`);
  const networkMode = str('network_mode');
  const svc: Service = {
    name,
    image,
    build,
    command: command(f('command')),
    entrypoint: command(f('entrypoint')),
    environment: environment(s, ctx),
    ports: f('ports').entries().flatMap(port),
    expose: stringList(f('expose')),
    volumes: normalizeMounts(f('volumes'), name, ctx),
    networks: networks(s, networkMode, ctx),
    networkMode,
    dependsOn: dependsOn(f('depends_on'), ctx),
    healthcheck: f('healthcheck').present ? healthcheck(f('healthcheck')) : undefined,
    restart: restart(s),
    replicas: replicas(s),
    limits: limits(s),
    labels: { ...labelFiles(f('label_file'), ctx), ...stringMap(f('labels')) },
    user: str('user'),
    workingDir: str('working_dir'),
    hostname: str('hostname'),
    extraHosts: extraHosts(f('extra_hosts')),
    dns: stringList(f('dns')),
    capAdd: stringList(f('cap_add')),
    capDrop: stringList(f('cap_drop')),
    init: bool('init'),
    readOnly: bool('read_only'),
    tmpfs: stringList(f('tmpfs')),
    stopSignal: str('stop_signal'),
    stopGracePeriod: f('stop_grace_period').optional((v) => parseDuration(v) / 1e9),
    logging: f('logging').present ? { driver: stringOf(f('logging').at('driver')), options: stringMap(f('logging').at('options')) } : undefined,
    secrets: normalizeGrants(f('secrets'), 'secret', name, ctx),
    configs: normalizeGrants(f('configs'), 'config', name, ctx),
    pid: str('pid'),
    ipc: str('ipc'),
    containerName: str('container_name'),
    tty: bool('tty'),
    stdinOpen: bool('stdin_open'),
    privileged: bool('privileged'),
    profiles: stringList(f('profiles')),
  };
  if (svc.containerName !== undefined && svc.replicas > 1) {
    throw f('container_name').error(`service "${name}" sets container_name, so it cannot have ${svc.replicas} replicas`);
  }
  return dropUndefined(svc);
}

/** Optional fields that are absent are left out, so the model prints and compares cleanly. */
function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function command(f: Field): string[] | undefined {
  const v = f.value;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return f.convert((s) => splitShellWords(s as string));
  return f.entries().map((e) => e.convert(scalarString));
}

function normalizeBuild(f: Field, ctx: NormContext): Build {
  if (typeof f.value === 'string') {
    const context = f.value;
    return { context: isRemoteContext(context) ? context : hostPath(context, ctx), dockerfile: 'Dockerfile', args: {}, cacheFrom: [], labels: {} };
  }
  if (f.at('dockerfile_inline').present) throw f.at('dockerfile_inline').error('dockerfile_inline is not supported; put the Dockerfile in the build context');
  const context = stringOf(f.at('context')) ?? '.';
  return dropUndefined({
    context: isRemoteContext(context) ? context : hostPath(context, ctx),
    dockerfile: stringOf(f.at('dockerfile')) ?? 'Dockerfile',
    args: stringMap(f.at('args'), ctx.lookup),
    target: stringOf(f.at('target')),
    cacheFrom: stringList(f.at('cache_from')),
    labels: stringMap(f.at('labels')),
  });
}

/**
 * env_file values (later files win; a file's `${X}` sees earlier files, then the project's
 * variables), then `environment` over them. A variable `environment` names without a value is
 * looked up in the project's variables; when unset there it leaves the env_file value alone
 * (as docker compose does).
 */
function environment(s: Field, ctx: NormContext): Record<string, string> {
  const env: Record<string, string> = {};
  const ef = s.at('env_file');
  const entries = typeof ef.value === 'string' ? [ef] : ef.entries();
  for (const e of entries) {
    const long = isMapping(e.value);
    const pathField = long ? e.at('path') : e;
    const file = hostPath(pathField.convert(scalarString), ctx);
    const required = long ? (e.at('required').optional(parseBoolean) ?? true) : true;
    const format = long ? stringOf(e.at('format')) : undefined;
    if (format !== undefined && format !== 'raw') throw e.at('format').error(`unsupported env_file format "${format}" (only "raw")`);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      if (!required) continue;
      throw pathField.error(`env file ${file} not found`);
    }
    const lookup = (n: string) => (Object.prototype.hasOwnProperty.call(env, n) ? env[n] : ctx.lookup(n));
    Object.assign(env, parseEnvFile(text, { lookup, name: displayName(file, ctx.displayDir), ...(format ? { format: 'raw' as const } : {}) }));
  }
  return Object.assign(env, stringMap(s.at('environment'), ctx.lookup));
}

/** label_file: KEY=VALUE files like env files (later files win); `labels` wins over them. */
function labelFiles(f: Field, ctx: NormContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of typeof f.value === 'string' ? [f] : f.entries()) {
    const file = hostPath(e.convert(scalarString), ctx);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw e.error(`label file ${file} not found`);
    }
    Object.assign(out, parseEnvFile(text, { name: displayName(file, ctx.displayDir) }));
  }
  return out;
}

function port(e: Field): Port[] {
  const v = e.value;
  if (typeof v === 'string' || typeof v === 'number') return e.convert(() => parsePortShort(v));
  const target = e.at('target').convert((t) => parseInteger(t, 1));
  if (target > 65535) throw e.at('target').error('must be a port number (1-65535)');
  const published = e.at('published').optional(scalarString);
  if (published !== undefined && published !== '' && !/^\d+(-\d+)?$/.test(published)) {
    throw e.at('published').error(`invalid published port ${JSON.stringify(published)}`);
  }
  const hostIp = stringOf(e.at('host_ip'));
  const protocol = e.at('protocol').convert((p) => parseProtocol(p === undefined ? undefined : String(p)));
  return [dropUndefined({ target, published: published || undefined, hostIp: hostIp || undefined, protocol })];
}

function networks(s: Field, networkMode: string | undefined, ctx: NormContext): Record<string, ServiceNetwork> {
  const f = s.at('networks');
  const names = Array.isArray(f.value) ? f.entries() : [];
  const mapping = isMapping(f.value) ? f.entries() : [];
  if (networkMode !== undefined) {
    if (names.length + mapping.length > 0) throw f.error('network_mode and networks cannot be used together');
    if (networkMode.startsWith('service:') && !ctx.active.has(networkMode.slice(8))) {
      throw s.at('network_mode').error(`network_mode refers to service "${networkMode.slice(8)}", which is not defined or not active`);
    }
    return {};
  }
  const out: Record<string, ServiceNetwork> = {};
  const check = (name: string, at: Field) => {
    if (name !== 'default' && !Object.prototype.hasOwnProperty.call(ctx.networks, name)) {
      throw at.error(`service "${s.key}" refers to undefined network "${name}": declare it under the top-level networks key`);
    }
  };
  for (const e of names) {
    const name = e.convert(scalarString);
    check(name, e);
    out[name] = { aliases: [] };
  }
  for (const e of mapping) {
    const name = String(e.key);
    check(name, e);
    out[name] = isMapping(e.value)
      ? dropUndefined({ aliases: stringList(e.at('aliases')), ipv4Address: stringOf(e.at('ipv4_address')), ipv6Address: stringOf(e.at('ipv6_address')) })
      : { aliases: [] };
  }
  if (Object.keys(out).length === 0) out.default = { aliases: [] };
  return out;
}

const CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'] as const;

function dependsOn(f: Field, ctx: NormContext): Service['dependsOn'] {
  const out: Service['dependsOn'] = {};
  const deps: { name: string; e?: Field }[] = Array.isArray(f.value)
    ? f.entries().map((e) => ({ name: e.convert(scalarString) }))
    : f.entries().map((e) => ({ name: String(e.key), e }));
  for (const { name, e } of deps) {
    const long = e && isMapping(e.value);
    const condition = (long ? stringOf(e.at('condition')) : undefined) ?? 'service_started';
    if (!(CONDITIONS as readonly string[]).includes(condition)) throw e!.at('condition').error(`unknown condition "${condition}"`);
    const required = long ? (e.at('required').optional(parseBoolean) ?? true) : true;
    // Profiles activated every defined dependency; what is still missing is optional and undefined.
    if (!ctx.active.has(name)) continue;
    out[name] = { condition: condition as (typeof CONDITIONS)[number], restart: long ? (e.at('restart').optional(parseBoolean) ?? false) : false, required };
  }
  return out;
}

function healthcheck(f: Field): Healthcheck {
  if (f.at('disable').optional(parseBoolean)) return { test: ['NONE'] };
  const t = f.at('test');
  let test: string[] = [];
  if (typeof t.value === 'string') test = ['CMD-SHELL', t.value];
  else if (Array.isArray(t.value)) {
    test = t.entries().map((e) => e.convert(scalarString));
    if (test.length > 0 && !['NONE', 'CMD', 'CMD-SHELL'].includes(test[0])) {
      throw t.error(`a test list must start with "CMD", "CMD-SHELL" or "NONE", not ${JSON.stringify(test[0])}`);
    }
  }
  return dropUndefined({
    test,
    interval: f.at('interval').optional(parseDuration),
    timeout: f.at('timeout').optional(parseDuration),
    startPeriod: f.at('start_period').optional(parseDuration),
    retries: f.at('retries').optional((v) => parseInteger(v)),
  });
}

function restart(s: Field): Service['restart'] {
  const r = stringOf(s.at('restart'));
  if (r !== undefined) {
    if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(r)) {
      throw s.at('restart').error(`invalid restart policy "${r}" (no, always, on-failure[:N], unless-stopped)`);
    }
    return r as Service['restart'];
  }
  const policy = s.at('deploy').at('restart_policy');
  if (!isMapping(s.at('deploy').value) || !isMapping(policy.value)) return undefined;
  const condition = stringOf(policy.at('condition')) ?? 'any';
  if (condition === 'none') return 'no';
  if (condition === 'any') return 'always';
  const max = policy.at('max_attempts').optional((v) => parseInteger(v));
  return max !== undefined ? `on-failure:${max}` : 'on-failure';
}

function replicas(s: Field): number {
  const deploy = isMapping(s.at('deploy').value) ? s.at('deploy').at('replicas').optional((v) => parseInteger(v)) : undefined;
  const scale = s.at('scale').optional((v) => parseInteger(v));
  if (deploy !== undefined && scale !== undefined && deploy !== scale) throw s.at('scale').error(`scale (${scale}) and deploy.replicas (${deploy}) disagree`);
  return deploy ?? scale ?? 1;
}

function limits(s: Field): Service['limits'] {
  const d = s.at('deploy');
  const res = isMapping(d.value) ? d.at('resources') : undefined;
  const lim = res && isMapping(res.value) ? res.at('limits') : undefined;
  const l = (k: string) => (lim && isMapping(lim.value) ? lim.at(k) : undefined);
  const memory = l('memory')?.optional(parseBytes) ?? s.at('mem_limit').optional(parseBytes);
  const cpus = l('cpus')?.optional(parseNumber) ?? s.at('cpus').optional(parseNumber);
  const pids = l('pids')?.optional((v) => parseInteger(v, -1)) ?? s.at('pids_limit').optional((v) => parseInteger(v, -1));
  if (memory === undefined && cpus === undefined && pids === undefined) return undefined;
  return dropUndefined({ memory, cpus, pids });
}

/** "host:ip" entries, brackets around IPv6 addresses removed. */
function extraHosts(f: Field): string[] {
  if (!f.present) return [];
  const m = hostsMapping(f.value);
  if (!isMapping(m)) throw f.error('must be a list of host=ip or a mapping');
  return Object.entries(m).flatMap(([host, ips]) => [ips].flat().map((ip) => `${host}:${String(ip).replace(/^\[(.*)\]$/, '$1')}`));
}
