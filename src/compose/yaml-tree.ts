/**
 * YAML text → plain JS tree with locations (meta.ts). We walk the `yaml` package's nodes ourselves
 * rather than call toJS() so that every key keeps its line, aliases become independent copies
 * (merging later must not change what another alias sees), and `<<` merge keys follow the YAML
 * merge type: explicit keys win, then earlier merge sources win over later ones.
 */
import { Alias, Document, LineCounter, Node, Pair, Scalar, YAMLMap, YAMLSeq, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { Key, Loc, ensureMeta, located, metaOf } from './meta';

/** Bounds for alias expansion ("billion laughs"). */
const MAX_NODES = 100_000;
const MAX_DEPTH = 256;

interface Ctx {
  doc: Document;
  lc: LineCounter;
  file: string;
  nodes: number;
}

/** Parses one Compose file. `file` is the name messages show. Returns {} for an empty document. */
export function parseYaml(text: string, file: string): Record<string, unknown> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw located({ file, line: lc.linePos(e.pos[0]).line }, '', `invalid YAML: ${firstLine(e.message)}`);
  }
  const ctx: Ctx = { doc, lc, file, nodes: 0 };
  if (doc.contents === null) return {};
  const tree = convert(doc.contents as Node, ctx, 0, '');
  if (tree === null || tree === undefined) return {};
  if (typeof tree !== 'object' || Array.isArray(tree)) throw located(locAt(ctx, doc.contents as Node), '', 'the top level must be a mapping');
  return tree as Record<string, unknown>;
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function locAt(ctx: Ctx, node: Node | null | undefined): Loc | undefined {
  const pos = node?.range?.[0];
  return pos === undefined ? undefined : { file: ctx.file, line: ctx.lc.linePos(pos).line };
}

function convert(node: Node | null, ctx: Ctx, depth: number, path: string): unknown {
  if (++ctx.nodes > MAX_NODES || depth > MAX_DEPTH) throw located(locAt(ctx, node), path, 'document too large or too deeply nested (aliases?)');
  if (node === null) return null;
  if (isAlias(node)) return convert(resolveAlias(node, ctx, path), ctx, depth + 1, path);
  if (isScalar(node)) return node.value === undefined ? null : node.value;
  if (isSeq(node)) return convertSeq(node, ctx, depth, path);
  if (isMap(node)) return convertMap(node, ctx, depth, path);
  throw located(locAt(ctx, node), path, 'unsupported YAML node');
}

function resolveAlias(node: Alias, ctx: Ctx, path: string): Node {
  const target = node.resolve(ctx.doc);
  if (!target) throw located(locAt(ctx, node), path, `unknown alias *${node.source}`);
  return target;
}

function convertSeq(node: YAMLSeq, ctx: Ctx, depth: number, path: string): unknown[] {
  const out: unknown[] = [];
  const meta = ensureMeta(out, locAt(ctx, node));
  node.items.forEach((item, i) => {
    const n = item as Node | null;
    out.push(convert(n, ctx, depth + 1, `${path}[${i}]`));
    record(ctx, meta, i, n, n);
  });
  return out;
}

/** Notes the line of entry `key` (from `at`, its key node in a map), its tag and its numeric source text. */
function record(ctx: Ctx, meta: ReturnType<typeof ensureMeta>, key: Key, at: Node | null, value: Node | null): void {
  const loc = locAt(ctx, at) ?? meta.loc;
  if (loc) meta.keys.set(key, loc);
  if (value && !isAlias(value) && (value.tag === '!reset' || value.tag === '!override')) meta.tags.set(key, value.tag === '!reset' ? 'reset' : 'override');
  if (value && isScalar(value) && typeof value.value === 'number' && typeof value.source === 'string') meta.raw.set(key, value.source);
}

function convertMap(node: YAMLMap, ctx: Ctx, depth: number, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const meta = ensureMeta(out, locAt(ctx, node));
  const sources: Node[] = [];
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const keyNode = pair.key;
    if (isMergeKey(keyNode)) {
      sources.push(...mergeSources(pair.value, ctx, path));
      continue;
    }
    const key = keyString(keyNode, ctx, path);
    const sub = path ? `${path}.${key}` : key;
    out[key] = convert(pair.value, ctx, depth + 1, sub);
    record(ctx, meta, key, keyNode, pair.value);
  }
  for (const src of sources) {
    const merged = convert(src, ctx, depth + 1, path) as Record<string, unknown>;
    const m = metaOf(merged);
    for (const [k, v] of Object.entries(merged)) {
      if (k in out) continue;
      out[k] = v;
      const loc = m?.keys.get(k);
      if (loc) meta.keys.set(k, loc);
      const raw = m?.raw.get(k);
      if (raw !== undefined) meta.raw.set(k, raw);
    }
  }
  return out;
}

function isMergeKey(key: Node | null): boolean {
  return !!key && isScalar(key) && key.value === '<<' && (key.type === 'PLAIN' || key.type === undefined) && !key.tag;
}

/** The mappings a `<<` key names: one mapping (usually an alias) or a sequence of them. */
function mergeSources(value: Node | null, ctx: Ctx, path: string): Node[] {
  const deref = (n: Node | null): Node | null => (n && isAlias(n) ? resolveAlias(n, ctx, path) : n);
  const v = deref(value);
  const list = v && isSeq(v) ? (v.items as (Node | null)[]).map(deref) : [v];
  for (const n of list) if (!n || !isMap(n)) throw located(locAt(ctx, n ?? value), path, 'a merge key (<<) takes a mapping or a list of mappings');
  return list as Node[];
}

function keyString(key: Node | null, ctx: Ctx, path: string): string {
  if (key && isAlias(key)) key = resolveAlias(key, ctx, path);
  if (!key || !isScalar(key)) throw located(locAt(ctx, key), path, 'mapping keys must be scalars');
  const v = (key as Scalar).value;
  if (v === null || v === undefined) throw located(locAt(ctx, key), path, 'mapping keys must not be null');
  return String(v);
}
