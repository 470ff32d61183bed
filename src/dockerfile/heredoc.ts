/**
 * Heredoc markers (`RUN <<EOF`, `COPY <<-"EOT" /x`, `RUN 3<<EOF`), found the way BuildKit finds them:
 * the logical line is cut into shell words (quotes and escapes kept, `<<` glued to the blanks after
 * it), and each word of the form `[digits]<<[-][blanks]WORD` is a marker. Quoting any part of WORD
 * turns expansion of the body off.
 */

export interface Heredoc {
  /** The terminator, quotes removed. For COPY/ADD it is also the file name. */
  name: string;
  /** The body's lines as written (newlines kept, leading tabs kept even for `<<-`: see chompHeredoc). */
  content: string;
  /** False when any part of the marker word was quoted: the body is used as is. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the terminator line and, by the consumer, from the body. */
  chomp: boolean;
  /** The digits before `<<` (0 when none). */
  fd: number;
}

// The lexer's escape character is always the backslash here, whatever the escape directive says
// (BuildKit lexes markers with a fixed backslash lexer).
const ESC = '\\';
const isBlank = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r';
// Go's unicode.IsSpace.
const isSpace = (ch: string) => /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(ch);

class UnterminatedQuote extends Error {}

interface LexMode {
  rawQuotes: boolean;
  rawEscapes: boolean;
}

/** Shell words without variable expansion (`$` is kept as written, as for unset variables). */
function lexWords(src: string, mode: LexMode): string[] {
  const words: string[] = [];
  let buf = '';
  let inWord = false;
  const raw = (s: string) => {
    buf += s;
    inWord = true;
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new UnterminatedQuote('unexpected end of statement while looking for matching single-quote');
      raw(mode.rawQuotes ? src.slice(i, end + 1) : src.slice(i + 1, end));
      i = end + 1;
    } else if (ch === '"') {
      let s = mode.rawQuotes ? '"' : '';
      i++;
      for (;;) {
        if (i >= src.length) throw new UnterminatedQuote('unexpected end of statement while looking for matching double-quote');
        let c = src[i++]!;
        if (c === '"') {
          if (mode.rawQuotes) s += c;
          break;
        }
        if (c === ESC) {
          if (mode.rawEscapes) s += c;
          const next = src[i];
          if (next === undefined) continue;
          if (next === '"' || next === '$' || next === ESC) c = src[i++]!;
        }
        s += c;
      }
      raw(s);
    } else if (ch === '<' && src[i + 1] === '<') {
      let j = i + 2;
      while (j < src.length && isBlank(src[j]!)) j++;
      raw(src.slice(i, j));
      i = j;
    } else if (ch === ESC) {
      if (mode.rawEscapes) raw(ch);
      i++;
      if (i >= src.length) break;
      raw(src[i++]!);
    } else {
      const cp = String.fromCodePoint(src.codePointAt(i)!);
      i += cp.length;
      if (!isSpace(cp)) raw(cp);
      else if (inWord && buf.length > 0) {
        words.push(buf);
        buf = '';
        inWord = false;
      }
    }
  }
  if (buf.length > 0) words.push(buf);
  return words;
}

const MARKER = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/** The heredoc a single word declares, or undefined when it is not a marker. Throws on bad quoting. */
export function parseHeredocMarker(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = MARKER.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  const words = lexWords(rest, { rawQuotes: false, rawEscapes: false });
  if (words.length !== 1) return undefined;
  const wordsRaw = lexWords(rest, { rawQuotes: true, rawEscapes: false });
  if (wordsRaw.length !== 1) throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => s.split('').filter((c) => c === '"' || c === "'").length;
  return {
    name: words[0]!,
    expand: quotes(words[0]!) === quotes(wordsRaw[0]!),
    chomp: m[2] === '-',
    fd: m[1] ? Number(m[1]) : 0,
  };
}

/** Markers of a logical line in order. A line the lexer cannot cut (an open quote) declares none. */
export function heredocMarkers(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = lexWords(line, { rawQuotes: true, rawEscapes: true });
  } catch (e) {
    if (e instanceof UnterminatedQuote) return [];
    throw e;
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of words) {
    const h = parseHeredocMarker(w);
    if (h) out.push(h);
  }
  return out;
}

/** The body of a `<<-` heredoc with each line's leading tabs removed (BuildKit's ChompHeredocContent). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}
