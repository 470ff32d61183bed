/**
 * `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: a CSV list of key=value fields
 * (BuildKit's syntax and checks). Values are taken as written; the builder may parse a spec again
 * with an expander once build args are known (parseRunMount(spec, expand)).
 */
import { ramInBytes } from '../wire/units';
import { goQuote } from './go-quote';
import { withSuggestion } from './suggest';

export type MountSharing = 'shared' | 'private' | 'locked';

export type RunMount =
  | { type: 'bind'; target: string; source?: string; from?: string; readonly: boolean }
  | {
      type: 'cache';
      target: string;
      id?: string;
      sharing: MountSharing;
      from?: string;
      source?: string;
      readonly: boolean;
      mode?: number;
      uid?: number;
      gid?: number;
    }
  | { type: 'tmpfs'; target: string; size?: number }
  | { type: 'secret'; id: string; target?: string; required: boolean; mode?: number; uid?: number; gid?: number; env?: string }
  | { type: 'ssh'; id: string; target?: string; required: boolean; mode?: number; uid?: number; gid?: number };

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'] as const;
type MountType = (typeof TYPES)[number];
const SHARING = ['shared', 'private', 'locked'] as const;
const KEYS = [
  'type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid',
  'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env',
];

/** One CSV record (RFC 4180 quoting, as Go's encoding/csv reads it). Throws on a stray quote. */
export function csvFields(s: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) throw new Error('extraneous or missing " in quoted-field');
        field += s.slice(i, q);
        i = q + 1;
        if (s[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        if (i < s.length && s[i] !== ',') throw new Error('extraneous or missing " in quoted-field');
        break;
      }
    } else {
      const comma = s.indexOf(',', i);
      field = s.slice(i, comma < 0 ? s.length : comma);
      if (field.includes('"')) throw new Error('bare " in non-quoted-field');
      i = comma < 0 ? s.length : comma;
    }
    fields.push(field);
    if (i >= s.length) return fields;
    i++; // the comma
  }
}

function parseBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new Error(`invalid value for ${key}: ${value}`);
}

function parseUint(value: string, radix: 8 | 10, what: string): number {
  const ok = radix === 8 ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
  const n = ok ? parseInt(value, radix) : NaN;
  if (!ok || n > 0xffffffff) throw new Error(`invalid value ${value} for ${what}`);
  return n;
}

/** Parses one --mount value. Throws the reason (the caller adds the line). */
export function parseRunMount(spec: string, expand: (value: string) => string = (v) => v): RunMount {
  let fields: string[];
  try {
    fields = csvFields(spec);
  } catch (e) {
    throw new Error(`failed to parse csv mounts: ${(e as Error).message}`);
  }
  let type: MountType = 'bind';
  let readonly: boolean | undefined;
  let required = false;
  const m: {
    from?: string; source?: string; target?: string; id?: string; sharing?: MountSharing;
    size?: number; mode?: number; uid?: number; gid?: number; env?: string;
  } = {};
  const onlyFor = (key: string, types: MountType[]) => {
    if (!types.includes(type)) throw new Error(`unexpected key '${key}' for mount type '${type}'`);
  };

  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') readonly = true;
      else if (key === 'readwrite' || key === 'rw') readonly = false;
      else if (key === 'required') {
        onlyFor(key, ['secret', 'ssh']);
        required = true;
      } else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const raw = field.slice(eq + 1);
    if (key === 'from' && raw.indexOf('$') >= 0 && raw.indexOf('$') !== raw.length - 1) {
      throw new Error(`'${key}' doesn't support variable expansion, define alias stage instead`);
    }
    const value = expand(raw);
    switch (key) {
      case 'type': {
        const t = value.toLowerCase() as MountType;
        if (!TYPES.includes(t)) throw new Error(withSuggestion(`unsupported mount type ${goQuote(value)}`, value, TYPES, true));
        type = t;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        readonly = parseBool(key, value);
        break;
      case 'readwrite':
      case 'rw':
        readonly = !parseBool(key, value);
        break;
      case 'required':
        onlyFor(key, ['secret', 'ssh']);
        required = parseBool(key, value);
        break;
      case 'size':
        onlyFor(key, ['tmpfs']);
        try {
          m.size = ramInBytes(value);
        } catch {
          throw new Error(`invalid value for ${key}: ${value}`);
        }
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const s = value.toLowerCase() as MountSharing;
        if (!SHARING.includes(s)) throw new Error(withSuggestion(`unsupported sharing value ${goQuote(value)}`, value, SHARING, true));
        m.sharing = s;
        break;
      }
      case 'mode':
        m.mode = parseUint(value, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(value, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(value, 10, 'gid');
        break;
      case 'env':
        m.env = value;
        break;
      default:
        throw new Error(withSuggestion(`unexpected key '${key}' in '${field}'`, key, KEYS, true));
    }
  }

  if (type !== 'secret' && type !== 'ssh' && type !== 'cache') {
    for (const k of ['mode', 'uid', 'gid'] as const) {
      if (m[k] !== undefined) throw new Error(`${k} not allowed for ${goQuote(type)} type mounts`);
    }
  }
  if (type === 'secret') {
    if (m.from) throw new Error('secret mount should not have a from');
    if (m.sharing) throw new Error('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id) throw new Error('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw new Error('both source and id can\'t be set');
  }
  if (m.sharing && type !== 'cache') throw new Error(`invalid cache sharing set for ${type} mount`);

  const opt = <K extends keyof typeof m>(k: K) => (m[k] !== undefined && m[k] !== '' ? { [k]: m[k] } : {}) as Pick<typeof m, K>;
  switch (type) {
    case 'bind':
      return { type, target: m.target ?? '', ...opt('source'), ...opt('from'), readonly: readonly ?? true };
    case 'cache':
      return {
        type, target: m.target ?? '', ...opt('id'), sharing: m.sharing ?? 'shared', ...opt('from'), ...opt('source'),
        readonly: readonly ?? false, ...opt('mode'), ...opt('uid'), ...opt('gid'),
      };
    case 'tmpfs':
      return { type, target: m.target ?? '', ...opt('size') };
    case 'secret':
      // BuildKit takes source= as the secret's id, else id=, else the target's base name.
      return { type, id: m.source || m.id || m.target!.replace(/\/+$/, '').split('/').pop()!, ...opt('target'), required, ...opt('mode'), ...opt('uid'), ...opt('gid'), ...opt('env') };
    case 'ssh':
      if (m.source) throw new Error('ssh does not support source');
      return { type, id: m.id || 'default', ...opt('target'), required, ...opt('mode'), ...opt('uid'), ...opt('gid') };
  }
}
