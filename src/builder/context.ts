/**
 * The build context as the daemon receives it: a tar (maybe compressed) read once, each regular
 * file's bytes hashed on the way and kept in a file named by its entry number, never by its path.
 * So nothing in the context is ever extracted where its own names and symlinks could point: the
 * builder reads it through this index, and a COPY's cache key comes from the hashes without a
 * second pass over the bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { BerthError, invalid, messageOf } from '../errors';
import { feed } from '../engine/image-archive-spool';
import { decompress } from '../store/compression';
import { normalizeEntryPath } from '../store/tar-validate';

export type NodeType = 'file' | 'directory' | 'symlink';

/** One path of a source tree (the context, or a stage's root filesystem). */
export interface SourceNode {
  /** Relative to the tree's root, '/'-separated, '' for the root. */
  path: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size: number;
  linkname?: string;
}

/** What COPY and ADD read from: the context or a stage's root filesystem. */
export interface SourceTree {
  /** The node at `path`, not following a final symlink; parent symlinks are followed inside the tree. */
  lstat(path: string): SourceNode | undefined;
  /** Names in a directory, sorted. */
  list(dir: string): string[];
  open(node: SourceNode): Readable;
  /** sha256 of a regular file's bytes. */
  digest(node: SourceNode): Promise<string>;
}

interface Entry extends SourceNode {
  data?: string;
  sha?: string;
}

const MAX_ENTRIES = 1_000_000;

export class BuildContext implements SourceTree {
  private readonly entries = new Map<string, Entry>();
  private readonly childNames = new Map<string, Set<string>>();
  private count = 0;

  private constructor(readonly dir: string) {
    this.entries.set('', { path: '', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(0), size: 0 });
  }

  /** Reads a context tar into `dir` (created; the caller removes it with dispose()). */
  static async receive(body: AsyncIterable<Buffer>, dir: string): Promise<BuildContext> {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ctx = new BuildContext(dir);
    const ex = extract();
    ex.on('error', () => {});
    const feeding = feed(decompress(body), ex);
    try {
      for await (const entry of ex) {
        entry.on('error', () => {});
        await ctx.take(entry.header, entry as AsyncIterable<Buffer>);
      }
    } catch (e) {
      ex.destroy();
      if (e instanceof BerthError) throw e;
      throw invalid(`failed to read the build context: ${messageOf(e)}`, e);
    } finally {
      await feeding;
    }
    return ctx;
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  lstat(path: string): SourceNode | undefined {
    const p = this.resolveParents(path);
    return p === undefined ? undefined : this.entries.get(p);
  }

  list(dir: string): string[] {
    const p = this.resolveParents(dir);
    return p === undefined ? [] : [...(this.childNames.get(p) ?? [])].sort();
  }

  open(node: SourceNode): Readable {
    const e = this.entries.get(node.path);
    if (!e?.data) throw new BerthError('internal', `context entry ${node.path} has no data`);
    return fs.createReadStream(e.data);
  }

  async digest(node: SourceNode): Promise<string> {
    const e = this.entries.get(node.path);
    return e?.sha ?? createHash('sha256').digest('hex');
  }

  /** A small file of the context (the Dockerfile, .dockerignore), or undefined. */
  readSmall(path: string, max = 16 << 20): Buffer | undefined {
    let node = this.lstat(path);
    for (let hops = 0; node?.type === 'symlink' && hops < 16; hops++) node = this.lstat(posix.join(posix.dirname(node.path), node.linkname!));
    if (!node || node.type !== 'file') return undefined;
    if (node.size > max) throw invalid(`${path} is larger than ${max} bytes`);
    const e = this.entries.get(node.path)!;
    return e.data ? fs.readFileSync(e.data) : Buffer.alloc(0);
  }

  /**
   * Follows symlinks in the parent components of `path` (never out of the context: `..` stops
   * at its root, absolute targets start from it), as Docker resolves COPY sources.
   */
  private resolveParents(path: string): string | undefined {
    const parts = path.split('/').filter((c) => c !== '' && c !== '.');
    const out: string[] = [];
    let hops = 0;
    for (let i = 0; i < parts.length; i++) {
      const comp = parts[i];
      if (comp === '..') {
        out.pop();
        continue;
      }
      out.push(comp);
      if (i === parts.length - 1) break;
      const e = this.entries.get(out.join('/'));
      if (e?.type === 'symlink') {
        if (++hops > 255) return undefined;
        out.pop();
        const target = e.linkname ?? '';
        if (target.startsWith('/')) out.length = 0;
        const rest = parts.slice(i + 1);
        parts.splice(0, parts.length, ...out, ...target.split('/'), ...rest);
        out.length = 0;
        i = -1;
      }
    }
    return out.join('/');
  }

  private async take(h: Header, body: AsyncIterable<Buffer>): Promise<void> {
    if (++this.count > MAX_ENTRIES) throw invalid(`the build context has more than ${MAX_ENTRIES} entries`);
    const path = h.name.startsWith('/') ? null : normalizeEntryPath(h.name);
    if (path === null) throw invalid(`invalid build context: entry "${h.name}" is outside the context (absolute or with "..")`);
    const base = { path, mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(0), size: 0 };
    switch (h.type) {
      case 'directory':
        for await (const _ of body);
        if (path === '') return;
        this.add({ ...base, type: 'directory' });
        return;
      case 'symlink':
        for await (const _ of body);
        this.add({ ...base, type: 'symlink', linkname: h.linkname ?? '' });
        return;
      case 'link': {
        for await (const _ of body);
        const target = normalizeEntryPath(h.linkname ?? '');
        const t = target === null ? undefined : this.entries.get(target);
        if (!t || t.type !== 'file') throw invalid(`invalid build context: hard link "${h.name}" to a file not in the context`);
        this.add({ ...t, path, mode: base.mode, uid: base.uid, gid: base.gid, mtime: base.mtime });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        const data = join(this.dir, String(this.count));
        const hash = createHash('sha256');
        const out = fs.createWriteStream(data);
        let size = 0;
        try {
          for await (const chunk of body) {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
            if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
          }
        } finally {
          await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
        }
        this.add({ ...base, type: 'file', size, data, sha: hash.digest('hex') });
        return;
      }
      default:
        // Devices, fifos: Docker's context reader skips nothing, but no COPY can use them here.
        for await (const _ of body);
    }
  }

  private add(e: Entry): void {
    // Parents a tar leaves implicit become plain directories.
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.entries.has(dir)) this.add({ path: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(0), size: 0 });
    }
    const existing = this.entries.get(e.path);
    // A directory keeps its children when a later entry names it again.
    if (existing?.type === 'directory' && e.type !== 'directory') this.childNames.delete(e.path);
    this.entries.set(e.path, e);
    const parent = posix.dirname(e.path) === '.' ? '' : posix.dirname(e.path);
    let set = this.childNames.get(parent);
    if (!set) this.childNames.set(parent, (set = new Set()));
    set.add(posix.basename(e.path));
  }
}
