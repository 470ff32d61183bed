/**
 * A service's `volumes` (short and long syntax) as mounts, and its `secrets` / `configs` grants
 * as file mounts. Named volumes, secrets and configs must be declared at the top level.
 */
import type { FileMount, Mount } from './model';
import { Field, NormContext, hostPath, scalarString, stringOf } from './normalize-util';
import { parseVolumeShort } from './short-syntax';
import { parseBoolean, parseBytes, parseMode } from './units';
import { isMapping } from './meta';

export function normalizeMounts(f: Field, service: string, ctx: NormContext): Mount[] {
  return f.entries().map((e) => (typeof e.value === 'string' ? shortMount(e, service, ctx) : longMount(e, service, ctx)));
}

function checkTarget(target: string, e: Field): string {
  if (!target.startsWith('/')) throw e.error(`the mount target ${JSON.stringify(target)} must be an absolute path`);
  return target;
}

function namedVolume(name: string, e: Field, service: string, ctx: NormContext): string {
  if (!Object.prototype.hasOwnProperty.call(ctx.volumes, name)) {
    throw e.error(`service "${service}" refers to undefined volume "${name}": declare it under the top-level volumes key`);
  }
  return name;
}

function shortMount(e: Field, service: string, ctx: NormContext): Mount {
  const v = e.convert((s) => parseVolumeShort(s as string));
  const target = checkTarget(v.target, e);
  if (v.source === undefined) return { type: 'volume', target, readOnly: v.readOnly };
  if (v.isPath) return { type: 'bind', source: hostPath(v.source, ctx), target, readOnly: v.readOnly, createHostPath: true };
  const source = namedVolume(v.source, e, service, ctx);
  return { type: 'volume', source, target, readOnly: v.readOnly, ...(v.nocopy ? { nocopy: true } : {}) };
}

function longMount(e: Field, service: string, ctx: NormContext): Mount {
  const type = stringOf(e.at('type'));
  const target = checkTarget(stringOf(e.at('target')) ?? '', e.at('target'));
  const readOnly = e.at('read_only').optional(parseBoolean) ?? false;
  const source = stringOf(e.at('source'));
  switch (type) {
    case 'bind': {
      if (!source) throw e.error('a bind mount needs a source');
      const opts = e.at('bind');
      const create = isMapping(opts.value) ? opts.at('create_host_path').optional(parseBoolean) : undefined;
      return { type: 'bind', source: hostPath(source, ctx), target, readOnly, createHostPath: create ?? true };
    }
    case 'volume': {
      const opts = e.at('volume');
      const nocopy = isMapping(opts.value) ? opts.at('nocopy').optional(parseBoolean) : undefined;
      const src = source ? namedVolume(source, e.at('source'), service, ctx) : undefined;
      return { type: 'volume', ...(src !== undefined ? { source: src } : {}), target, readOnly, ...(nocopy ? { nocopy } : {}) };
    }
    case 'tmpfs': {
      const opts = e.at('tmpfs');
      const size = isMapping(opts.value) ? opts.at('size').optional(parseBytes) : undefined;
      const mode = isMapping(opts.value) ? opts.at('mode').optional(parseMode) : undefined;
      return { type: 'tmpfs', target, ...(size !== undefined ? { size } : {}), ...(mode !== undefined ? { mode } : {}) };
    }
    default:
      throw e.at('type').error(`mount type ${JSON.stringify(type)} is not supported (bind, volume or tmpfs)`);
  }
}

/**
 * Secret and config grants. A secret goes to /run/secrets/<target> unless the target is absolute;
 * a config to /<source> by default.
 */
export function normalizeGrants(f: Field, kind: 'secret' | 'config', service: string, ctx: NormContext): FileMount[] {
  const defs = kind === 'secret' ? ctx.secrets : ctx.configs;
  return f.entries().map((e) => {
    const long = isMapping(e.value);
    const srcField = long ? e.at('source') : e;
    const source = srcField.convert(scalarString);
    if (!Object.prototype.hasOwnProperty.call(defs, source)) {
      throw srcField.error(`service "${service}" refers to undefined ${kind} "${source}": declare it under the top-level ${kind}s key`);
    }
    const def = defs[source];
    if (!isMapping(def) || typeof def.file !== 'string') {
      throw srcField.error(`${kind} "${source}": only file-based ${kind}s are supported (set \`file:\`)`);
    }
    const target = (long ? stringOf(e.at('target')) : undefined) ?? source;
    const dir = kind === 'secret' ? '/run/secrets/' : '/';
    const mode = long ? e.at('mode').optional(parseMode) : undefined;
    return { source, target: target.startsWith('/') ? target : `${dir}${target}`, ...(mode !== undefined ? { mode } : {}) };
  });
}
