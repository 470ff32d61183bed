/**
 * The merged raw document → Project: the active services normalized, and the networks, volumes,
 * secrets and configs those services use, with their engine names (<project>_<key> unless
 * `name:` is set or the resource is external). The implicit `default` network joins when a service
 * is attached to it.
 */
import type { FileResource, Network, Project, Service, Volume } from './model';
import { isMapping } from './meta';
import { Field, NormContext, Obj, hostPath, stringMap, stringOf } from './normalize-util';
import { normalizeService } from './normalize-service';
import { parseBoolean } from './units';

export function normalizeProject(doc: Obj, ctx: NormContext, files: string[]): Project {
  const top = (k: string) => new Field(doc, k, k);
  const services = isMapping(doc.services) ? doc.services : {};
  const list: Service[] = [...ctx.active].sort().map((name) => normalizeService(services, name, ctx));

  const usedNetworks = new Set(list.flatMap((s) => Object.keys(s.networks)));
  const usedVolumes = new Set(list.flatMap((s) => s.volumes.flatMap((m) => (m.type === 'volume' && m.source ? [m.source] : []))));
  const usedSecrets = new Set(list.flatMap((s) => s.secrets.map((g) => g.source)));
  const usedConfigs = new Set(list.flatMap((s) => s.configs.map((g) => g.source)));

  const networks: Record<string, Network> = {};
  for (const name of [...usedNetworks].sort()) networks[name] = network(top('networks').at(name), name, ctx);
  const volumes: Record<string, Volume> = {};
  for (const name of [...usedVolumes].sort()) volumes[name] = volume(top('volumes').at(name), name, ctx);
  return {
    name: ctx.projectName,
    workingDir: ctx.workingDir,
    files,
    services: list,
    networks,
    volumes,
    secrets: fileResources(top('secrets'), usedSecrets, ctx),
    configs: fileResources(top('configs'), usedConfigs, ctx),
  };
}

/** `external: true`, or the legacy `external: {name: x}`; with the name it implies. */
function externalOf(f: Field): { external: boolean; name?: string } {
  const e = f.at('external');
  if (isMapping(e.value)) return { external: true, name: stringOf(e.at('name')) };
  return { external: e.optional(parseBoolean) ?? false };
}

function engineName(f: Field, key: string, ctx: NormContext): { name: string; external: boolean } {
  const def = isMapping(f.value);
  const ext = def ? externalOf(f) : { external: false };
  const given = def ? stringOf(f.at('name')) : undefined;
  if (ext.external) {
    const extra = def ? Object.keys(f.value as Obj).filter((k) => !['name', 'external', 'labels'].includes(k) && !k.startsWith('x-')) : [];
    if (extra.length > 0) throw f.at(extra[0]).error(`an external resource takes only name and external`);
    return { name: given ?? ext.name ?? key, external: true };
  }
  return { name: given ?? `${ctx.projectName}_${key}`, external: false };
}

function network(f: Field, key: string, ctx: NormContext): Network {
  const { name, external } = engineName(f, key, ctx);
  const out: Network = { name, external, driverOpts: {}, internal: false, enableIpv6: false, labels: {} };
  if (!isMapping(f.value)) return out;
  const driver = stringOf(f.at('driver'));
  if (driver !== undefined) out.driver = driver;
  out.driverOpts = stringMap(f.at('driver_opts'));
  out.internal = f.at('internal').optional(parseBoolean) ?? false;
  out.enableIpv6 = f.at('enable_ipv6').optional(parseBoolean) ?? false;
  out.labels = stringMap(f.at('labels'));
  const ipam = f.at('ipam');
  if (isMapping(ipam.value)) {
    const config = ipam.at('config').entries().map((c) => {
      const entry: { subnet?: string; ipRange?: string; gateway?: string } = {};
      const subnet = stringOf(c.at('subnet'));
      const ipRange = stringOf(c.at('ip_range'));
      const gateway = stringOf(c.at('gateway'));
      if (subnet !== undefined) entry.subnet = subnet;
      if (ipRange !== undefined) entry.ipRange = ipRange;
      if (gateway !== undefined) entry.gateway = gateway;
      return entry;
    });
    const ipamDriver = stringOf(ipam.at('driver'));
    out.ipam = { ...(ipamDriver !== undefined ? { driver: ipamDriver } : {}), config };
  }
  return out;
}

function volume(f: Field, key: string, ctx: NormContext): Volume {
  const { name, external } = engineName(f, key, ctx);
  const out: Volume = { name, external, driverOpts: {}, labels: {} };
  if (!isMapping(f.value)) return out;
  const driver = stringOf(f.at('driver'));
  if (driver !== undefined) out.driver = driver;
  out.driverOpts = stringMap(f.at('driver_opts'));
  out.labels = stringMap(f.at('labels'));
  return out;
}

/** File-based secrets or configs the services use (the service side checked they are file-based). */
function fileResources(f: Field, used: Set<string>, ctx: NormContext): Record<string, FileResource> {
  const out: Record<string, FileResource> = {};
  for (const name of [...used].sort()) {
    const def = f.at(name);
    out[name] = { file: hostPath(stringOf(def.at('file')) ?? '', ctx) };
  }
  return out;
}
