/**
 * From file names to one raw document: each file is parsed, interpolated and validated on its
 * own (so errors name the right file and line), then the files are merged in order, includes are
 * added and extends resolved. The loader (loader.ts) and include (for the included projects) use it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../errors';
import { applyExtends } from './extends';
import { applyIncludes } from './include';
import { interpolateTree } from './interpolate';
import { mergeDocuments } from './merge';
import { validateFile } from './validate';
import { parseYaml } from './yaml-tree';

type Obj = Record<string, unknown>;

export interface PipelineContext {
  /** Interpolation variables (the environment over the .env files). */
  env: Record<string, string>;
  /** The main project's directory: file names in messages are relative to it. */
  displayDir: string;
  warn: (message: string) => void;
  /** Files being included, outermost first (include cycles are errors). */
  chain: string[];
  /** Parsed and checked files, by absolute path (extends may read one several times). */
  cache: Map<string, Obj>;
  /** Variables already warned about. */
  warned: Set<string>;
}

export function displayName(file: string, dir: string): string {
  const rel = path.relative(dir, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Reads and parses one file (no interpolation yet). */
export function parseFile(file: string, ctx: PipelineContext): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw invalid(code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(e as Error).message}`);
  }
  const tree = parseYaml(text, displayName(file, ctx.displayDir));
  if (Object.keys(tree).length === 0) throw invalid(`${displayName(file, ctx.displayDir)}: empty compose file`);
  return tree;
}

/** Interpolates and validates a parsed file, in place. */
export function prepareFile(tree: Obj, ctx: PipelineContext): Obj {
  const env = ctx.env;
  interpolateTree(tree, (n) => (Object.prototype.hasOwnProperty.call(env, n) ? env[n] : undefined), {
    onUnset: (name) => {
      if (ctx.warned.has(name)) return;
      ctx.warned.add(name);
      ctx.warn(`The "${name}" variable is not set. Defaulting to a blank string.`);
    },
  });
  validateFile(tree);
  if ('version' in tree && !ctx.warned.has('\0version')) {
    ctx.warned.add('\0version');
    ctx.warn('the attribute `version` is obsolete, it will be ignored');
  }
  return tree;
}

/** A file used by extends: parsed and checked once per load. */
export function loadFileCached(file: string, ctx: PipelineContext): Obj {
  let tree = ctx.cache.get(file);
  if (!tree) {
    tree = prepareFile(parseFile(file, ctx), ctx);
    ctx.cache.set(file, tree);
  }
  return tree;
}

export interface DocumentOptions {
  files: string[];
  /** Where relative paths (include, extends files) are resolved. */
  workingDir: string;
  /** Runs after parsing, before interpolation (the loader reads `name:` here). */
  beforeInterpolation?: (trees: Obj[]) => void;
}

export function loadDocument(opts: DocumentOptions, ctx: PipelineContext): Obj {
  const trees = opts.files.map((f) => parseFile(f, ctx));
  opts.beforeInterpolation?.(trees);
  let doc: Obj = {};
  for (const t of trees) doc = mergeDocuments(doc, prepareFile(t, ctx));
  applyIncludes(doc, opts.workingDir, ctx, (files, workingDir, sub) => loadDocument({ files, workingDir }, sub));
  applyExtends(doc, opts.workingDir, ctx);
  return doc;
}
