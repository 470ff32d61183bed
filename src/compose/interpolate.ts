/**
 * Variable interpolation as the Compose spec defines it: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
 * ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, nesting inside the default/error/alternative word,
 * and $$ for a literal dollar. A `$` not followed by a name or `{` stays as it is.
 * Defaults are expanded only when used, so `${A:-${B:?}}` fails only when A is unset.
 */
import { child, errorAt, isMapping } from './meta';

export type Lookup = (name: string) => string | undefined;

/** Why a string could not be interpolated; the caller adds file, line and key path. */
export class InterpolationError extends Error {}

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

export interface InterpolateOptions {
  /** Called for each variable used without a value and without a default. */
  onUnset?: (name: string) => void;
}

export function interpolate(s: string, lookup: Lookup, opts: InterpolateOptions = {}): string {
  if (!s.includes('$')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(s, i + 2);
      if (end < 0) throw new InterpolationError(`invalid interpolation format for "${s}": unterminated \${`);
      out += braced(s.slice(i + 2, end), lookup, opts);
      i = end + 1;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) {
        out += '$';
        i++;
        continue;
      }
      out += valueOf(m[0], lookup, opts);
      i += 1 + m[0].length;
    }
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`; nested `${` count, `$$` is skipped. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && (s[i + 1] === '$' || s[i + 1] === '{')) {
      if (s[i + 1] === '{') depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) {
      return i;
    }
  }
  return -1;
}

function valueOf(name: string, lookup: Lookup, opts: InterpolateOptions): string {
  const v = lookup(name);
  if (v === undefined) {
    opts.onUnset?.(name);
    return '';
  }
  return v;
}

const OPERATORS = [':-', ':?', ':+', '-', '?', '+'] as const;

function braced(body: string, lookup: Lookup, opts: InterpolateOptions): string {
  const m = NAME.exec(body);
  if (!m) throw new InterpolationError(`invalid interpolation format for "\${${body}}": a variable name must start with a letter or _`);
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === '') return valueOf(name, lookup, opts);
  const op = OPERATORS.find((o) => rest.startsWith(o));
  if (!op) throw new InterpolationError(`invalid interpolation format for "\${${body}}": unsupported modifier after ${name}`);
  const word = () => interpolate(rest.slice(op.length), lookup, opts);
  const value = lookup(name);
  const unset = value === undefined;
  const empty = unset || value === '';
  switch (op) {
    case ':-':
      return empty ? word() : value!;
    case '-':
      return unset ? word() : value!;
    case ':+':
      return empty ? '' : word();
    case '+':
      return unset ? '' : word();
    case ':?':
    case '?':
      if (op === ':?' ? empty : unset) {
        const why = word();
        throw new InterpolationError(`required variable ${name} is missing a value${why ? `: ${why}` : ''}`);
      }
      return value!;
  }
}

/**
 * Interpolates every string value of a parsed file in place (keys are left alone, as the spec
 * says). Extension fields (x-*) are skipped: they are only fragments, and their uses were copied
 * by aliases already.
 */
export function interpolateTree(tree: Record<string, unknown>, lookup: Lookup, opts: InterpolateOptions = {}): void {
  const walk = (node: Record<string, unknown> | unknown[], path: string, top: boolean) => {
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const k of keys) {
      if (top && typeof k === 'string' && k.startsWith('x-')) continue;
      const v = (node as Record<string | number, unknown>)[k];
      const p = child(path, k);
      if (typeof v === 'string') {
        try {
          (node as Record<string | number, unknown>)[k] = interpolate(v, lookup, opts);
        } catch (e) {
          if (e instanceof InterpolationError) throw errorAt(node, k, p, e.message);
          throw e;
        }
      } else if (Array.isArray(v) || isMapping(v)) {
        walk(v, p, false);
      }
    }
  };
  walk(tree, '', true);
}
