/**
 * Where each value of a Compose file came from. Plain JS trees flow through interpolation, merge,
 * extends and include, yet every error must still name file, line and key path. So each object
 * and array carries, under a symbol (invisible to Object.keys, JSON and ajv), the location of every
 * key or index, the source text of numeric scalars (so "1.10" stays "1.10" in environment values
 * and "0440" can be read as octal), and the !reset / !override tags of its entries.
 */
import { BerthError, invalid } from '../errors';

export interface Loc {
  /** As shown in messages: relative to the project directory when inside it. */
  file: string;
  line: number;
}

export type Key = string | number;
export type Tag = 'reset' | 'override';

export interface Meta {
  loc?: Loc;
  keys: Map<Key, Loc>;
  raw: Map<Key, string>;
  tags: Map<Key, Tag>;
}

const META = Symbol('compose.meta');

type Container = Record<string, unknown> | unknown[];

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function metaOf(v: unknown): Meta | undefined {
  return typeof v === 'object' && v !== null ? ((v as Record<symbol, Meta>)[META] ?? undefined) : undefined;
}

/** The object's metadata, created empty (at `loc`) when it has none. */
export function ensureMeta(v: Container, loc?: Loc): Meta {
  let m = metaOf(v);
  if (!m) {
    m = { loc, keys: new Map(), raw: new Map(), tags: new Map() };
    Object.defineProperty(v, META, { value: m, enumerable: false, writable: true, configurable: true });
  }
  return m;
}

/** The line of `parent[key]`, or of the parent itself when the key has none recorded. */
export function locOf(parent: unknown, key?: Key): Loc | undefined {
  const m = metaOf(parent);
  if (!m) return undefined;
  return (key !== undefined ? m.keys.get(key) : undefined) ?? m.loc;
}

export function rawOf(parent: unknown, key: Key): string | undefined {
  return metaOf(parent)?.raw.get(key);
}

export function tagOf(parent: unknown, key: Key): Tag | undefined {
  return metaOf(parent)?.tags.get(key);
}

/** Sets `to[toKey] = value`, carrying the location and source text `from[fromKey]` had. */
export function putFrom(to: Container, toKey: Key, value: unknown, from: unknown, fromKey: Key): void {
  (to as Record<Key, unknown>)[toKey] = value;
  const src = metaOf(from);
  const dst = ensureMeta(to, src?.loc);
  const loc = src?.keys.get(fromKey) ?? src?.loc;
  if (loc) dst.keys.set(toKey, loc);
  else dst.keys.delete(toKey);
  const raw = src?.raw.get(fromKey);
  if (raw !== undefined && typeof value === 'number') dst.raw.set(toKey, raw);
  else dst.raw.delete(toKey);
}

/** Appends `value` (taken from `from[fromKey]`) to an array, with its location. */
export function pushFrom(to: unknown[], value: unknown, from: unknown, fromKey: Key): void {
  putFrom(to, to.length, value, from, fromKey);
}

/** A deep copy that keeps the metadata (tags dropped: they only matter once, at merge time). */
export function cloneTree<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  const out: Container = Array.isArray(v) ? [] : {};
  const m = metaOf(v);
  const om = ensureMeta(out, m?.loc);
  for (const [k, child] of Object.entries(v)) {
    const key: Key = Array.isArray(v) ? Number(k) : k;
    (out as Record<Key, unknown>)[key] = cloneTree(child);
    const loc = m?.keys.get(key);
    if (loc) om.keys.set(key, loc);
    const raw = m?.raw.get(key);
    if (raw !== undefined) om.raw.set(key, raw);
  }
  return out as T;
}

/** Appends `.key` or `[i]` to a key path. */
export function child(path: string, key: Key): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** An 'invalid' error reading `file:line: path: message`. */
export function located(loc: Loc | undefined, path: string, message: string): BerthError {
  const where = loc ? `${loc.file}:${loc.line}: ` : '';
  return invalid(`${where}${path ? `${path}: ` : ''}${message}`);
}

/** The error for `parent[key]` (at `path`, which already names the key). */
export function errorAt(parent: unknown, key: Key | undefined, path: string, message: string): BerthError {
  return located(locOf(parent, key), path, message);
}
