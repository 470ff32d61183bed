/**
 * One logical line → keyword, flags and arguments, by the per-instruction rules of BuildKit's parser
 * (see ../../../shared/conformance/dockerfile/README.md §1.2 and §4). No quote removal and no
 * variable expansion happen here: the builder does both later.
 */

import { goQuote } from './go-quote';

export interface ParsedLine {
  /** The instruction word as written. */
  keyword: string;
  flags: string[];
  args: string[];
  json: boolean;
  /** ONBUILD's trigger. */
  sub?: ParsedLine;
  original: string;
}

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

// Go's unicode.IsSpace.
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
export const isSpace = (ch: string) => SPACE.test(ch);
const trimSpace = (s: string) => trimLeftSpace(trimRightSpace(s));
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  return s.slice(i);
}
function trimRightSpace(s: string): string {
  let i = s.length;
  while (i > 0 && isSpace(s[i - 1]!)) i--;
  return s.slice(0, i);
}

// ASCII blanks: what FROM, EXPOSE, the non-JSON ADD/COPY/VOLUME forms and the keyword split on.
const BLANKS = /[\t\v\f\r ]+/;
const splitBlanks = (s: string) => s.split(BLANKS);

type ArgRule = (rest: string, esc: string) => { args: string[]; json?: boolean; sub?: ParsedLine };

const RULES: Record<string, ArgRule> = {
  add: maybeJsonToList,
  arg: (rest, esc) => ({ args: quoteAwareWords(rest, esc) }),
  cmd: maybeJson,
  copy: maybeJsonToList,
  entrypoint: maybeJson,
  env: (rest, esc) => ({ args: nameValues(rest, 'ENV', esc) }),
  expose: (rest) => ({ args: rest === '' ? [] : splitBlanks(rest) }),
  from: (rest) => ({ args: rest === '' ? [] : splitBlanks(rest) }),
  healthcheck: healthcheck,
  label: (rest, esc) => ({ args: nameValues(rest, 'LABEL', esc) }),
  maintainer: wholeRest,
  onbuild: (rest, esc) => (rest === '' ? { args: [] } : { args: [], sub: parseLine(rest, esc) }),
  run: maybeJson,
  shell: maybeJson,
  stopsignal: wholeRest,
  user: wholeRest,
  volume: maybeJsonToList,
  workdir: wholeRest,
};

export const KNOWN_INSTRUCTIONS = Object.keys(RULES);

/** Throws an Error whose message is the reason (the caller adds the line). */
export function parseLine(line: string, esc: string): ParsedLine {
  const trimmed = trimSpace(line);
  const m = BLANKS.exec(trimmed);
  const keyword = m ? trimmed.slice(0, m.index) : trimmed;
  let flags: string[] = [];
  let rest = '';
  if (m) {
    const after = extractFlags(trimmed.slice(m.index + m[0].length), esc);
    flags = after.flags;
    rest = trimSpace(after.rest);
  }
  // Unknown instructions parse; their arguments are dropped (they fail later, as instructions).
  const lower = keyword.toLowerCase();
  const rule: ArgRule = Object.hasOwn(RULES, lower) ? RULES[lower]! : () => ({ args: [''] });
  const { args, json = false, sub } = rule(rest, esc);
  return { keyword, flags, args, json, original: line, ...(sub ? { sub } : {}) };
}

/**
 * Leading `--words` are flags, read quote-aware and unquoted. A bare `--` ends them and is dropped.
 * Returns the text after the flags.
 */
function extractFlags(line: string, esc: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos]!)) pos++;
    if (pos >= line.length) return { flags, rest: '' };
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quoted = false;
    let quote = '';
    for (; pos < line.length; pos++) {
      let ch = line[pos]!;
      if (quote === '') {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          quoted = true;
          continue;
        }
      } else if (ch === quote) {
        quote = '';
        continue;
      }
      if (ch === esc) {
        if (pos + 1 === line.length) {
          quote = '';
          continue;
        }
        ch = line[++pos]!;
      }
      word += ch;
    }
    if (word === '--') return { flags, rest: line.slice(pos) };
    if (quoted || word.length > 0) flags.push(word);
  }
}

function wholeRest(rest: string): { args: string[] } {
  return { args: rest === '' ? [] : [rest] };
}

/** A complete JSON array of strings, or undefined when the text is not JSON (then it is shell form). */
function jsonArray(rest: string): string[] | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((v) => typeof v === 'string')) throw new Error(NOT_STRING_ARRAY);
  return parsed as string[];
}

function maybeJson(rest: string): { args: string[]; json?: boolean } {
  if (rest === '') return { args: [] };
  const json = jsonArray(rest);
  return json ? { args: json, json: true } : { args: [rest] };
}

function maybeJsonToList(rest: string): { args: string[]; json?: boolean } {
  const json = jsonArray(rest);
  if (json) return { args: json, json: true };
  return { args: rest === '' ? [] : splitBlanks(rest) };
}

function healthcheck(rest: string): { args: string[]; json?: boolean } {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [] };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json ?? false };
}

/**
 * Words separated by white space outside quotes. Quotes and escape characters stay in the word;
 * they only decide where it ends (a lone escape character at the very end is dropped).
 */
export function quoteAwareWords(rest: string, esc: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  let quote = '';
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (quoted || word.length > 0) words.push(word);
        word = '';
        quoted = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        quoted = true;
      } else if (ch === esc) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
    } else {
      // The escape character protects the next one inside double quotes only.
      if (ch === quote) quote = '';
      else if (ch === esc && quote !== "'") {
        if (i + 1 === chars.length) {
          quote = '';
          continue;
        }
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
    }
  }
  if (inWord && (quoted || word.length > 0)) words.push(word);
  return words;
}

/** ENV/LABEL as flattened key, value, separator triples: legacy `KEY value` or `k=v k2=v2`. */
function nameValues(rest: string, instruction: string, esc: string): string[] {
  const words = quoteAwareWords(rest, esc);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = BLANKS.exec(rest);
    if (!m) throw new Error(`${instruction} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const out: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new Error(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    out.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return out;
}
