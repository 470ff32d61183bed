/**
 * Go's strconv.Quote, which the parser dump (and several Docker error messages) print strings with.
 * JSON.stringify is not the same: it writes NUL as \u0000, leaves U+00A0 raw and does not escape DEL.
 */

const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) {
      out += short;
      continue;
    }
    let cp = ch.codePointAt(0)!;
    if (cp < 0x20 || cp === 0x7f) {
      out += `\\x${hex(cp, 2)}`;
    } else if (PRINTABLE.test(ch)) {
      out += ch;
    } else {
      // A lone surrogate cannot come out of valid UTF-8; Go would have made it U+FFFD (printable).
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp === 0xfffd) out += '\ufffd';
      else out += cp < 0x10000 ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
    }
  }
  return out + '"';
}
