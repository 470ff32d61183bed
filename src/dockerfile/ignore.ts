/**
 * .dockerignore: reading the file (moby/patternmatcher's ignorefile.ReadAll) and matching slash
 * paths relative to the context root (PatternMatcher.MatchesOrParentMatches).
 *
 * Patterns are filepath.Match globs on the whole relative path (`*` and `?` stop at `/`, `[a-z]`,
 * `\` escapes) plus `**` for any number of directories. A path is matched if it or any parent
 * directory matches; the last matching pattern decides, so `!` re-includes. Patterns are cleaned
 * (trailing `/` goes away), so a pattern never says "directories only".
 */
import { BerthError } from '../errors';

export interface IgnoreRules {
  patterns: { pattern: string; negate: boolean }[];
}

/** Go's strings.TrimSpace (unicode.IsSpace). */
function trimSpace(s: string): string {
  const space = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
  return s.replace(new RegExp(`^${space}+|${space}+$`, 'gu'), '');
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const el of p.split('/')) {
    if (el === '' || el === '.') continue;
    if (el === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(el);
  }
  const joined = out.join('/');
  return rooted ? '/' + joined : joined || '.';
}

export function parseDockerignore(text: string): IgnoreRules {
  const patterns: IgnoreRules['patterns'] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    // A comment only when `#` is the very first character: "  # x" is the pattern "# x".
    if (line.startsWith('#')) continue;
    let pattern = trimSpace(line);
    if (pattern === '') continue;
    const negate = pattern.startsWith('!');
    if (negate) pattern = trimSpace(pattern.slice(1));
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push({ pattern, negate });
  }
  return { patterns };
}

const badPattern = () => new BerthError('invalid', 'syntax error in pattern');

/** Escapes a literal character for a `u`-mode RegExp (which allows `\-` only inside a class). */
const literal = (ch: string, inClass = false) => (/[\\^$.*+?()[\]{}|/]/.test(ch) || (inClass && ch === '-') ? '\\' + ch : ch);

/**
 * Reads a filepath.Match class starting after `[` at chars[i]; returns the RegExp class and the
 * index after `]`. Errors as Docker does: empty class, unclosed class, a bare `-` or `]` where
 * a character is due, a trailing `\`, a reversed range.
 */
function readClass(chars: string[], i: number): [string, number] {
  let out = '[';
  if (chars[i] === '^') {
    out += '^';
    i++;
  }
  const esc = (): string => {
    let ch = chars[i];
    if (ch === undefined || ch === '-' || ch === ']') throw badPattern();
    if (ch === '\\') {
      ch = chars[++i];
      if (ch === undefined) throw badPattern();
    }
    i++;
    if (i >= chars.length) throw badPattern();
    return ch;
  };
  for (let n = 0; ; n++) {
    if (chars[i] === ']' && n > 0) return [out + ']', i + 1];
    const lo = esc();
    if (chars[i] === '-') {
      i++;
      const hi = esc();
      // filepath.Match accepts `[z-a]`, but Docker's regexp compile then fails on every match.
      if (lo.codePointAt(0)! > hi.codePointAt(0)!) throw badPattern();
      out += `${literal(lo, true)}-${literal(hi, true)}`;
    } else out += literal(lo, true);
  }
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

/**
 * One pattern, compiled the way patternmatcher does, including which fast path it takes: a
 * pattern without wildcards is compared as a string, a trailing `**` makes a prefix test and a
 * leading one a suffix test (so `**.go` matches `a/b.go`; `**` + `/foo` also matches `foo`).
 * Unlike patternmatcher, `*`, `?` and `^` inside or outside a class keep their filepath.Match
 * meaning instead of leaking into the regexp.
 */
class Pattern {
  readonly type: MatchType;
  private readonly re: RegExp | undefined;

  constructor(readonly cleaned: string) {
    const chars = Array.from(cleaned);
    let src = '^';
    let type: MatchType = 'exact';
    for (let i = 0, step = 0; i < chars.length; step++) {
      const ch = chars[i++];
      if (ch === '*' && chars[i] === '*') {
        i++;
        if (chars[i] === '/') i++;
        if (i >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            src += '[^\\n]*';
            type = 'regexp';
          }
        } else {
          src += '(?:[^\\n]*/)?';
          type = 'regexp';
        }
        if (step === 0) type = 'suffix';
      } else if (ch === '*') {
        src += '[^/]*';
        type = 'regexp';
      } else if (ch === '?') {
        src += '[^/]';
        type = 'regexp';
      } else if (ch === '\\') {
        // Validated: never trailing.
        src += literal(chars[i++]);
        type = 'regexp';
      } else if (ch === '[') {
        const [cls, next] = readClass(chars, i);
        src += cls;
        i = next;
        type = 'regexp';
      } else if (ch === ']') {
        src += '\\]';
        type = 'regexp';
      } else src += literal(ch);
    }
    this.type = type;
    this.re = type === 'regexp' ? new RegExp(src + '$', 'u') : undefined;
  }

  matches(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.cleaned;
      case 'prefix':
        return path.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        return path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
      }
      case 'regexp':
        return this.re!.test(path);
    }
  }
}

/** filepath.Match's syntax check: `\` needs a character after it, classes must be well formed. */
function validate(pattern: string): void {
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\') {
      if (++i >= chars.length) throw badPattern();
    } else if (chars[i] === '[') {
      i = readClass(chars, i + 1)[1] - 1;
    }
  }
}

interface Rule {
  pattern: Pattern;
  negate: boolean;
}

export class IgnoreMatcher {
  private readonly rules: Rule[] = [];
  /** Whether any `!` pattern exists (a walker may skip an ignored dir outright without one). */
  readonly hasExceptions: boolean;

  constructor(rules: IgnoreRules | string[]) {
    const lines = Array.isArray(rules) ? rules : rules.patterns.map((r) => (r.negate ? '!' : '') + r.pattern);
    for (const line of lines) {
      // patternmatcher.New trims and cleans again, `!` included.
      let p = trimSpace(line);
      if (p === '') continue;
      p = cleanPath(p);
      const negate = p.startsWith('!');
      if (negate) {
        if (p.length === 1) throw new BerthError('invalid', 'illegal exclusion pattern: "!"');
        p = p.slice(1);
      }
      validate(p);
      this.rules.push({ pattern: new Pattern(p), negate });
    }
    this.hasExceptions = this.rules.some((r) => r.negate);
  }

  /**
   * rel: slash-separated path relative to the context root, no leading './'. isDir changes
   * nothing (Docker's patterns cannot say "directories only") but documents the call site.
   */
  ignores(rel: string, isDir: boolean): boolean {
    void isDir;
    const file = cleanPath(rel);
    // The context root itself is never excluded.
    if (file === '.') return false;
    const parts = file.split('/');
    let matched = false;
    for (const { pattern, negate } of this.rules) {
      // Only a pattern that could change the answer needs evaluating.
      if (negate !== matched) continue;
      let hit = pattern.matches(file);
      for (let n = 1; !hit && n < parts.length; n++) hit = pattern.matches(parts.slice(0, n).join('/'));
      if (hit) matched = !negate;
    }
    return matched;
  }

  /**
   * Whether an exception could re-include `rel` or something beneath it, so that a walker must
   * descend into the ignored directory `rel`. Errs on the side of yes.
   */
  mayReinclude(rel: string): boolean {
    const parts = cleanPath(rel).split('/');
    return this.rules.some(({ pattern, negate }) => negate && mayMatchUnder(pattern.cleaned, parts));
  }
}

function mayMatchUnder(pattern: string, parts: string[]): boolean {
  const segments = pattern.split('/');
  for (let k = 0; k < Math.min(segments.length, parts.length); k++) {
    // `**` spans directories, a class may match `/`, `\/` hides a separator: assume it may match.
    if (/[[\\]|\*\*/.test(segments[k])) return true;
    if (!new Pattern(segments[k]).matches(parts[k])) return false;
  }
  // Either the pattern goes deeper than rel, or it matches rel or one of its parents.
  return true;
}
