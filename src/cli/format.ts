/**
 * Output formatting as the docker CLI does it: text/tabwriter tables, --format handling with
 * table headers, and the id/width helpers its columns use. Widths count Unicode code points,
 * as Go's tabwriter counts runes (not terminal cells).
 */

import { renderTemplate, Template, type TemplateFunc } from './template';

/** One object through --format, as docker does for inspect, version and info: `json` is {{json .}}. */
export function renderOne(format: string, data: unknown): string {
  return `${renderTemplate(format === 'json' ? '{{json .}}' : format, data)}\n`;
}

// ---------------------------------------------------------------- tabwriter

const runeLen = (s: string): number => [...s].length;

/**
 * text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, ' ', flags 0).
 * Tab-terminated cells align per column block, a run of consecutive lines that all have that
 * column. A line's last cell is never padded; as in Go, an empty last cell after padded cells
 * leaves the padding (trailing spaces) in place.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';
  const write = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      lines[i]!.forEach((cell, j) => (out += j < widths.length ? cell + ' '.repeat(widths[j]! - runeLen(cell)) : cell));
      if (i + 1 < lines.length) out += '\n';
    }
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      write(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1 && column < lines[t]!.length - 1; t++) width = Math.max(width, runeLen(lines[t]![column]!) + padding);
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    write(line0, line1);
  };
  format(0, lines.length);
  return out;
}

/** Rows of cells through tabwrite; every row ends with '\n'. */
export function tabulate(rows: readonly (readonly string[])[]): string {
  return tabwrite(rows.map((r) => r.join('\t') + '\n').join(''));
}

// ---------------------------------------------------------------- --format handling

export interface FormatSpec {
  table: boolean;
  template: string;
}

/**
 * docker's Context.preFormat: a "table" prefix selects tabwriter output, "json" is {{json .}},
 * surrounding spaces are trimmed, and the two-character escapes \t and \n become real ones
 * (so --format 'table {{.ID}}\t{{.Image}}' works from a shell).
 */
export function formatSpec(format: string): FormatSpec {
  const table = format.startsWith('table');
  const t = table ? format.slice('table'.length) : format === 'json' ? '{{json .}}' : format;
  return { table, template: t.replace(/^ +| +$/g, '').replace(/\\([tn])/g, (_m, c: string) => (c === 't' ? '\t' : '\n')) };
}

/** docker runs the table header through passthroughs so {{upper .Name}} still prints "NAME". */
const HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, (v: unknown) => v]),
);

/**
 * Renders items the way docker's formatter does: each item's output plus '\n'. A table format
 * also gets a header row, the same template executed on `headers` (field name → column title)
 * with docker's passthrough header functions; errors there are ignored, keeping what was
 * printed before them, as docker does. An empty format or a bare "table" uses `defaultTable`.
 */
export function renderList(format: string, items: readonly unknown[], headers: Record<string, string> = {}, defaultTable = ''): string {
  const spec = formatSpec(format === '' || format === 'table' ? defaultTable : format);
  const tmpl = Template.parse(spec.template);
  const body = items.map((item) => tmpl.execute(item) + '\n').join('');
  if (!spec.table) return body;
  const header = { out: '' };
  try {
    tmpl.execute(headers, HEADER_FUNCS, header);
  } catch {
    // docker discards header errors
  }
  return tabwrite(header.out + '\n' + body);
}

// ---------------------------------------------------------------- ids and widths

/** stringid.TruncateID: drop an "algorithm:" prefix, keep 12 characters. */
export function truncateId(id: string): string {
  return id.slice(id.indexOf(':') + 1).slice(0, 12);
}

const WIDE: [number, number][] = [
  [0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xac00, 0xd7a3],
  [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];

/** Terminal cells of a character, like go-runewidth for the common wide and zero-width ranges. */
function cellWidth(ch: string): number {
  if (/[\p{Mn}\p{Me}\p{Cf}]/u.test(ch)) return 0;
  const cp = ch.codePointAt(0)!;
  return WIDE.some(([a, b]) => cp >= a && cp <= b) ? 2 : 1;
}

/** docker's formatter.Ellipsis (ps COMMAND column): fit in max cells, the last being '…'. */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const rs = [...s];
  if (max === 1) return rs[0] ?? '';
  const widths = rs.map(cellWidth);
  if (widths.reduce((a, b) => a + b, 0) <= max) return s;
  let used = 0;
  let n = 0;
  while (n < rs.length && used + widths[n]! <= max - 1) used += widths[n++]!;
  return n === 0 ? s : rs.slice(0, n).join('') + '…';
}
