/**
 * The Go text/template subset people put in docker's --format, with docker's extra functions
 * and Go's way of printing values (fmt's %v and printf verbs, strconv quoting, encoding/json),
 * so output and error messages read as docker's do.
 */

import { formatFloatF, formatFloatG } from '../wire/units';

// ---------------------------------------------------------------- Go value printing

const GO_ESC: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** strconv.Quote (QuoteRune with quote "'"): escapes what unicode.IsPrint rejects. */
export function goQuote(s: string, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const hex = (n: number) => cp.toString(16).padStart(n, '0');
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (GO_ESC[ch]) out += GO_ESC[ch];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(2);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // a lone surrogate reaches Go as U+FFFD
    else if (!/[\p{C}\p{Z}]/u.test(ch)) out += ch;
    else out += cp < 0x10000 ? '\\u' + hex(4) : '\\U' + hex(8);
  }
  return out + quote;
}

/** The Go type a JS value stands for, as fmt and text/template name it in messages. */
export function goType(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'object') return Array.isArray(v) ? '[]interface {}' : v instanceof Date ? 'time.Time' : 'map[string]interface {}';
  return ({ string: 'string', boolean: 'bool', bigint: 'int64', function: 'func()' } as Record<string, string>)[typeof v] ?? typeof v;
}

/** time.Time's String() for a UTC instant. */
function goTime(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${iso.slice(19, -1).replace(/\.?0*$/, '')} +0000 UTC`;
}

/**
 * fmt's %v. JS integers print as Go ints, other numbers as float64. Plain objects print as Go
 * maps (sorted keys); objects with their own toString are Stringers. At the top level of a
 * template nil prints "<no value>", inside a value "<nil>".
 */
export function goString(v: unknown, top = false): string {
  if (v === null || v === undefined) return top ? '<no value>' : '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? BigInt(v).toString() : formatFloatG(v);
  if (typeof v !== 'object') return typeof v === 'function' ? 'func()' : String(v);
  if (Array.isArray(v)) return `[${v.map((x) => goString(x)).join(' ')}]`;
  if (v instanceof Date) return goTime(v);
  const toString = (v as { toString?: unknown }).toString;
  if (!(v instanceof Map) && typeof toString === 'function' && toString !== Object.prototype.toString) return String(v);
  const list = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x] as const) : Object.entries(v);
  return `map[${list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${k}:${goString(x)}`).join(' ')}]`;
}

/** encoding/json as docker's "json" template function configures it (no HTML escaping). */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v ?? null, (_k, x: unknown) => (x instanceof Map ? Object.fromEntries(x) : typeof x === 'bigint' ? Number(x) : x));
  return (s ?? 'null').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** fmt.Sprintf for %s %v %d %q %x %X %f %g %t %c %T %%, with flags - + 0, width and precision. */
export function goSprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let ai = 0;
  const re = /%([-+# 0]*)(\d*)(?:\.(\d*))?([\s\S]?)/y;
  for (let i = 0; i < format.length; ) {
    if (format[i] !== '%') {
      out += format[i++];
      continue;
    }
    re.lastIndex = i;
    const [whole, flags = '', width = '', prec, verb = ''] = re.exec(format)!;
    i += whole.length;
    if (verb === '%' || verb === '') out += verb === '%' ? '%' : '%!(NOVERB)';
    else if (ai >= args.length) out += `%!${verb}(MISSING)`;
    else {
      const s = fmtVerb(verb, args[ai++], flags, prec === undefined ? undefined : Number(prec || 0));
      const gap = Number(width || 0) - [...s].length;
      if (gap <= 0) out += s;
      else if (flags.includes('-')) out += s + ' '.repeat(gap);
      else if (flags.includes('0') && 'dfFgxX'.includes(verb)) out += s.replace(/^([+-]?)/, `$1${'0'.repeat(gap)}`);
      else out += ' '.repeat(gap) + s;
    }
  }
  if (ai < args.length) out += `%!(EXTRA ${args.slice(ai).map((a) => (a == null ? '<nil>' : `${goType(a)}=${goString(a)}`)).join(', ')})`;
  return out;
}

function fmtVerb(verb: string, a: unknown, flags: string, prec: number | undefined): string {
  const isInt = typeof a === 'bigint' || (typeof a === 'number' && Number.isInteger(a));
  const signed = (s: string) => (flags.includes('+') && !s.startsWith('-') ? '+' + s : s);
  const num = typeof a === 'number' ? a : NaN;
  let s: string | undefined;
  if (verb === 'v') s = typeof a === 'number' ? signed(goString(a)) : goString(a);
  else if (verb === 's' && typeof a !== 'number' && typeof a !== 'boolean') s = prec === undefined ? goString(a) : [...goString(a)].slice(0, prec).join('');
  else if (verb === 'd' && isInt) s = signed(String(a));
  else if (verb === 'q' && (typeof a === 'string' || isInt)) s = typeof a === 'string' ? goQuote(a) : goQuote(String.fromCodePoint(Number(a)), "'");
  else if ((verb === 'x' || verb === 'X') && (isInt || typeof a === 'string')) {
    s = isInt ? Number(a).toString(16) : Buffer.from(a as string).toString('hex');
    if (verb === 'X') s = s.toUpperCase();
  } else if ((verb === 'f' || verb === 'F') && typeof a === 'number') s = signed(formatFloatF(num, prec ?? 6));
  else if (verb === 'g' && typeof a === 'number') s = signed(formatFloatG(num, prec));
  else if (verb === 't' && typeof a === 'boolean') s = String(a);
  else if (verb === 'c' && isInt) s = String.fromCodePoint(Number(a));
  else if (verb === 'T') s = goType(a);
  return s ?? (a == null ? `%!${verb}(<nil>)` : `%!${verb}(${goType(a)}=${goString(a)})`);
}

// ---------------------------------------------------------------- Go text/template subset

export type TemplateFunc = (...args: unknown[]) => unknown;
type Operand =
  | { k: 'field' | 'var' | 'sub'; names: string[]; name?: string; pipe?: Pipe }
  | { k: 'fn'; name: string }
  | { k: 'lit'; v: unknown };
type Cmd = { args: Operand[]; pos: number; src: string };
type Pipe = { decl: string[]; assign: boolean; cmds: Cmd[] };
type Node = { k: 'text'; s: string } | { k: 'out'; pipe: Pipe } | { k: 'if' | 'with' | 'range'; pipe: Pipe; then: Node[]; else: Node[] };
type Tok = { t: string; v: string; pos: number; end: number; sp: boolean };
type Act = { k: 'act'; toks: Tok[]; pos: number };
type Item = { k: 'text'; s: string } | Act;

class TemplateError extends Error {}

const need = (kind: string, v: unknown): never => {
  throw new Error(v == null ? `invalid value; expected ${kind}` : `wrong type for value; expected ${kind}; got ${goType(v)}`);
};
const raise = (msg: string): never => {
  throw new Error(msg);
};
const str = (v: unknown): string => (typeof v === 'string' ? v : need('string', v));
const int = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) ? v : need('int', v));

/** Go's truth: false, 0, nil and empty strings, slices and maps are false; structs are true. */
function truth(v: unknown): boolean {
  if (v == null || typeof v !== 'object') return typeof v === 'function' || Boolean(v);
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  const proto = Object.getPrototypeOf(v);
  return (proto !== Object.prototype && proto !== null) || Object.keys(v).length > 0;
}

function compare(a: unknown, b: unknown): number {
  if ((typeof a !== 'number' || typeof b !== 'number') && (typeof a !== 'string' || typeof b !== 'string')) {
    throw new Error('incompatible types for comparison');
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function eqOne(a: unknown, b: unknown): boolean {
  if (a == null || b == null) return a == b;
  if (['object', 'function'].includes(typeof a) || ['object', 'function'].includes(typeof b)) throw new Error('invalid type for comparison');
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  return a === b;
}

function index(item: unknown, ...keys: unknown[]): unknown {
  for (const key of keys) {
    if (item == null) throw new Error('index of untyped nil');
    if (Array.isArray(item) || typeof item === 'string') {
      const seq = typeof item === 'string' ? [...Buffer.from(item)] : item;
      const i = int(key);
      if (i < 0 || i >= seq.length) throw new Error(`index out of range: ${i}`);
      item = seq[i];
    } else if (typeof item === 'object') {
      const m = item instanceof Map ? item : new Map(Object.entries(item));
      // A missing key gives the element type's zero value: "" for string maps such as labels.
      item = m.has(key) ? m.get(key) : [...m.values()].every((x) => typeof x === 'string') ? '' : undefined;
    } else throw new Error(`can't index item of type ${goType(item)}`);
  }
  return item;
}

/** strings.Title: upper-cases letters that follow a separator. */
function goTitle(s: string): string {
  const isSep = (r: string) => (r.codePointAt(0)! <= 0x7f ? !/[0-9A-Za-z_]/.test(r) : !/[\p{L}\p{Nd}]/u.test(r) && /\s/u.test(r));
  return [...s].map((ch, i, all) => (isSep(i === 0 ? ' ' : all[i - 1]!) ? ch.toUpperCase() : ch)).join('');
}

function len(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw new Error(`len of ${v == null ? 'nil pointer' : 'type ' + goType(v)}`);
}

const MANY = Infinity;
/** Go's builtins plus docker's templates.basicFunctions, with their [min, max] argument counts. */
const FUNCS: Record<string, [number, number, TemplateFunc]> = {
  json: [1, 1, goJson],
  split: [2, 2, (s, sep) => (str(sep) === '' ? [...str(s)] : str(s).split(str(sep)))],
  join: [2, 2, (l, sep) => (Array.isArray(l) ? l.map(str).join(str(sep)) : need('[]string', l))],
  title: [1, 1, (s) => goTitle(str(s))],
  lower: [1, 1, (s) => str(s).toLowerCase()],
  upper: [1, 1, (s) => str(s).toUpperCase()],
  pad: [3, 3, (s, a, b) => ' '.repeat(Math.max(0, int(a))) + str(s) + ' '.repeat(Math.max(0, int(b)))],
  // docker cuts bytes; cutting code points keeps the output valid UTF-8.
  truncate: [2, 2, (s, n) => [...str(s)].slice(0, Math.max(0, int(n))).join('')],
  len: [1, 1, len],
  index: [1, MANY, index],
  print: [0, MANY, (...a) => a.map((x, i) => (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + goString(x)).join('')],
  println: [0, MANY, (...a) => a.map((x) => goString(x)).join(' ') + '\n'],
  printf: [1, MANY, (f, ...a) => goSprintf(str(f), a)],
  not: [1, 1, (v) => !truth(v)],
  and: [1, MANY, (...a) => a[a.findIndex((x) => !truth(x)) >>> 0] ?? a[a.length - 1]],
  or: [1, MANY, (...a) => a[a.findIndex((x) => truth(x)) >>> 0] ?? a[a.length - 1]],
  eq: [1, MANY, (a, ...bs) => (bs.length ? bs.some((b) => eqOne(a, b)) : raise('missing argument for comparison'))],
  ne: [2, 2, (a, b) => !eqOne(a, b)],
  lt: [2, 2, (a, b) => compare(a, b) < 0],
  le: [2, 2, (a, b) => compare(a, b) <= 0],
  gt: [2, 2, (a, b) => compare(a, b) > 0],
  ge: [2, 2, (a, b) => compare(a, b) >= 0],
};

const unescapeGo = (s: string): string =>
  s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[\s\S])/g, (_m, e: string) => {
    if (/^[xuU]./.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' } as Record<string, string>)[e] ?? e;
  });

// One alternative per token kind, tried in order at each position inside an action.
const TOKEN = new RegExp(
  [
    /(?<end>}}|[ \t\r\n]+-}})/,
    /(?<sp>[ \t\r\n]+)/,
    /(?<str>"(?:[^"\\\n]|\\.)*"|`[^`]*`)/,
    /(?<field>(?:\.[A-Za-z_]\w*)+)/,
    /(?<var>\$\w*(?:\.[A-Za-z_]\w*)*)/,
    /(?<num>[+-]?(?:0[xX][\da-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))/,
    /(?<dot>\.)/,
    /(?<ident>[A-Za-z_]\w*)/,
    /(?<op>:=|[()|=,])/,
  ]
    .map((r) => r.source)
    .join('|'),
  'y',
);

function lex(src: string, fail: (pos: number, msg: string) => never): Item[] {
  const items: Item[] = [];
  let i = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    let k = open + 2;
    if (open >= 0 && src[k] === '-' && /[ \t\r\n]/.test(src[k + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      k += 2;
    }
    if (text) items.push({ k: 'text', s: text });
    if (open < 0) return items;
    if (src.startsWith('/*', k)) {
      const close = src.indexOf('*/', k + 2);
      const m = close < 0 ? null : /^(?:}}|[ \t\r\n]-}})/.exec(src.slice(close + 2));
      if (!m) fail(open, close < 0 ? 'unclosed comment' : 'comment ends before closing delimiter');
      trimNext = m[0].length > 2;
      i = close + 2 + m[0].length;
      continue;
    }
    const toks: Tok[] = [];
    for (let sp = false; ; ) {
      if (k >= src.length) fail(open, 'unclosed action');
      TOKEN.lastIndex = k;
      const m = TOKEN.exec(src);
      const g = Object.entries(m?.groups ?? {}).find(([, v]) => v !== undefined);
      if (!m || !g) {
        if (`"\``.includes(src[k]!)) fail(k, src[k] === '"' ? 'unterminated quoted string' : 'unterminated raw quoted string');
        const c = String.fromCodePoint(src.codePointAt(k)!);
        fail(k, `unrecognized character in action: U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} ${goQuote(c, "'")}`);
      }
      k += m[0].length;
      if (g[0] === 'end') {
        trimNext = m[0] !== '}}';
        break;
      }
      if (g[0] !== 'sp') toks.push({ t: g[0] === 'op' ? g[1] : g[0], v: g[1], pos: k - m[0].length, end: k, sp });
      sp = g[0] === 'sp';
    }
    items.push({ k: 'act', toks, pos: open });
    i = k;
  }
}

export class Template {
  private constructor(private readonly src: string, private readonly nodes: Node[]) {}

  /** Parses Go template text; errors read like Go's: `template: :1: function "foo" not defined`. */
  static parse(src: string): Template {
    const fail = (pos: number, msg: string): never => {
      throw new TemplateError(`template: :${src.slice(0, pos).split('\n').length}: ${msg}`);
    };
    const items = lex(src, fail);
    let at = 0;
    const parseList = (stop: string[]): [Node[], Act | undefined] => {
      const nodes: Node[] = [];
      while (at < items.length) {
        const item = items[at++]!;
        if (item.k === 'text') {
          nodes.push(item);
          continue;
        }
        const kw = item.toks[0]?.t === 'ident' ? item.toks[0].v : '';
        if (kw === 'end' || kw === 'else') {
          if (stop.includes(kw)) return [nodes, item];
          fail(item.pos, `unexpected {{${kw}}}`);
        }
        if (kw === 'if' || kw === 'with' || kw === 'range') nodes.push(parseControl(kw, item.toks.slice(1), item.pos));
        else if (['define', 'template', 'block', 'break', 'continue'].includes(kw)) fail(item.pos, `unsupported action {{${kw}}}`);
        else {
          const pipe = parsePipe(item.toks, item.pos, false);
          if (pipe.cmds.length === 0) fail(item.pos, 'missing value for command');
          nodes.push({ k: 'out', pipe });
        }
      }
      return stop.length > 0 ? fail(src.length, 'unexpected EOF') : [nodes, undefined];
    };
    const parseControl = (kw: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node => {
      const pipe = parsePipe(toks, pos, kw === 'range');
      if (pipe.cmds.length === 0) fail(pos, `missing value for ${kw}`);
      const [then, term] = parseList(['end', 'else']);
      let els: Node[] = [];
      const [word, next, ...more] = term?.toks ?? [];
      if (word?.v === 'else' && (next?.v === 'if' || next?.v === 'with') && kw !== 'range') {
        // {{else if x}} is {{else}}{{if x}}...{{end}}{{end}} sharing a single {{end}}.
        els = [parseControl(next.v, more, term!.pos)];
      } else if (next) fail(term!.pos, `unexpected "${next.v}" in ${word!.v}`);
      else if (word?.v === 'else') els = parseList(['end'])[0];
      return { k: kw, pipe, then, else: els };
    };
    const parsePipe = (toks: Tok[], pos: number, range: boolean): Pipe => {
      let j = 0;
      const pipe: Pipe = { decl: [], assign: false, cmds: [] };
      const isVar = (n: number) => toks[n]?.t === 'var' && !toks[n]!.v.includes('.');
      if (isVar(0) && (toks[1]?.t === ':=' || toks[1]?.t === '=')) {
        [pipe.decl, pipe.assign, j] = [[toks[0]!.v], toks[1]!.t === '=', 2];
      } else if (range && isVar(0) && toks[1]?.t === ',' && isVar(2) && toks[3]?.t === ':=') {
        [pipe.decl, j] = [[toks[0]!.v, toks[2]!.v], 4];
      }
      const parseCmds = (inParens: boolean): Cmd[] => {
        const cmds: Cmd[] = [];
        do {
          const args: Operand[] = [];
          const start = toks[j]?.pos ?? pos;
          while (j < toks.length && toks[j]!.t !== '|' && toks[j]!.t !== ')') args.push(operand());
          if (args.length === 0) fail(pos, 'missing value for command');
          cmds.push({ args, pos: start, src: src.slice(start, toks[j - 1]!.end) });
        } while (toks[j]?.t === '|' && ++j);
        if (inParens && toks[j++]?.t !== ')') fail(pos, 'unclosed left paren');
        if (!inParens && j < toks.length) fail(pos, `unexpected "${toks[j]!.v}" in operand`);
        return cmds;
      };
      const operand = (): Operand => {
        const tok = toks[j++]!;
        const { t, v } = tok;
        if (t === 'field' || t === 'dot') return { k: 'field', names: t === 'dot' ? [] : v.slice(1).split('.') };
        if (t === 'var') return { k: 'var', name: v.split('.')[0]!, names: v.split('.').slice(1) };
        if (t === 'str') return { k: 'lit', v: v[0] === '`' ? v.slice(1, -1) : unescapeGo(v.slice(1, -1)) };
        if (t === 'num') {
          const n = /^[+-]?0[0-7]+$/.test(v) ? parseInt(v, 8) : Number(v.replace(/_/g, ''));
          return Number.isNaN(n) ? fail(tok.pos, `bad number syntax: "${v}"`) : { k: 'lit', v: n };
        }
        if (t === 'ident' && ['true', 'false', 'nil'].includes(v)) return { k: 'lit', v: v === 'nil' ? null : v === 'true' };
        if (t === 'ident') return Object.hasOwn(FUNCS, v) ? { k: 'fn', name: v } : fail(tok.pos, `function "${v}" not defined`);
        if (t === '(') {
          const sub: Pipe = { decl: [], assign: false, cmds: parseCmds(true) };
          // (pipeline).Field chains only when the field follows the paren without a space.
          const chain = toks[j]?.t === 'field' && !toks[j]!.sp ? toks[j++]!.v.slice(1).split('.') : [];
          return { k: 'sub', names: chain, pipe: sub };
        }
        return fail(tok.pos, `unexpected "${v}" in operand`);
      };
      pipe.cmds = j < toks.length ? parseCmds(false) : [];
      return pipe;
    };
    return new Template(src, parseList([])[0]);
  }

  /**
   * Runs the template. `funcs` replaces functions by name (docker's header rendering); output
   * produced before an error is left in `partial` when given.
   */
  execute(data: unknown, funcs: Record<string, TemplateFunc> = {}, partial: { out: string } = { out: '' }): string {
    const vars: { name: string; v: unknown }[] = [{ name: '$', v: data }];
    const src = this.src;
    const field = (v: unknown, name: string): unknown => {
      if (v === undefined) return undefined; // a missing map key stays "<no value>" down the chain
      if (v === null) throw new Error(`nil pointer evaluating interface {}.${name}`);
      if (v instanceof Map) return v.get(name);
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`can't evaluate field ${name} in type ${goType(v)}`);
      if (!(name in v) || (name in Object.prototype && !Object.hasOwn(v, name))) return undefined;
      const x = (v as Record<string, unknown>)[name];
      return typeof x === 'function' ? (x as TemplateFunc).call(v) : x;
    };
    const walk = (v: unknown, names: string[]) => names.reduce(field, v);
    const callFn = (name: string, args: unknown[]): unknown => {
      const [min, max, f] = FUNCS[name]!;
      if (args.length < min || args.length > max) {
        throw new Error(`wrong number of args for ${name}: want ${min === max ? '' : 'at least '}${min} got ${args.length}`);
      }
      try {
        return (funcs[name] ?? f)(...args);
      } catch (e) {
        throw new Error(`error calling ${name}: ${(e as Error).message}`);
      }
    };
    const lookupVar = (name: string) => {
      return vars.findLast((x) => x.name === name) ?? raise(`undefined variable: ${name}`);
    };
    const evalArg = (a: Operand, dot: unknown): unknown => {
      if (a.k === 'lit') return a.v;
      if (a.k === 'fn') return callFn(a.name, []);
      const base = a.k === 'field' ? dot : a.k === 'var' ? lookupVar(a.name!).v : evalPipe(a.pipe!, dot);
      return walk(base, a.names);
    };
    const evalCmd = (cmd: Cmd, dot: unknown, final: unknown[]): unknown => {
      const [first, ...rest] = cmd.args as [Operand, ...Operand[]];
      const args = () => [...rest.map((r) => evalArg(r, dot)), ...final];
      try {
        if (first.k === 'fn') return callFn(first.name, args());
        if (rest.length === 0 && final.length === 0) return evalArg(first, dot);
        if (first.k !== 'lit' && first.names.length > 0) {
          // A field given arguments is a method call, e.g. {{.Label "com.example"}}.
          const recv = evalArg({ ...first, names: first.names.slice(0, -1) }, dot);
          const m = recv !== null && typeof recv === 'object' ? (recv as Record<string, unknown>)[first.names.at(-1)!] : undefined;
          if (typeof m === 'function') return (m as TemplateFunc).call(recv, ...args());
        }
        throw new Error(`can't give argument to non-function ${src.slice(cmd.pos).split(/\s/)[0]}`);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        const before = src.slice(0, cmd.pos);
        const where = `${before.split('\n').length}:${cmd.pos - before.lastIndexOf('\n') - 1}`;
        throw new TemplateError(`template: :${where}: executing "" at <${cmd.src}>: ${(e as Error).message}`);
      }
    };
    const evalPipe = (pipe: Pipe, dot: unknown): unknown => {
      let v: unknown;
      pipe.cmds.forEach((cmd, i) => (v = evalCmd(cmd, dot, i > 0 ? [v] : [])));
      if (pipe.decl.length === 1 && pipe.assign) {
        const slot = vars.findLast((x) => x.name === pipe.decl[0]);
        if (!slot) throw new TemplateError(`template: :1: undefined variable: ${pipe.decl[0]}`);
        slot.v = v;
      } else if (pipe.decl.length === 1) vars.push({ name: pipe.decl[0]!, v });
      return v;
    };
    const entriesOf = (v: unknown): [unknown, unknown][] => {
      if (v == null) return [];
      if (Array.isArray(v)) return v.map((x, i) => [i, x]);
      if (typeof v === 'number' && Number.isInteger(v)) return Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
      if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
      if (typeof v === 'object') return Object.keys(v).sort().map((key) => [key, (v as Record<string, unknown>)[key]]);
      throw new TemplateError(`template: :1: range can't iterate over ${goString(v)}`);
    };
    const execList = (nodes: Node[], dot: unknown): void => {
      const mark = vars.length;
      for (const n of nodes) {
        if (n.k === 'text') partial.out += n.s;
        else if (n.k === 'out') {
          const v = evalPipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) partial.out += goString(v, true);
        } else if (n.k === 'range') {
          const { decl } = n.pipe;
          const entries = entriesOf(evalPipe({ ...n.pipe, decl: [] }, dot));
          for (const [key, x] of entries) {
            const m = vars.length;
            if (decl.length === 2) vars.push({ name: decl[0]!, v: key });
            if (decl.length > 0) vars.push({ name: decl.at(-1)!, v: x });
            execList(n.then, x);
            vars.length = m;
          }
          if (entries.length === 0) execList(n.else, dot);
        } else {
          const m = vars.length;
          const v = evalPipe(n.pipe, dot);
          execList(truth(v) ? n.then : n.else, truth(v) && n.k === 'with' ? v : dot);
          vars.length = m;
        }
      }
      vars.length = mark;
    };
    execList(this.nodes, data);
    return partial.out;
  }
}

export const parseTemplate = (src: string): Template => Template.parse(src);

export function renderTemplate(src: string, data: unknown): string {
  return Template.parse(src).execute(data);
}
