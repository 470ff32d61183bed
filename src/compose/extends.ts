/**
 * `extends`: a service starts from another one, in the same file or in `file:` (relative to the
 * project directory, or to the extending file when that one was itself reached by extends). The
 * base is resolved first (it may extend too; cycles are errors), its relative paths are made
 * absolute against its own file's directory, and the service is merged on top of it by the merge
 * rules.
 */
import * as path from 'node:path';
import { child, cloneTree, errorAt, isMapping, putFrom } from './meta';
import { mergeService } from './merge';
import type { PipelineContext } from './pipeline';
import { loadFileCached } from './pipeline';
import { rebaseService } from './rebase';

type Obj = Record<string, unknown>;

interface Scope {
  /** The services of the file (or merged document) being resolved. */
  services: Obj;
  /** Absolute path of the file, or '' for the project's merged document. */
  file: string;
  /** The directory `extends.file` is relative to. */
  dir: string;
}

/** Replaces each service of `doc` that has `extends` by its resolved definition (in place). */
export function applyExtends(doc: Obj, workingDir: string, ctx: PipelineContext): void {
  if (!isMapping(doc.services)) return;
  const scope: Scope = { services: doc.services, file: '', dir: workingDir };
  const done = new Map<string, Obj>();
  for (const name of Object.keys(doc.services)) {
    const svc = doc.services[name];
    if (!isMapping(svc) || svc.extends === undefined) continue;
    putFrom(doc.services, name, resolve(scope, name, [], done, ctx), doc.services, name);
  }
}

function resolve(scope: Scope, name: string, stack: string[], done: Map<string, Obj>, ctx: PipelineContext): Obj {
  const id = `${scope.file}#${name}`;
  const cached = done.get(id);
  if (cached) return cached;
  const svc = scope.services[name] as Obj;
  if (svc.extends === undefined) return svc;
  const where = `services.${name}`;
  if (stack.includes(id)) throw errorAt(svc, 'extends', child(where, 'extends'), `circular extends: ${[...stack, id].map(describe).join(' → ')}`);

  const ext = typeof svc.extends === 'string' ? { service: svc.extends } : (svc.extends as { service: string; file?: string });
  let baseScope = scope;
  if (ext.file !== undefined) {
    const file = path.resolve(scope.dir, ext.file);
    let tree: Obj;
    try {
      tree = loadFileCached(file, ctx);
    } catch (e) {
      if ((e as Error).message === `${file}: no such file`) throw errorAt(svc, 'extends', child(where, 'extends'), `extends file ${ext.file} not found`);
      throw e;
    }
    baseScope = { services: isMapping(tree.services) ? tree.services : {}, file, dir: path.dirname(file) };
  }
  if (!isMapping(baseScope.services[ext.service])) {
    const inFile = ext.file !== undefined ? ` in ${ext.file}` : '';
    throw errorAt(svc, 'extends', child(where, 'extends'), `extended service "${ext.service}" not found${inFile}`);
  }
  const base = cloneTree(resolve(baseScope, ext.service, [...stack, id], done, ctx));
  if (baseScope.file !== scope.file) rebaseService(base, baseScope.dir);
  const own = cloneTree(svc);
  delete own.extends;
  const merged = mergeService(base, own);
  done.set(id, merged);
  return merged;
}

function describe(id: string): string {
  const [file, name] = id.split('#');
  return file ? `${path.basename(file)}:${name}` : name;
}
