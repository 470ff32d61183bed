/**
 * Dockerfile word expansion: quote removal, escapes and `$VAR` / `${VAR...}` substitution, as
 * BuildKit's shell lexer does it for ENV, ARG, COPY, WORKDIR, USER, LABEL, FROM and friends.
 * This is not a shell: no command substitution, arithmetic, globbing or `${#VAR}`; patterns in
 * `#`, `%` and `/` know only `*`, `?` and escapes (BuildKit has no bracket expressions there).
 */
import { BerthError } from '../errors';
import { goQuote } from './go-quote';

export type Env = ReadonlyMap<string, string>;
export type EscapeChar = '\\' | '`';

/** `used`: names looked up and found; `unset`: names looked up and missing (lint, ARG usage). */
export interface Expansion {
  value: string;
  used: Set<string>;
  unset: Set<string>;
}

export class ShellExpansionError extends BerthError {
  /** The message without the `failed to process "<word>": ` prefix. */
  readonly reason: string;
  constructor(word: string, reason: string) {
    super('invalid', `failed to process ${goQuote(word)}: ${reason}`);
    this.name = 'ShellExpansionError';
    this.reason = reason;
  }
}

/** Expands one word; white space is kept, nothing is split. */
export function processWord(word: string, env: Env, escape: EscapeChar = '\\'): string {
  return run(word, env, escape).value;
}

/** Expands and splits on unquoted white space (also white space that unquoted variables bring). */
export function processWords(word: string, env: Env, escape: EscapeChar = '\\'): string[] {
  return run(word, env, escape).words;
}

export function expandWithInfo(word: string, env: Env, escape: EscapeChar = '\\'): Expansion {
  const { value, used, unset } = run(word, env, escape);
  return { value, used, unset };
}

function run(word: string, env: Env, escape: EscapeChar) {
  const lexer = new Lexer(word, env, escape);
  try {
    const { value, words } = lexer.processStopOn(undefined, false);
    return { value, words, used: lexer.used, unset: lexer.unset };
  } catch (e) {
    if (e instanceof SyntaxFailure) throw new ShellExpansionError(word, e.message);
    throw e;
  }
}

/** Internal: the unwrapped reason; run() adds the word, as BuildKit's errors.Wrapf does. */
class SyntaxFailure extends Error {}

/** Go's unicode.IsSpace (JavaScript's \s differs on U+0085 and U+FEFF). */
function isSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(ch);
}
const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isDigit = (ch: string) => /^\p{Nd}$/u.test(ch);
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Code points of `text`; a leading BOM is dropped, as Go's text/scanner does. */
function codePoints(text: string): string[] {
  const chars = Array.from(text);
  if (chars[0] === '\uFEFF') chars.shift();
  return chars;
}

/** Word splitting state: a word ends at unquoted white space; quoted text never splits. */
class Words {
  readonly words: string[] = [];
  private word = '';
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word !== '') {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.word !== '') this.words.push(this.word);
    this.word = '';
    this.inWord = false;
    return this.words;
  }
}

class Lexer {
  readonly used = new Set<string>();
  readonly unset = new Set<string>();
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes = false;

  constructor(
    word: string,
    private readonly env: Env,
    private readonly escape: EscapeChar,
  ) {
    this.chars = codePoints(word);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.pos < this.chars.length ? this.chars[this.pos++] : undefined;
  }

  private getEnv(name: string): string | undefined {
    const value = this.env.get(name);
    (value === undefined ? this.unset : this.used).add(name);
    return value;
  }

  /**
   * Reads up to `stop` (consumed) or the end. With rawEscapes the escape character is kept in the
   * result: pattern and replacement text of `${v#p}` / `${v/p/r}` need it to protect `*`, `}`, `/`.
   */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { value: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let value = '';
      const words = new Words();
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (stop !== undefined && ch === stop) {
          this.next();
          return { value, words: words.finish() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          value += v;
          words.addString(v);
          continue;
        }
        if (ch === "'" || ch === '"') {
          const v = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          value += v;
          words.addRaw(v);
          continue;
        }
        this.next();
        if (ch === this.escape) {
          if (this.rawEscapes) {
            words.addRaw(ch);
            value += ch;
          }
          const escaped = this.next();
          // A lone escape character at the end of the word is dropped.
          if (escaped === undefined) break;
          words.addRaw(escaped);
          value += escaped;
        } else {
          words.addChar(ch);
          value += ch;
        }
      }
      if (stop !== undefined) throw new SyntaxFailure(`unexpected end of statement while looking for matching ${stop}`);
      return { value, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    this.next();
    let value = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new SyntaxFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return value;
      value += ch;
    }
  }

  /** Inside double quotes the escape character protects only `"`, `$` and itself. */
  private processDoubleQuote(): string {
    this.next();
    let value = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new SyntaxFailure('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return value;
      }
      if (ch === '$') {
        value += this.processDollar();
        continue;
      }
      this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) value += ch;
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === this.escape) {
          value += after;
          this.next();
          continue;
        }
      }
      value += ch;
    }
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        // Positional parameters: all the digits, nothing else.
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      return this.getEnv(name) ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new SyntaxFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new SyntaxFailure('syntax error: bad substitution');

    const name = this.processName();
    let op = this.next();
    // Go prints the end of input as U+FFFD in these messages.
    let ops = op ?? '\uFFFD';
    switch (op) {
      case '}':
        return this.getEnv(name) ?? '';
      case '/':
        return this.substitute(name);
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%':
        break;
      default:
        throw new SyntaxFailure(`unsupported modifier (${ops}) in substitution`);
    }

    const nullIsUnset = op === ':';
    if (nullIsUnset) {
      op = this.next();
      ops += op ?? '\uFFFD';
    }
    const isPattern = op === '#' || op === '%';
    if (nullIsUnset && isPattern) throw new SyntaxFailure(`unsupported modifier (${ops}) in substitution`);
    const word = this.closingWord(isPattern);

    const value = this.getEnv(name);
    const empty = value === undefined || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      case '?':
        if (value === undefined) throw new SyntaxFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (empty) throw new SyntaxFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // One `#`/`%` removes the shortest match, two the longest.
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return op === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy);
      }
      default:
        throw new SyntaxFailure(`unsupported modifier (${ops}) in substitution`);
    }
  }

  private closingWord(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).value;
    } catch (e) {
      if (e instanceof SyntaxFailure && this.peek() === undefined) throw new SyntaxFailure("syntax error: missing '}'");
      throw e;
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}` (every match). */
  private substitute(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).value;
    } catch (e) {
      if (e instanceof SyntaxFailure && this.peek() === undefined) throw new SyntaxFailure("syntax error: missing '/' in ${}");
      throw e;
    }
    const replacement = this.closingWord(true);
    const value = this.getEnv(name) ?? '';
    const re = patternRegExp(pattern, true, false);
    if (all) return replaceAll(re, value, replacement);
    // Quirk kept from BuildKit: a single replacement is inserted as written, escapes included.
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
}

/**
 * A `${v#p}`-style pattern as a RegExp: `*` any run, `?` one character, `\` escapes `*`, `?`, `\`
 * (and is dropped before `}` and `/`, which it protected from the `${...}` reader). Go's `.`
 * does not match `\n` but does match `\r`, so `[^\n]` stands in for it.
 */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = codePoints(pattern);
  let src = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') src += greedy ? '[^\\n]*' : '[^\\n]*?';
    else if (ch === '?') src += '[^\\n]';
    else if (ch === '\\') {
      const after = chars[i + 1];
      if (after === '}' || after === '/') continue;
      if (after !== '*' && after !== '?' && after !== '\\') {
        throw new SyntaxFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${after ?? '\uFFFD'}'`);
      }
      src += '\\' + after;
      i++;
    } else if ('[]{}.+()|^$'.includes(ch)) src += '\\' + ch;
    else src += ch;
  }
  return new RegExp(src, 'gu');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const re = patternRegExp(pattern, greedy, true);
  const m = re.exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** Shortest/longest suffix: reverse pattern and value, trim a prefix, reverse back (as BuildKit). */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

const reverse = (s: string) => Array.from(s).reverse().join('');

/** Reverses a pattern but keeps each `\x` pair in order: `a\*c` → `c\*a`. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\' && i !== chars.length - 1) {
      out.unshift('\\' + chars[i + 1]);
      i += 2;
    } else out.unshift(chars[i++]);
  }
  return out.join('');
}

/**
 * Go's Regexp.ReplaceAllString: an empty match right after a match is not replaced (JavaScript's
 * replace would), and `$0`/`${0}` in the replacement is the match, `$$` a dollar, other `$name`s empty.
 */
function replaceAll(re: RegExp, value: string, replacement: string): string {
  let out = '';
  let lastEnd = 0;
  let searchPos = 0;
  while (searchPos <= value.length) {
    re.lastIndex = searchPos;
    const m = re.exec(value);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += value.slice(lastEnd, start);
    if (end > lastEnd || start === 0) out += expandTemplate(replacement, m[0]);
    lastEnd = end;
    const cp = value.codePointAt(searchPos);
    const width = cp === undefined ? 0 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + value.slice(lastEnd);
}

function expandTemplate(template: string, match: string): string {
  return template.replace(/\$(?:\$|\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/gu, (all, braced?: string, bare?: string) => {
    if (all === '$$') return '$';
    return (braced ?? bare) === '0' ? match : '';
  });
}
