/**
 * Services brought in from another directory (extends with `file:`, include) have relative
 * paths meant for that directory. Before they join the project, those paths are made absolute
 * against it, so the normalizer's later resolution against the project directory leaves them be.
 */
import * as path from 'node:path';
import { isMapping } from './meta';
import { parseVolumeShort } from './short-syntax';

type Obj = Record<string, unknown>;

/** A build context that is a URL (git, http) rather than a directory. */
export function isRemoteContext(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@') || s.startsWith('github.com/');
}

function isRelative(p: string): boolean {
  return !path.isAbsolute(p) && p !== '~' && !p.startsWith('~/');
}

function abs(p: string, dir: string): string {
  return isRelative(p) ? path.resolve(dir, p) : p;
}

/** Rewrites the relative paths of one service definition (in place) against `dir`. */
export function rebaseService(svc: Obj, dir: string): void {
  if (typeof svc.build === 'string') {
    if (!isRemoteContext(svc.build)) svc.build = abs(svc.build, dir);
  } else if (isMapping(svc.build)) {
    const ctx = typeof svc.build.context === 'string' ? svc.build.context : '.';
    if (!isRemoteContext(ctx)) svc.build.context = abs(ctx, dir);
  }
  for (const key of ['env_file', 'label_file']) {
    const v = svc[key];
    if (typeof v === 'string') svc[key] = abs(v, dir);
    else if (Array.isArray(v)) {
      v.forEach((e, i) => {
        if (typeof e === 'string') v[i] = abs(e, dir);
        else if (isMapping(e) && typeof e.path === 'string') e.path = abs(e.path, dir);
      });
    }
  }
  if (Array.isArray(svc.volumes)) {
    const vols = svc.volumes;
    vols.forEach((v, i) => {
      if (typeof v === 'string') vols[i] = rebaseShortVolume(v, dir);
      else if (isMapping(v) && v.type === 'bind' && typeof v.source === 'string') v.source = abs(v.source, dir);
    });
  }
  if (isMapping(svc.extends) && typeof svc.extends.file === 'string') svc.extends.file = abs(svc.extends.file, dir);
}

function rebaseShortVolume(spec: string, dir: string): string {
  try {
    const v = parseVolumeShort(spec);
    if (v.source === undefined || !v.isPath || !isRelative(v.source)) return spec;
    return abs(v.source, dir) + spec.slice(v.source.length);
  } catch {
    return spec; // the normalizer reports it, with its location
  }
}

/** Rebases every service and the file-based secrets and configs of a document (in place). */
export function rebaseDocument(doc: Obj, dir: string): void {
  if (isMapping(doc.services)) for (const svc of Object.values(doc.services)) if (isMapping(svc)) rebaseService(svc, dir);
  for (const key of ['secrets', 'configs']) {
    const defs = doc[key];
    if (!isMapping(defs)) continue;
    for (const d of Object.values(defs)) if (isMapping(d) && typeof d.file === 'string') d.file = abs(d.file, dir);
  }
}
