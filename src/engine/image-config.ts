/**
 * The image config blob (OCI image-spec "config", Docker's image JSON). Its sha256 is the image id.
 * Field names inside `config` keep Docker's capitalisation: they are what the API returns.
 */
import type { Digest } from '../store/content-store';
import { posix } from 'node:path';
import { invalid } from '../errors';

export interface RunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  comment?: string;
  config?: RunConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

/**
 * Go encodes map keys in sorted order, so every map Docker returns (Labels, ExposedPorts,
 * Volumes) reads sorted; clients and `--format '{{json .Config.Labels}}'` users see that order.
 */
export function sortedMap<T>(m: Record<string, T> | null | undefined): Record<string, T> {
  return Object.fromEntries(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export { hostArchitecture } from '../wire/platform';

const CHANGE_KEYWORDS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/**
 * Applies `docker import --change` / `commit --change` instructions to a run config. These are a
 * subset of Dockerfile instructions (Docker allows exactly the keywords above).
 */
export function applyChanges(base: RunConfig, changes: string[]): RunConfig {
  const cfg = applyEach(base, changes);
  if (cfg.ExposedPorts) cfg.ExposedPorts = sortedMap(cfg.ExposedPorts);
  if (cfg.Volumes) cfg.Volumes = sortedMap(cfg.Volumes);
  if (cfg.Labels) cfg.Labels = sortedMap(cfg.Labels);
  return cfg;
}

function applyEach(base: RunConfig, changes: string[]): RunConfig {
  const cfg: RunConfig = structuredClone(base);
  for (const change of changes) {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(change);
    if (!m || m[1] === '') continue;
    const keyword = m[1].toUpperCase();
    const rest = m[2].trim();
    if (!CHANGE_KEYWORDS.has(keyword)) throw invalid(`${keyword} is not a valid change command`);
    switch (keyword) {
      case 'CMD': cfg.Cmd = commandForm(rest); break;
      case 'ENTRYPOINT': cfg.Entrypoint = commandForm(rest); break;
      case 'ENV':
      case 'LABEL': {
        const pairs = keyValues(rest, keyword);
        if (keyword === 'ENV') {
          const env = [...(cfg.Env ?? [])];
          for (const [k, v] of pairs) {
            const i = env.findIndex((e) => e.split('=', 1)[0] === k);
            if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
          }
          cfg.Env = env;
        } else {
          cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(pairs) };
        }
        break;
      }
      case 'EXPOSE':
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/).filter(Boolean)) cfg.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'VOLUME': {
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        const list = rest.startsWith('[') ? jsonArray(rest) : rest.split(/\s+/).filter(Boolean);
        for (const v of list) cfg.Volumes[v] = {};
        break;
      }
      case 'WORKDIR':
        // Relative to the current working directory, as in a Dockerfile.
        cfg.WorkingDir = rest.startsWith('/') ? rest : posix.join(cfg.WorkingDir || '/', rest);
        break;
      case 'USER': cfg.User = rest; break;
      case 'STOPSIGNAL': cfg.StopSignal = rest; break;
      case 'ONBUILD': cfg.OnBuild = [...(cfg.OnBuild ?? []), rest]; break;
    }
  }
  return cfg;
}

function commandForm(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      return jsonArray(rest);
    } catch {
      // Docker falls back to the shell form when the JSON does not parse.
    }
  }
  return ['/bin/sh', '-c', rest];
}

function jsonArray(s: string): string[] {
  const v: unknown = JSON.parse(s);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`not a JSON array of strings: ${s}`);
  return v;
}

function keyValues(rest: string, keyword: string): [string, string][] {
  // The legacy `KEY value` form is chosen by the first word alone, as Docker's parser does.
  const firstWord = /^\S*/.exec(rest)![0];
  if (!firstWord.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw invalid(`${keyword} needs a name and a value`);
    return [[m[1], m[2]]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/y;
  let pos = 0;
  for (;;) {
    while (pos < rest.length && /\s/.test(rest[pos])) pos++;
    if (pos >= rest.length) break;
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) {
      const word = /^\S*/.exec(rest.slice(pos))![0];
      throw invalid(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    }
    pos = re.lastIndex;
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1], v]);
  }
  return out;
}
