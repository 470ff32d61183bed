/**
 * COPY and ADD: which source paths a step reads (globs, directories), the content hash that keys
 * its cache entry, and the copy itself into the step's writable snapshot. Docker's rules:
 * a directory source copies its contents, not itself; a file goes to `dest/<name>` when the
 * destination ends in `/` or is a directory already, else to `dest` itself; several sources need
 * a directory destination ending in `/`. Copied files keep their mode and mtime and belong to
 * root (or --chown); missing parent directories are made 0755.
 *
 * The destination is resolved inside the snapshot's root with resolveInRoot, so a symlink in the
 * image is followed as the container would follow it and never out of the root. Nothing else
 * writes to a build snapshot meanwhile, so resolving first and writing after is race-free.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalid } from '../errors';
import { resolveInRoot } from '../store/scoped-path';
import type { SourceNode, SourceTree } from './context';

/** A source the step copies: a node of the tree and the name it is copied under. */
export interface CopySource {
  node: SourceNode;
  /** The name it was asked for, when that was a symlink to `node`. */
  name?: string;
}

export interface CopyOptions {
  chown?: { uid: number; gid: number };
  /** --chmod, for copied files and directories. */
  chmod?: number;
  /** --parents: each source keeps its path (from the tree's root) under the destination. */
  parents?: boolean;
  /** --exclude: tree paths not to copy. */
  exclude?: (path: string, isDir: boolean) => boolean;
}

const GLOB = /[*?[]/;

/** Docker's filepath.Match on whole '/'-separated paths; `**` also spans directories. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalid(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Every path of the tree under `dir`, depth first (for glob matching). */
function* walk(tree: SourceTree, dir: string): Generator<string> {
  for (const name of tree.list(dir)) {
    const p = dir === '' ? name : `${dir}/${name}`;
    yield p;
    if (tree.lstat(p)?.type === 'directory') yield* walk(tree, p);
  }
}

/** The nodes `patterns` name in `tree`; `what` words the not-found error. */
export function collectSources(tree: SourceTree, patterns: string[], notFound: (src: string) => Error): CopySource[] {
  const out: CopySource[] = [];
  for (const raw of patterns) {
    const clean = posix.normalize(`/${raw}`).slice(1).replace(/\/$/, '');
    if (GLOB.test(clean)) {
      const re = globToRegExp(clean);
      const matched = [...walk(tree, '')].filter((p) => re.test(p));
      if (matched.length === 0) throw notFound(raw);
      for (const p of matched) out.push({ node: tree.lstat(p)! });
      continue;
    }
    let node = tree.lstat(clean);
    // A source that is itself a symlink is followed (inside the tree), as Docker does.
    for (let hops = 0; node?.type === 'symlink' && hops < 255; hops++) {
      const link = node.linkname ?? '';
      const target = link.startsWith('/') ? link : posix.join('/', posix.dirname(node.path), link);
      node = tree.lstat(posix.normalize(`/${target}`).slice(1));
    }
    if (!node) throw notFound(raw);
    out.push(node.path === clean ? { node } : { node, name: posix.basename(clean) });
  }
  return out;
}

/** The hash of everything the copy reads: names, types, modes, link targets and file contents. */
export async function contentKey(tree: SourceTree, sources: CopySource[]): Promise<string> {
  const h = createHash('sha256');
  const visit = async (node: SourceNode, as: string): Promise<void> => {
    h.update(`${as}\0${node.type}\0${node.mode.toString(8)}\0${node.linkname ?? ''}\0`);
    if (node.type === 'file') h.update(await tree.digest(node));
    else if (node.type === 'directory') {
      for (const name of tree.list(node.path)) {
        const child = tree.lstat(node.path === '' ? name : `${node.path}/${name}`);
        if (child) await visit(child, `${as}/${name}`);
      }
    }
    h.update('\n');
  };
  for (const s of sources) await visit(s.node, s.node.path);
  return h.digest('hex');
}

/**
 * Copies `sources` into `root` (the step's writable snapshot, mounted) at `dest`, an absolute
 * container path; a trailing '/' marks a directory.
 */
export async function copyInto(root: string, tree: SourceTree, sources: CopySource[], dest: string, o: CopyOptions, keyword: string): Promise<void> {
  const destIsDirSyntax = dest.endsWith('/') || dest.endsWith('/.');
  const single = sources.length === 1;
  if (!single && !destIsDirSyntax) throw invalid(`When using ${keyword} with more than one source file, the destination must be a directory and end with a /`);
  const destHost = resolveInRoot(root, dest);
  const destIsDir = destIsDirSyntax || isDir(destHost);
  for (const s of sources) {
    // --exclude patterns are relative to the source they filter.
    const ex = o.exclude;
    const o2: CopyOptions = ex ? { ...o, exclude: (p, d) => ex(posix.relative(s.node.path, p) || posix.basename(p), d) } : o;
    if (o2.exclude?.(s.node.path, s.node.type === 'directory')) continue;
    if (o.parents) {
      const target = posix.join(dest, s.node.path);
      if (s.node.type === 'directory') {
        await ensureDir(root, target, o2);
        await copyChildren(root, tree, s.node, target, o2);
      } else {
        await ensureDir(root, posix.dirname(target), o2);
        await copyNode(root, tree, s.node, target, o2);
      }
    } else if (s.node.type === 'directory') {
      await ensureDir(root, dest, o2);
      await copyChildren(root, tree, s.node, dest, o2);
    } else if (destIsDir) {
      await ensureDir(root, dest, o2);
      await copyNode(root, tree, s.node, posix.join(dest, s.name ?? posix.basename(s.node.path)), o2);
    } else {
      await ensureDir(root, posix.dirname(dest), o2);
      await copyNode(root, tree, s.node, dest, o2);
    }
  }
}

function isDir(host: string): boolean {
  try {
    return fs.statSync(host).isDirectory();
  } catch {
    return false;
  }
}

/** mkdir -p inside the root: each missing component is made 0755, owned by --chown or root. */
export async function ensureDir(root: string, dir: string, o: CopyOptions): Promise<void> {
  const parts = dir.split('/').filter((c) => c !== '' && c !== '.');
  let cur = '/';
  for (const p of parts) {
    cur = posix.join(cur, p);
    const host = resolveInRoot(root, cur);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) continue;
    if (st) throw invalid(`cannot copy to ${dir}: ${cur} is not a directory`);
    fs.mkdirSync(host, { mode: 0o755 });
    fs.chmodSync(host, 0o755);
    const owner = o.chown ?? { uid: 0, gid: 0 };
    fs.lchownSync(host, owner.uid, owner.gid);
  }
}

async function copyChildren(root: string, tree: SourceTree, dir: SourceNode, dest: string, o: CopyOptions): Promise<void> {
  for (const name of tree.list(dir.path)) {
    const child = tree.lstat(dir.path === '' ? name : `${dir.path}/${name}`);
    if (child && !o.exclude?.(child.path, child.type === 'directory')) await copyNode(root, tree, child, posix.join(dest, name), o);
  }
}

async function copyNode(root: string, tree: SourceTree, node: SourceNode, dest: string, o: CopyOptions): Promise<void> {
  const host = posix.join(resolveInRoot(root, posix.dirname(dest)), posix.basename(dest));
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(host);
  } catch {
    existing = undefined;
  }
  const owner = o.chown ?? { uid: 0, gid: 0 };
  const mode = o.chmod ?? node.mode;
  if (node.type === 'directory') {
    if (existing && !existing.isDirectory()) fs.rmSync(host, { force: true });
    if (!existing?.isDirectory()) fs.mkdirSync(host);
    await copyChildren(root, tree, node, dest, o);
    fs.chmodSync(host, mode);
    fs.lchownSync(host, owner.uid, owner.gid);
    fs.utimesSync(host, node.mtime, node.mtime);
    return;
  }
  if (existing?.isDirectory()) throw invalid(`cannot overwrite directory ${dest} with non-directory ${node.path}`);
  if (existing) fs.unlinkSync(host);
  if (node.type === 'symlink') {
    fs.symlinkSync(node.linkname ?? '', host);
    fs.lchownSync(host, owner.uid, owner.gid);
    fs.lutimesSync(host, node.mtime, node.mtime);
    return;
  }
  // O_EXCL|O_NOFOLLOW: the name was just freed; nothing may have put a link there since.
  const fd = fs.openSync(host, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    if (node.size > 0) await pipeline(tree.open(node), fs.createWriteStream('', { fd, autoClose: false }));
    fs.fchmodSync(fd, mode);
    fs.fchownSync(fd, owner.uid, owner.gid);
    fs.futimesSync(fd, node.mtime, node.mtime);
  } finally {
    fs.closeSync(fd);
  }
}
