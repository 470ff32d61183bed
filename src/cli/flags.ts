/**
 * Command-line flag parsing with the semantics of spf13/pflag as the docker CLI configures it
 * (through cobra). Error messages are pflag's, word for word, because users and scripts match on
 * them; the CLI layer adds docker's "See 'docker run --help'." line itself.
 */
import { goQuote } from './template';

export type FlagType = 'bool' | 'string' | 'int' | 'list';
export type FlagValue = string | number | boolean | string[];

export interface FlagSpec {
  /** Long name, without dashes; it is also the key in the parse result. */
  name: string;
  /** One ASCII character. */
  short?: string;
  type: FlagType;
  /** A word in backquotes names the value in help, as pflag's UnquoteUsage does. */
  description: string;
  default?: string | number | boolean | string[];
  hidden?: boolean;
  /** Value name shown in help; defaults to the type ('' for bool, as pflag). */
  valueName?: string;
}

export interface ParsedFlags {
  flags: Record<string, FlagValue>;
  args: string[];
  help: boolean;
  /** Long names of flags given on the command line (pflag's Changed). */
  changed: Set<string>;
  string(name: string): string;
  bool(name: string): boolean;
  int(name: string): number;
  list(name: string): string[];
}

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export interface ParseOptions {
  /** Default true. docker run/create/exec turn it off so the container's own flags pass through. */
  interspersed?: boolean;
}

function defaultOf(spec: FlagSpec): FlagValue {
  switch (spec.type) {
    case 'bool':
      return spec.default === undefined ? false : spec.default === true || spec.default === 'true';
    case 'int':
      return spec.default === undefined ? 0 : Number(spec.default);
    case 'string':
      return spec.default === undefined ? '' : String(spec.default);
    case 'list':
      return Array.isArray(spec.default) ? [...spec.default] : spec.default === undefined ? [] : [String(spec.default)];
  }
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

function underscoreOK(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s[0] === '+' || s[0] === '-') s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(s[1]!.toLowerCase())) {
    i = 2;
    saw = '0';
    hex = s[1]!.toLowerCase() === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
    } else if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else {
      if (saw === '_') return false;
      saw = '!';
    }
  }
  return saw !== '_';
}

/**
 * Go's strconv.ParseInt(s, 0, 64), which pflag's int flags use: base prefixes (0x, 0o, 0b, and a
 * bare leading 0 for octal) and underscores are accepted. Returns an error suffix on failure.
 * Values beyond 2^53 lose precision in a JS number; docker has no int flag where that matters.
 */
export function parseGoInt(s0: string): number | { error: string } {
  const fail = (why: string) => ({ error: `strconv.ParseInt: parsing ${goQuote(s0)}: ${why}` });
  let s = s0;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '') return fail('invalid syntax');
  let base = 10n;
  if (s[0] === '0') {
    const p = s.length >= 3 ? s[1]!.toLowerCase() : '';
    if (p === 'b' || p === 'o' || p === 'x') {
      base = p === 'b' ? 2n : p === 'o' ? 8n : 16n;
      s = s.slice(2);
    } else {
      base = 8n;
      s = s.slice(1);
    }
  }
  const maxU64 = (1n << 64n) - 1n;
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === '_') {
      underscores = true;
      continue;
    }
    const d = /[0-9a-zA-Z]/.test(c) ? BigInt(parseInt(c, 36)) : base;
    if (d >= base) return fail('invalid syntax');
    n = n * base + d;
    if (n > maxU64) return fail('value out of range');
  }
  if (underscores && !underscoreOK(s0)) return fail('invalid syntax');
  if ((!neg && n >= 1n << 63n) || (neg && n > 1n << 63n)) return fail('value out of range');
  return Number(neg ? -n : n);
}

function displayName(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

/** pflag prints the offending shorthand with %q applied to a byte, not a rune. */
function quoteShortByte(ch: string): string {
  const byte = Buffer.from(ch, 'utf8')[0] ?? 0;
  return goQuote(String.fromCharCode(byte), "'");
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], opts: ParseOptions = {}): ParsedFlags {
  const interspersed = opts.interspersed ?? true;
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  const flags: Record<string, FlagValue> = {};
  for (const spec of specs) {
    byName.set(spec.name, spec);
    if (spec.short) byShort.set(spec.short, spec);
    flags[spec.name] = defaultOf(spec);
  }
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;
  // cobra adds a "help" flag to every command; docker gives it the shorthand -h only where the
  // command has no -h of its own (docker run -h is --hostname).
  const helpSpec: FlagSpec = { name: 'help', type: 'bool', description: 'Print usage' };
  const lookupLong = (name: string) => byName.get(name) ?? (name === 'help' ? helpSpec : undefined);
  const lookupShort = (c: string) => byShort.get(c) ?? (c === 'h' ? helpSpec : undefined);

  const set = (spec: FlagSpec, value: string): void => {
    const invalid = (why: string) =>
      new FlagError(`invalid argument ${goQuote(value)} for ${goQuote(displayName(spec))} flag: ${why}`);
    let v: FlagValue;
    switch (spec.type) {
      case 'bool': {
        const b = parseGoBool(value);
        if (b === undefined) throw invalid(`strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`);
        v = b;
        break;
      }
      case 'int': {
        const n = parseGoInt(value);
        if (typeof n !== 'number') throw invalid(n.error);
        v = n;
        break;
      }
      case 'string':
        v = value;
        break;
      case 'list':
        // The first use replaces the default, as docker's ListOpts and pflag's stringArray do.
        v = [...(changed.has(spec.name) ? (flags[spec.name] as string[]) : []), value];
        break;
    }
    if (spec === helpSpec) help = v as boolean;
    else {
      flags[spec.name] = v;
      changed.add(spec.name);
    }
  };

  let i = 0;
  while (i < argv.length) {
    const s = argv[i++]!;
    if (s.length < 2 || s[0] !== '-') {
      if (!interspersed) {
        args.push(s, ...argv.slice(i));
        break;
      }
      args.push(s);
      continue;
    }
    if (s === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (s[1] === '-') {
      const body = s.slice(2);
      if (body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const spec = lookupLong(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) set(spec, body.slice(eq + 1));
      else if (spec.type === 'bool') set(spec, 'true');
      else if (i < argv.length) set(spec, argv[i++]!);
      else throw new FlagError(`flag needs an argument: ${s}`);
      continue;
    }
    // A group of shorthands: each error names the rest of the group from the failing letter on.
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0]!;
      const rest = shorts;
      const spec = lookupShort(c);
      if (!spec) throw new FlagError(`unknown shorthand flag: ${quoteShortByte(c)} in -${rest}`);
      shorts = shorts.slice(1);
      if (rest.length > 2 && rest[1] === '=') {
        set(spec, rest.slice(2));
        shorts = '';
      } else if (spec.type === 'bool') {
        set(spec, 'true');
      } else if (rest.length > 1) {
        set(spec, rest.slice(1));
        shorts = '';
      } else if (i < argv.length) {
        set(spec, argv[i++]!);
      } else {
        throw new FlagError(`flag needs an argument: ${quoteShortByte(c)} in -${rest}`);
      }
    }
  }

  const typed = <T extends FlagValue>(name: string, type: FlagType): T => {
    const spec = byName.get(name);
    if (!spec || spec.type !== type) throw new Error(`flag --${name} is not a defined ${type} flag`);
    return flags[name] as T;
  };
  return {
    flags,
    args,
    help,
    changed,
    string: (name) => typed<string>(name, 'string'),
    bool: (name) => typed<boolean>(name, 'bool'),
    int: (name) => typed<number>(name, 'int'),
    list: (name) => typed<string[]>(name, 'list'),
  };
}

/** pflag's UnquoteUsage: a `word` in the description becomes the value name. */
function unquoteUsage(spec: FlagSpec): { varname: string; usage: string } {
  const m = /`([^`]*)`/.exec(spec.description);
  if (m) {
    return { varname: m[1]!, usage: spec.description.slice(0, m.index) + m[1] + spec.description.slice(m.index + m[0].length) };
  }
  const varname = spec.valueName ?? (spec.type === 'bool' ? '' : spec.type);
  return { varname, usage: spec.description };
}

/** The "(default …)" suffix, omitted for zero values as pflag's defaultIsZeroValue decides. */
function defaultSuffix(spec: FlagSpec): string {
  const d = defaultOf(spec);
  switch (spec.type) {
    case 'bool':
      return d === true ? ' (default true)' : '';
    case 'int':
      return d !== 0 ? ` (default ${d})` : '';
    case 'string':
      return d !== '' ? ` (default ${goQuote(d as string)})` : '';
    case 'list':
      return (d as string[]).length > 0 ? ` (default [${(d as string[]).join(' ')}])` : '';
  }
}

/** pflag's FlagUsages: one line per visible flag, sorted by name, descriptions aligned. */
export function formatFlagUsages(specs: readonly FlagSpec[]): string {
  const visible = specs.filter((s) => !s.hidden).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rows = visible.map((spec) => {
    const { varname, usage } = unquoteUsage(spec);
    let cell = spec.short ? `  -${spec.short}, --${spec.name}` : `      --${spec.name}`;
    if (varname) cell += ' ' + varname;
    return { cell, text: usage + defaultSuffix(spec) };
  });
  // pflag measures the cell plus a NUL placeholder and prints "cell spacing usage" with
  // Println's separating spaces, so the column sits 3 past the longest cell.
  const maxlen = Math.max(0, ...rows.map((r) => r.cell.length + 1));
  return rows
    .map(({ cell, text }) => {
      const body = text.replace(/\n/g, '\n' + ' '.repeat(maxlen + 2));
      return `${cell} ${' '.repeat(maxlen - cell.length)} ${body}\n`;
    })
    .join('');
}

export interface HelpExtra {
  aliases?: string[];
  examples?: string;
  commands?: { name: string; description: string }[];
}

/** docker's cobra usage template (cli/cobra.go) for a subcommand. */
export function formatHelp(usage: string, description: string, specs: readonly FlagSpec[], extra: HelpExtra = {}): string {
  let out = `\nUsage:  ${usage}\n`;
  if (description.trimEnd()) out += `\n${description.trimEnd()}\n`;
  if (extra.aliases && extra.aliases.length > 0) out += `\nAliases:\n  ${extra.aliases.join(', ')}\n`;
  if (extra.examples) out += `\nExamples:\n${extra.examples.trimEnd()}\n`;
  const options = formatFlagUsages(specs).trimEnd();
  if (options) out += `\nOptions:\n${options}\n`;
  const commands = extra.commands ?? [];
  if (commands.length > 0) {
    // cobra's NamePadding: the longest sibling name, but at least 11, plus one.
    const pad = Math.max(11, ...commands.map((c) => c.name.length)) + 1;
    out += '\nCommands:\n' + commands.map((c) => `  ${c.name.padEnd(pad)}${c.description}\n`).join('');
    const path = usage.replace(/( \[OPTIONS\])? COMMAND.*$/, '');
    out += `\nRun '${path} COMMAND --help' for more information on a command.\n`;
  }
  return out;
}
