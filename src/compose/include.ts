/**
 * Top-level `include`: each entry is a Compose project of its own (its files merged, its own
 * project directory for relative paths, its own .env for defaults that the including project's
 * variables override). Its services, networks, volumes, secrets and configs are then copied in;
 * a name the including project defines differently is an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnvFile } from './env-file';
import { child, errorAt, ensureMeta, isMapping, metaOf, putFrom } from './meta';
import type { PipelineContext } from './pipeline';
import { displayName } from './pipeline';
import { rebaseDocument } from './rebase';

type Obj = Record<string, unknown>;
type LoadIncluded = (files: string[], workingDir: string, ctx: PipelineContext) => Obj;

const SECTIONS = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

export function applyIncludes(doc: Obj, workingDir: string, ctx: PipelineContext, load: LoadIncluded): void {
  const list = doc.include;
  delete doc.include;
  if (!Array.isArray(list)) return;
  list.forEach((entry, i) => {
    const where = child('include', i);
    const spec: Obj = isMapping(entry) ? entry : { path: entry };
    const files = [spec.path].flat().map((p) => path.resolve(workingDir, String(p)));
    const projectDir = typeof spec.project_directory === 'string' ? path.resolve(workingDir, spec.project_directory) : path.dirname(files[0]);
    for (const f of files) {
      if (ctx.chain.includes(f)) throw errorAt(list, i, where, `include cycle: ${[...ctx.chain, f].map((c) => displayName(c, ctx.displayDir)).join(' → ')}`);
      if (!fs.existsSync(f)) throw errorAt(list, i, where, `included file ${displayName(f, ctx.displayDir)} not found`);
    }
    const env = { ...includedEnv(spec.env_file, workingDir, projectDir, ctx, list, i), ...ctx.env };
    const sub: PipelineContext = { ...ctx, env, chain: [...ctx.chain, ...files], cache: new Map() };
    const included = load(files, projectDir, sub);
    rebaseDocument(included, projectDir);
    for (const section of SECTIONS) addSection(doc, included, section, list, i);
  });
}

/** The variables of the included project's env files (its .env by default). */
function includedEnv(envFile: unknown, workingDir: string, projectDir: string, ctx: PipelineContext, list: unknown[], i: number): Record<string, string> {
  const explicit = envFile !== undefined;
  const files = explicit ? [envFile].flat().map((f) => path.resolve(workingDir, String(f))) : [path.join(projectDir, '.env')];
  const vars: Record<string, string> = {};
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      if (explicit) throw errorAt(list, i, child(child('include', i), 'env_file'), `env file ${displayName(f, ctx.displayDir)} not found`);
      continue;
    }
    const lookup = (n: string) => (n in ctx.env ? ctx.env[n] : vars[n]);
    Object.assign(vars, parseEnvFile(text, { lookup, name: displayName(f, ctx.displayDir) }));
  }
  return vars;
}

function addSection(doc: Obj, included: Obj, section: (typeof SECTIONS)[number], list: unknown[], i: number): void {
  const from = included[section];
  if (!isMapping(from)) return;
  if (!isMapping(doc[section])) {
    const fresh: Obj = {};
    ensureMeta(fresh, metaOf(from)?.loc);
    doc[section] = fresh;
  }
  const into = doc[section] as Obj;
  for (const [key, value] of Object.entries(from)) {
    if (key in into) {
      if (deepEqual(into[key], value)) continue;
      const what = `the ${section.replace(/s$/, '')} of the same name imported by include[${i}] (${locText(list, i)})`;
      throw errorAt(into, key, `${section}.${key}`, `conflicts with ${what}`);
    }
    putFrom(into, key, value, from, key);
  }
}

function locText(list: unknown[], i: number): string {
  const loc = metaOf(list)?.keys.get(i);
  return loc ? `${loc.file}:${loc.line}` : 'include';
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Obj)[k], (b as Obj)[k]));
}
