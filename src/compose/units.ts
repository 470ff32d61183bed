/**
 * The value syntaxes the Compose spec shares between keys: durations ("1m30s"), byte sizes
 * ("512m"), octal file modes and shell-form commands. Each parser throws a plain Error with a
 * short reason; the normalizer adds file, line and key path.
 */

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * A duration in nanoseconds: Go's syntax ("1h5m30s20ms", "1.5s", "-"/"+" sign, "0"). A YAML
 * number is read as seconds.
 */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid duration ${v}`);
    return Math.round(v * 1e9);
  }
  if (typeof v !== 'string') throw new Error('a duration must be a string such as "1m30s"');
  const s = v.trim();
  const body = s.replace(/^[-+]/, '');
  if (body === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    total += parseFloat(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (body === '' || pos !== body.length) throw new Error(`invalid duration ${JSON.stringify(v)} (expected e.g. "10s", "1m30s", "500ms")`);
  if (s.startsWith('-')) throw new Error(`invalid duration ${JSON.stringify(v)}: must not be negative`);
  return Math.round(total);
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Bytes from a number or "2b", "1024kb", "300m", "1.5g", "512MiB" (binary multiples, as docker's RAMInBytes). */
export function parseBytes(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid byte value ${v}`);
    return Math.floor(v);
  }
  if (typeof v !== 'string') throw new Error('a byte value must be a number or a string such as "512m"');
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new Error(`invalid byte value ${JSON.stringify(v)} (expected e.g. "512m", "1g", "1024kb")`);
  return Math.floor(parseFloat(m[1]) * BYTE_UNITS[m[2].toLowerCase()]);
}

/**
 * A file mode: a number the YAML wrote in octal ("0440"; `raw` is its source text), a decimal
 * number (what YAML 1.2 made of it otherwise), or a string of octal digits.
 */
export function parseMode(v: unknown, raw?: string): number {
  if (typeof v === 'number') {
    if (raw !== undefined && /^0[0-7]+$/.test(raw)) return parseInt(raw, 8);
    if (Number.isInteger(v) && v >= 0) return v;
  }
  if (typeof v === 'string' && /^(0o?)?[0-7]+$/i.test(v.trim())) return parseInt(v.trim().replace(/^0o/i, ''), 8);
  throw new Error(`invalid file mode ${JSON.stringify(v)} (expected octal, e.g. 0440)`);
}

/** An integer from a YAML number or an interpolated string. */
export function parseInteger(v: unknown, min = 0): number {
  const n = typeof v === 'string' && /^[-+]?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`must be an integer, not ${JSON.stringify(v)}`);
  if (n < min) throw new Error(`must be at least ${min}`);
  return n;
}

export function parseNumber(v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`must be a number, not ${JSON.stringify(v)}`);
  return n;
}

/** A boolean from YAML or an interpolated string ("true", "false", also "yes"/"no", "1"/"0"). */
export function parseBoolean(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', 'yes', 'y', 'on', '1'].includes(s)) return true;
    if (['false', 'no', 'n', 'off', '0'].includes(s)) return false;
  }
  throw new Error(`must be a boolean, not ${JSON.stringify(v)}`);
}

/**
 * Splits a shell-form command into words as a POSIX shell would before expansion: blanks
 * separate, single quotes are literal, double quotes honour \\ \" \$ \` and a backslash-newline,
 * an unquoted backslash escapes the next character. No variables, globs or operators.
 */
export function splitShellWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= s.length) throw new Error(`unterminated double quote in ${JSON.stringify(s)}`);
        const d = s[i];
        if (d === '"') break;
        if (d === '\\' && i + 1 < s.length && '\\"$`\n'.includes(s[i + 1])) {
          if (s[i + 1] !== '\n') cur += s[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 < s.length && s[i + 1] !== '\n') cur += s[i + 1];
      inWord = inWord || (i + 1 < s.length && s[i + 1] !== '\n');
      i += 2;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
