/**
 * Shared pieces of normalization: reading a value with its location at hand (so every failure
 * names file, line and key path), KEY=VAL lists and mappings as string maps, and host paths.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { BerthError } from '../errors';
import { Key, child, errorAt, isMapping, rawOf } from './meta';
import { listToMapping } from './merge';

export type Obj = Record<string, unknown>;

export interface NormContext {
  projectName: string;
  /** Absolute; relative host paths are resolved against it. */
  workingDir: string;
  /** Interpolation variables: for `environment: [FOO]`, build args without value, env_file lines. */
  lookup: (name: string) => string | undefined;
  home: string;
  /** For file names in messages. */
  displayDir: string;
  /** The merged document's top-level definitions. */
  networks: Obj;
  volumes: Obj;
  secrets: Obj;
  configs: Obj;
  /** Names of the services that are active under the selected profiles. */
  active: Set<string>;
}

/** A value of the raw tree with what errors about it need. */
export class Field {
  constructor(
    readonly parent: unknown,
    readonly key: Key,
    readonly path: string,
  ) {}

  get value(): unknown {
    const p = this.parent;
    return typeof p === 'object' && p !== null ? (p as Record<Key, unknown>)[this.key] : undefined;
  }
  get raw(): string | undefined {
    return rawOf(this.parent, this.key);
  }
  get present(): boolean {
    const v = this.value;
    return v !== undefined && v !== null;
  }
  /** The entry `key` of this (mapping or sequence) value. */
  at(key: Key): Field {
    return new Field(this.value, key, child(this.path, key));
  }
  /** The entries of this value if it is a mapping or a sequence. */
  entries(): Field[] {
    const v = this.value;
    if (Array.isArray(v)) return v.map((_, i) => this.at(i));
    if (isMapping(v)) return Object.keys(v).map((k) => this.at(k));
    return [];
  }
  error(message: string): BerthError {
    return errorAt(this.parent, this.key, this.path, message);
  }
  /** `fn(value)`, with a plain Error it throws reported at this field. */
  convert<T>(fn: (v: unknown, raw: string | undefined) => T): T {
    try {
      return fn(this.value, this.raw);
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw this.error((e as Error).message);
    }
  }
  /** Like convert, but undefined when the value is absent or null. */
  optional<T>(fn: (v: unknown, raw: string | undefined) => T): T | undefined {
    return this.present ? this.convert(fn) : undefined;
  }
}

/** A scalar as the string a container or the engine sees (numbers keep their written form). */
export function scalarString(v: unknown, raw?: string): string {
  if (typeof v === 'number') return raw ?? String(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  throw new Error(`must be a string, number or boolean`);
}

export function stringOf(f: Field): string | undefined {
  return f.optional(scalarString);
}

/** A KEY=VAL list or a mapping as a string map; `onNull` decides a key given without a value. */
export function stringMap(f: Field, onNull: (key: string) => string | undefined = () => ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (!f.present) return out;
  const m = listToMapping(f.value);
  if (!isMapping(m)) throw f.error('must be a mapping or a list of KEY=VALUE');
  const mf = new Field({ v: m }, 'v', f.path);
  for (const e of mf.entries()) {
    const key = String(e.key);
    if (e.value === null || e.value === undefined) {
      const v = onNull(key);
      if (v === undefined) delete out[key];
      else out[key] = v;
    } else {
      out[key] = e.convert(scalarString);
    }
  }
  return out;
}

/** A string or a list of strings, as a list. */
export function stringList(f: Field): string[] {
  const v = f.value;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return [f.convert(scalarString)];
  return f.entries().map((e) => e.convert(scalarString));
}

/** A host path: `~` is the home directory, relative paths are against the project directory. */
export function hostPath(p: string, ctx: NormContext): string {
  if (p === '~') return ctx.home;
  if (p.startsWith('~/')) return path.join(ctx.home, p.slice(2));
  return path.resolve(ctx.workingDir, p);
}

export function defaultHome(env: Record<string, string>): string {
  return env.HOME || os.homedir();
}
