/**
 * Merging Compose documents (several -f files, an override file) and services (extends), as the
 * spec's merge rules say: mappings merge key by key, sequences append, scalars are replaced.
 * Exceptions: command, entrypoint and healthcheck.test are replaced; ports, volumes, secrets and
 * configs merge by their unique key (an entry with the key of an earlier one replaces it);
 * environment, labels and other KEY=VAL lists merge as mappings whichever syntax each side uses;
 * capability-like lists drop duplicates. `!reset` removes a value and `!override` replaces it
 * without merging. Inputs are not modified; results keep every value's location.
 */
import { cloneTree, ensureMeta, isMapping, metaOf, putFrom, pushFrom, tagOf } from './meta';
import { parsePortShort, parseVolumeShort } from './short-syntax';

type Rule = (base: unknown, over: unknown, path: string[]) => unknown;
type Obj = Record<string, unknown>;

export function mergeDocuments(base: Obj, over: Obj): Obj {
  return mergeValue(base, over, []) as Obj;
}

/** `over` on top of `base`, both service definitions (used by extends). */
export function mergeService(base: Obj, over: Obj): Obj {
  return mergeValue(base, over, ['services', '*']) as Obj;
}

function mergeValue(base: unknown, over: unknown, path: string[]): unknown {
  const rule = RULES[pattern(path)];
  if (rule) return rule(base, over, path);
  return mergeDefault(base, over, path);
}

/** The rule table's key: the service name becomes `*`. */
function pattern(path: string[]): string {
  return path.map((p, i) => (i === 1 && path[0] === 'services' ? '*' : p)).join('.');
}

function mergeDefault(base: unknown, over: unknown, path: string[]): unknown {
  if (isMapping(base) && isMapping(over)) return mergeMappings(base, over, path);
  if (Array.isArray(base) && Array.isArray(over)) return appendLists(base, over, false);
  return cloneTree(over);
}

/** Key by key; `over`'s tags decide first. `keepOnNull`: a null in `over` leaves `base`'s value. */
function mergeMappings(base: Obj, over: Obj, path: string[], keepOnNull = false): Obj {
  const out: Obj = {};
  ensureMeta(out, metaOf(over)?.loc ?? metaOf(base)?.loc);
  for (const [k, v] of Object.entries(base)) putFrom(out, k, cloneTree(v), base, k);
  for (const [k, v] of Object.entries(over)) {
    const tag = tagOf(over, k);
    if (tag === 'reset') {
      delete out[k];
      continue;
    }
    if (tag === 'override' || !(k in base)) {
      putFrom(out, k, cloneTree(v), over, k);
    } else if (!(keepOnNull && v === null)) {
      putFrom(out, k, mergeValue(base[k], v, [...path, k]), over, k);
    }
  }
  return out;
}

function appendLists(base: unknown[], over: unknown[], unique: boolean): unknown[] {
  const out: unknown[] = [];
  ensureMeta(out, metaOf(over)?.loc ?? metaOf(base)?.loc);
  const seen = new Set<string>();
  const add = (from: unknown[], i: number) => {
    const k = JSON.stringify(from[i]);
    if (unique && seen.has(k)) return;
    seen.add(k);
    pushFrom(out, cloneTree(from[i]), from, i);
  };
  base.forEach((_, i) => add(base, i));
  over.forEach((_, i) => add(over, i));
  return out;
}

/** Lists whose entries have an identity: a later entry with the same key replaces the earlier. */
function byKey(keyOf: (item: unknown) => string): Rule {
  return (base, over) => {
    if (!Array.isArray(base) || !Array.isArray(over)) return cloneTree(over);
    const out: unknown[] = [];
    ensureMeta(out, metaOf(over)?.loc ?? metaOf(base)?.loc);
    const index = new Map<string, number>();
    base.forEach((item, i) => {
      index.set(keyOf(item), out.length);
      pushFrom(out, cloneTree(item), base, i);
    });
    over.forEach((item, i) => {
      const at = index.get(keyOf(item));
      if (at === undefined) {
        index.set(keyOf(item), out.length);
        pushFrom(out, cloneTree(item), over, i);
      } else {
        putFrom(out, at, cloneTree(item), over, i);
      }
    });
    return out;
  };
}

const replace: Rule = (_base, over) => cloneTree(over);

/** A KEY=VAL list or a mapping, as a mapping (`KEY` alone → null). */
export function listToMapping(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const out: Obj = {};
  ensureMeta(out, metaOf(v)?.loc);
  v.forEach((item, i) => {
    const s = String(item);
    const cut = s.indexOf('=');
    if (cut < 0) putFrom(out, s, null, v, i);
    else putFrom(out, s.slice(0, cut), s.slice(cut + 1), v, i);
  });
  return out;
}

const asMapping: Rule = (base, over, path) => mergeDefault(listToMapping(base), listToMapping(over), path);

/** extra_hosts: host → list of addresses, from "host=ip" / "host:ip" entries or a mapping. */
export function hostsMapping(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const out: Obj = {};
  ensureMeta(out, metaOf(v)?.loc);
  v.forEach((item, i) => {
    const s = String(item);
    const cuts = [s.indexOf('='), s.indexOf(':')].filter((n) => n >= 0);
    const cut = cuts.length ? Math.min(...cuts) : s.length;
    const host = s.slice(0, cut);
    const prev = Array.isArray(out[host]) ? (out[host] as unknown[]) : [];
    putFrom(out, host, [...prev, s.slice(cut + 1)], v, i);
  });
  return out;
}

/** A host named again replaces its addresses. */
const hosts: Rule = (base, over) => {
  const b = hostsMapping(base);
  const o = hostsMapping(over);
  if (!isMapping(b) || !isMapping(o)) return cloneTree(o);
  const out = cloneTree(b);
  for (const k of Object.keys(o)) {
    if (tagOf(o, k) === 'reset') delete out[k];
    else putFrom(out, k, cloneTree(o[k]), o, k);
  }
  return out;
};

/** A list given as one string. */
function asList(v: unknown): unknown {
  return typeof v === 'string' ? [v] : v;
}

const appendList: Rule = (base, over, path) => mergeDefault(asList(base), asList(over), path);
const uniqueList: Rule = (base, over) => (Array.isArray(base) && Array.isArray(over) ? appendLists(base, over, true) : cloneTree(over));

/** Service networks and depends_on: a list names entries with default settings. */
function namesToMapping(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const out: Obj = {};
  ensureMeta(out, metaOf(v)?.loc);
  v.forEach((name, i) => putFrom(out, String(name), null, v, i));
  return out;
}

const namedMapping: Rule = (base, over, path) => {
  const b = namesToMapping(base);
  const o = namesToMapping(over);
  return isMapping(b) && isMapping(o) ? mergeMappings(b, o, path, true) : cloneTree(o);
};

const build: Rule = (base, over, path) => {
  const wrap = (v: unknown) => {
    if (typeof v !== 'string') return v;
    const out: Obj = {};
    ensureMeta(out, metaOf(v)?.loc);
    out.context = v;
    return out;
  };
  return mergeDefault(wrap(base), wrap(over), path);
};

function portKey(item: unknown): string {
  if (isMapping(item)) {
    const published = item.published === undefined ? '' : String(item.published);
    return `${item.host_ip ?? ''}|${Number(item.target)}|${published}|${String(item.protocol ?? 'tcp').toLowerCase()}`;
  }
  try {
    return parsePortShort(item as string)
      .map((p) => `${p.hostIp ?? ''}|${p.target}|${p.published ?? ''}|${p.protocol}`)
      .join(',');
  } catch {
    return `raw:${String(item)}`;
  }
}

function volumeKey(item: unknown): string {
  if (isMapping(item)) return String(item.target);
  try {
    return parseVolumeShort(String(item)).target;
  } catch {
    return `raw:${String(item)}`;
  }
}

/** Where a secret or config is mounted, which identifies it within a service. */
function grantKey(defaultDir: string): (item: unknown) => string {
  return (item) => {
    const g = isMapping(item) ? item : { source: item };
    const target = g.target === undefined ? String(g.source) : String(g.target);
    return target.startsWith('/') ? target : `${defaultDir}${target}`;
  };
}

const S = 'services.*';
const RULES: Record<string, Rule> = {
  include: appendList,
  [`${S}.command`]: replace,
  [`${S}.entrypoint`]: replace,
  [`${S}.healthcheck.test`]: replace,
  [`${S}.build`]: build,
  [`${S}.ports`]: byKey(portKey),
  [`${S}.volumes`]: byKey(volumeKey),
  [`${S}.secrets`]: byKey(grantKey('/run/secrets/')),
  [`${S}.configs`]: byKey(grantKey('/')),
  [`${S}.networks`]: namedMapping,
  [`${S}.depends_on`]: namedMapping,
  [`${S}.extra_hosts`]: hosts,
  [`${S}.build.extra_hosts`]: hosts,
};
for (const k of ['environment', 'labels', 'annotations', 'sysctls', 'build.args', 'build.labels', 'build.ssh', 'build.additional_contexts', 'deploy.labels']) {
  RULES[`${S}.${k}`] = asMapping;
}
for (const k of ['dns', 'dns_search', 'tmpfs', 'env_file', 'label_file']) RULES[`${S}.${k}`] = appendList;
const UNIQUE = ['cap_add', 'cap_drop', 'expose', 'security_opt', 'profiles', 'external_links', 'links', 'volumes_from', 'device_cgroup_rules', 'group_add'];
for (const k of [...UNIQUE, 'dns_opt']) {
  RULES[`${S}.${k}`] = uniqueList;
}
