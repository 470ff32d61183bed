/**
 * The env file format of the Compose spec (.env and a service's env_file): `VAR=VAL` lines,
 * `#` comments, optional `export `, single quotes literal, double quotes with \n \t \r \\ \" escapes,
 * unquoted and double-quoted values interpolated (against earlier lines first, then the given
 * lookup), inline ` #` comments after unquoted values, `VAR` alone for a value taken from the
 * environment. Quoted values may span lines.
 */
import { invalid } from '../errors';
import { InterpolationError, Lookup, interpolate } from './interpolate';

export interface EnvFileOptions {
  /** Where `${X}` and a bare `VAR` line look when the file itself has not set X. */
  lookup?: Lookup;
  /** `raw`: values are taken as written, without quotes handling or interpolation. */
  format?: 'raw';
  /** Shown in errors. */
  name?: string;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseEnvFile(text: string, opts: EnvFileOptions = {}): Record<string, string> {
  const vars: Record<string, string> = {};
  const lookup: Lookup = (n) => (Object.prototype.hasOwnProperty.call(vars, n) ? vars[n] : opts.lookup?.(n));
  const p = new Parser(text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n'), opts.name ?? 'env file');
  while (!p.done()) {
    p.skipBlank();
    if (p.done()) break;
    if (p.peek() === '#') {
      p.toLineEnd();
      continue;
    }
    const line = p.line;
    let key = p.until(/[=\n]/).trim();
    if (key.startsWith('export ') || key.startsWith('export\t')) key = key.slice(7).trim();
    if (!KEY.test(key)) throw p.error(line, `invalid variable name ${JSON.stringify(key)}`);
    if (p.peek() !== '=') {
      p.toLineEnd();
      const v = opts.lookup?.(key);
      if (v !== undefined) vars[key] = v;
      continue;
    }
    p.advance();
    vars[key] = opts.format === 'raw' ? p.toLineEnd() : value(p, line, lookup);
  }
  return vars;
}

function value(p: Parser, line: number, lookup: Lookup): string {
  p.skipSpaces();
  const q = p.peek();
  const expand = (s: string) => {
    try {
      return interpolate(s, lookup);
    } catch (e) {
      if (e instanceof InterpolationError) throw p.error(line, e.message);
      throw e;
    }
  };
  if (q === "'" || q === '"') {
    p.advance();
    const body = p.quoted(q, line);
    const rest = p.toLineEnd().trim();
    if (rest !== '' && !rest.startsWith('#')) throw p.error(line, `unexpected text after the closing quote: ${rest}`);
    return q === "'" ? body.replace(/\\'/g, "'") : expand(unescapeDouble(body));
  }
  let raw = p.toLineEnd();
  const comment = raw.search(/[ \t]#/);
  if (comment >= 0) raw = raw.slice(0, comment);
  return expand(raw.trim());
}

/** Double-quoted escapes; `\$` becomes `$$` so interpolation keeps a literal dollar. */
function unescapeDouble(s: string): string {
  const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$$' };
  return s.replace(/\\(.)/gs, (all, c: string) => map[c] ?? all);
}

class Parser {
  private i = 0;
  line = 1;
  constructor(
    private readonly s: string,
    private readonly name: string,
  ) {}

  done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i];
  }
  advance(): void {
    if (this.s[this.i++] === '\n') this.line++;
  }
  skipBlank(): void {
    while (!this.done() && /\s/.test(this.peek())) this.advance();
  }
  skipSpaces(): void {
    while (!this.done() && (this.peek() === ' ' || this.peek() === '\t')) this.advance();
  }
  /** Text up to (not including) the first character matching `stop`. */
  until(stop: RegExp): string {
    const start = this.i;
    while (!this.done() && !stop.test(this.peek())) this.advance();
    return this.s.slice(start, this.i);
  }
  /** The rest of the line; the newline is consumed. */
  toLineEnd(): string {
    const text = this.until(/\n/);
    if (!this.done()) this.advance();
    return text;
  }
  /** The body up to the unescaped closing quote `q` (consumed); escapes are kept for the caller. */
  quoted(q: string, line: number): string {
    const start = this.i;
    while (!this.done()) {
      const c = this.peek();
      if (c === '\\' && this.i + 1 < this.s.length) {
        this.advance();
        this.advance();
        continue;
      }
      if (c === q) {
        const body = this.s.slice(start, this.i);
        this.advance();
        return body;
      }
      this.advance();
    }
    throw this.error(line, `unterminated ${q === '"' ? 'double' : 'single'} quote`);
  }
  error(line: number, message: string) {
    return invalid(`${this.name}:${line}: ${message}`);
  }
}
