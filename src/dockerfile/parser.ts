/**
 * Dockerfile text → AST, as BuildKit's parser builds it: parser directives at the top, physical
 * lines assembled into logical ones (continuations, comments inside them), heredoc bodies
 * consumed after their instruction, and each logical line cut into keyword, flags and arguments
 * (line-parsers.ts). The spec and vectors: ../../../shared/conformance/dockerfile/.
 */
import { BerthError } from '../errors';
import { goQuote } from './go-quote';
import { heredocMarkers, type Heredoc } from './heredoc';
import { parseLine, trimLeftSpace, type ParsedLine } from './line-parsers';

export type { Heredoc } from './heredoc';
export type EscapeChar = '\\' | '`';

export interface Node {
  /** The instruction word, lower-cased. */
  keyword: string;
  /** The assembled logical line as written (for ONBUILD's trigger: the text after ONBUILD). */
  original: string;
  /** `--name=value` words from the front, quotes removed. */
  flags: string[];
  args: string[];
  /** Exec (JSON array) form. */
  json: boolean;
  /** ONBUILD's trigger instruction. */
  next?: Node;
  heredocs: Heredoc[];
  /** 1-based, inclusive physical lines (continuations and heredoc bodies included). */
  startLine: number;
  endLine: number;
}

export interface Directives {
  syntax?: string;
  escape: EscapeChar;
  check?: string;
}

export interface Dockerfile {
  directives: Directives;
  nodes: Node[];
  /** Non-fatal findings, e.g. empty continuation lines. */
  warnings: string[];
  startLine: number;
  endLine: number;
}

export class DockerfileParseError extends BerthError {
  constructor(
    /** The reason without the line prefix, e.g. "unterminated heredoc". */
    readonly reason: string,
    readonly line: number,
  ) {
    super('invalid', `dockerfile parse error on line ${line}: ${reason}`);
    this.name = 'DockerfileParseError';
  }
}

/** Go's bufio.Scanner limit that BuildKit's parser inherits (its buffer also holds the newline). */
export const MAX_LINE_BYTES = 65535;

const HEREDOC_OWNERS = new Set(['run', 'copy', 'add']);

// After the leading `#`: name = value, trailing blanks ignored (Go's \s is [\t\n\f\r ]).
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;
const DIRECTIVE_NAMES = new Set(['syntax', 'escape', 'check']);

/** Directives count only in the first lines: the first line that is not one ends the scan for good. */
class DirectiveScanner {
  private done = false;
  private readonly seen = new Set<string>();

  constructor(private readonly comment = '#') {}

  /** The directive on this line, if the scan is still on. Throws the reason for a repeated one. */
  scan(line: string): { name: keyof Directives; value: string } | undefined {
    if (this.done) return undefined;
    const m = line.startsWith(this.comment) ? DIRECTIVE.exec(trimLeftSpace(line.slice(this.comment.length))) : null;
    const name = m?.[1]!.toLowerCase();
    if (!m || !name || !DIRECTIVE_NAMES.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(name)) throw new Error(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    return { name: name as keyof Directives, value: m[2]! };
  }
}

function applyDirective(directives: Directives, line: string, scanner: DirectiveScanner): void {
  const d = scanner.scan(line);
  if (!d) return;
  if (d.name === 'escape') {
    if (d.value !== '\\' && d.value !== '`') throw new Error(`invalid escape token '${d.value}' does not match \` or \\`);
    directives.escape = d.value;
  } else directives[d.name] = d.value;
}

/**
 * The frontend a Dockerfile asks for, found as BuildKit's DetectSyntax finds it: a `# syntax=`
 * directive, else `// syntax=`, else a JSON object's "syntax" key; a shebang line is skipped.
 * Only the first word of the value counts (the rest are frontend options).
 */
export function detectSyntax(text: string): string | undefined {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const nl = text.indexOf('\n');
  if (text.startsWith('#!')) text = nl < 0 ? '' : text.slice(nl + 1);
  for (const comment of ['#', '//']) {
    const scanner = new DirectiveScanner(comment);
    try {
      for (const line of text.split('\n')) {
        const d = scanner.scan(trimCR(line));
        if (d?.name === 'syntax') return d.value.split(' ')[0];
        if (!d) break;
      }
    } catch {
      // A repeated directive ends the scan, as in BuildKit.
    }
  }
  try {
    const json: unknown = JSON.parse(text);
    const syntax = json && typeof json === 'object' ? (json as Record<string, unknown>).syntax : undefined;
    if (typeof syntax === 'string') return syntax;
  } catch {
    // Not JSON.
  }
  return undefined;
}

interface PhysicalLine {
  /** Without its `\n`. */
  text: string;
  /** Whether a `\n` ended it (the last line of a file may have none). */
  newline: boolean;
}

/** Physical lines in order, each checked against the line-length limit as it is read. */
class LineReader {
  private readonly lines: string[];
  private readonly lastHasNewline: boolean;
  private index = 0;
  /** 1-based number of the last line read. */
  line = 0;

  constructor(text: string) {
    this.lines = text.split('\n');
    this.lastHasNewline = this.lines[this.lines.length - 1] === '';
    if (this.lastHasNewline) this.lines.pop();
  }

  get done(): boolean {
    return this.index >= this.lines.length;
  }

  read(): PhysicalLine {
    const text = this.lines[this.index++]!;
    this.line++;
    if (text.length > MAX_LINE_BYTES / 3 && utf8Length(text) > MAX_LINE_BYTES) {
      throw new DockerfileParseError(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`, this.line);
    }
    return { text, newline: this.index < this.lines.length || this.lastHasNewline };
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

const trimCR = (s: string) => s.replace(/\r+$/, '');
const isComment = (s: string) => trimLeftSpace(s).startsWith('#');

/**
 * A line continues when its last non-blank character (blanks: space, tab) is the escape
 * character and the one before it is not (BuildKit's regex; so `\\\` does not continue either).
 * Returns the line without the escape character and blanks, and whether the instruction ended.
 */
function trimContinuation(line: string, esc: string): [string, boolean] {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  if (end === 0 || line[end - 1] !== esc) return [line, true];
  if (end >= 2 && line[end - 2] === esc) return [line, true];
  return [line.slice(0, end - 1), false];
}

export function parseDockerfile(text: string): Dockerfile {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const reader = new LineReader(text);
  const directives: Directives = { escape: '\\' };
  const scanner = new DirectiveScanner();
  const nodes: Node[] = [];
  const warnings: string[] = [];

  while (!reader.done) {
    let first = trimLeftSpace(trimCR(reader.read().text));
    const startLine = reader.line;
    try {
      applyDirective(directives, first, scanner);
    } catch (e) {
      throw new DockerfileParseError((e as Error).message, startLine);
    }
    if (isComment(first)) first = '';
    const esc = directives.escape;
    let [line, ended] = trimContinuation(first, esc);
    if (ended && line === '') continue;

    let emptyContinuation = false;
    while (!ended && !reader.done) {
      const raw = reader.read().text;
      // Comments and blank lines inside a continuation are skipped without ending it.
      if (isComment(raw)) continue;
      const piece = trimCR(raw);
      if (trimLeftSpace(piece) === '') {
        emptyContinuation = true;
        continue;
      }
      let part: string;
      [part, ended] = trimContinuation(piece, esc);
      line += part;
    }
    if (emptyContinuation) warnings.push(`Empty continuation line found in: ${line}`);

    let parsed: ParsedLine;
    try {
      parsed = parseLine(line, esc);
    } catch (e) {
      throw new DockerfileParseError((e as Error).message, startLine);
    }
    const node = toNode(parsed);
    if (canOwnHeredocs(parsed) && line.includes('<<')) {
      node.heredocs = readHeredocs(line, reader, startLine);
      if (node.next) node.next.heredocs = node.heredocs;
    }
    node.startLine = startLine;
    node.endLine = reader.line;
    nodes.push(node);
  }

  if (nodes.length === 0) throw new DockerfileParseError('file with no instructions', reader.line);
  return {
    directives,
    nodes,
    warnings,
    startLine: nodes[0]!.startLine,
    endLine: nodes[nodes.length - 1]!.endLine,
  };
}

function toNode(p: ParsedLine): Node {
  const node: Node = {
    keyword: p.keyword.toLowerCase(),
    original: p.original,
    flags: p.flags,
    args: p.args,
    json: p.json,
    heredocs: [],
    startLine: 0,
    endLine: 0,
  };
  if (p.sub) node.next = toNode(p.sub);
  return node;
}

/** RUN, COPY and ADD in shell form, also as ONBUILD triggers. */
function canOwnHeredocs(p: ParsedLine): boolean {
  const target = p.keyword.toLowerCase() === 'onbuild' && p.sub ? p.sub : p;
  return HEREDOC_OWNERS.has(target.keyword.toLowerCase()) && !target.json;
}

/** Bodies in marker order, each up to a line equal to its name (leading tabs ignored for `<<-`). */
function readHeredocs(line: string, reader: LineReader, startLine: number): Heredoc[] {
  let markers: ReturnType<typeof heredocMarkers>;
  try {
    markers = heredocMarkers(line);
  } catch (e) {
    throw new DockerfileParseError((e as Error).message, startLine);
  }
  return markers.map((marker) => {
    let content = '';
    while (!reader.done) {
      const { text, newline } = reader.read();
      let candidate = trimCR(text);
      if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === marker.name) return { ...marker, content };
      content += newline ? `${text}\n` : text;
    }
    throw new DockerfileParseError('unterminated heredoc', startLine);
  });
}

/** The conformance `result` format: one `(keyword ["flags"] "args")` line per instruction. */
export function dump(df: Dockerfile): string {
  return df.nodes.map((n) => `(${dumpNode(n)})\n`).join('');
}

function dumpNode(n: Node): string {
  let s = n.keyword;
  if (n.flags.length > 0) s += ` [${n.flags.map(goQuote).join(' ')}]`;
  if (n.next) s += ` (${dumpNode(n.next)})`;
  for (const a of n.args) s += ` ${goQuote(a)}`;
  return s;
}
