/**
 * The build context as the daemon receives it: a tar (maybe compressed) read once, each regular
 * file's bytes kept in a file named by their digest, never by the file's path (context-file.ts).
 * So nothing in the context is ever extracted where its own names and symlinks could point: the
 * builder reads it through this index, and a COPY's cache key comes from the hashes without a
 * second pass over the bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, invalid, messageOf } from '../errors';
import { decompress } from '../store/compression';
import type { Db } from '../store/db';
import { normalizeEntryPath } from '../store/tar-validate';
import { ContextFileSink } from './context-file';
import { type EntrySink, readTar, type TarEntryHeader } from './tar-reader';

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

/**
 * Context files by content, kept across builds under <data-root>/builder/context, and what each
 * (path, size) held when last sent (in berth.db, so it outlives a restart). That is only a
 * prediction: the incoming bytes are compared with the predicted file's, and only equal bytes
 * make it the file's content; anything else is hashed and kept as new.
 */
export class ContextBlobs {
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of fs.readdirSync(dir)) if (name.startsWith('tmp-')) fs.rmSync(join(dir, name), { force: true });
  }

  path(sha: string): string {
    return join(this.dir, sha);
  }

  /** The bytes `h` held last time, if they are still kept: a guess the hash must confirm. */
  predict(h: TarEntryHeader): string | undefined {
    const hit = this.db.prepare('SELECT sha FROM build_context_files WHERE key = ?').get(statKey(h)) as { sha: string } | undefined;
    return hit && fs.existsSync(this.path(hit.sha)) ? hit.sha : undefined;
  }

  remember(files: { h: TarEntryHeader; sha: string }[]): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO build_context_files (key, sha) VALUES (?, ?)');
    this.db.transaction(() => files.forEach((f) => put.run(statKey(f.h), f.sha)))();
  }

  /** builder prune: every kept context file goes. */
  clear(): number {
    let bytes = 0;
    for (const name of fs.readdirSync(this.dir)) {
      // A build receiving its context right now is writing these.
      if (name.startsWith('tmp-')) continue;
      try {
        bytes += fs.statSync(join(this.dir, name)).size;
      } catch {
        continue;
      }
      fs.rmSync(join(this.dir, name), { force: true });
    }
    this.db.prepare('DELETE FROM build_context_files').run();
    return bytes;
  }
}

/**
 * What a file is predicted by: its path and size. The bytes are compared, so a stale guess costs
 * only the comparison up to the first difference; mtimes would miss every file a tool rewrote
 * with the same bytes (a checkout, a generator), and those are the ones worth not writing again.
 */
const statKey = (h: TarEntryHeader) => `${h.name}\0${h.size}`;

export class BuildContext implements SourceTree {
  private readonly entries = new Map<string, Entry>();
  private readonly childNames = new Map<string, Set<string>>();
  private count = 0;
  /** Files hashed in this request, remembered in one transaction at its end. */
  private readonly learned: { h: TarEntryHeader; sha: string }[] = [];
  /** Files still streaming in (one at a time; a failed request closes it). */
  private readonly streaming = new Set<ContextFileSink>();

  private constructor(
    readonly dir: string,
    private readonly blobs: ContextBlobs,
  ) {
    this.entries.set('', { path: '', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(), size: 0 });
  }

  /** Reads a context tar (maybe compressed); `dir` is this build's scratch (dispose() removes it). */
  static async receive(body: AsyncIterable<Buffer>, dir: string, blobs: ContextBlobs): Promise<BuildContext> {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ctx = new BuildContext(dir, blobs);
    try {
      await readTar(decompress(body), (h) => ctx.take(h));
      blobs.remember(ctx.learned);
    } catch (e) {
      for (const sink of ctx.streaming) sink.abort();
      if (e instanceof BerthError) throw invalid(`failed to read the build context: ${e.message}`, e);
      throw invalid(`failed to read the build context: ${messageOf(e)}`, e);
    }
    return ctx;
  }

  /** Docker's removeDockerfile: the Dockerfile and .dockerignore leave the context when .dockerignore names them. */
  dropIgnored(matches: (path: string) => boolean, paths: string[]): void {
    for (const p of paths) {
      const e = this.entries.get(p);
      if (!e || !matches(p)) continue;
      this.entries.delete(p);
      const parent = posix.dirname(p) === '.' ? '' : posix.dirname(p);
      this.childNames.get(parent)?.delete(posix.basename(p));
    }
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

  private take(h: TarEntryHeader): EntrySink | undefined {
    if (++this.count > MAX_ENTRIES) throw invalid(`the build context has more than ${MAX_ENTRIES} entries`);
    const path = h.name.startsWith('/') ? null : normalizeEntryPath(h.name);
    if (path === null) throw invalid(`entry "${h.name}" is outside the context (absolute or with "..")`);
    const base = { path, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: h.mtime, size: 0 };
    switch (h.type) {
      case 'directory':
        if (path !== '') this.add({ ...base, type: 'directory' });
        return undefined;
      case 'symlink':
        this.add({ ...base, type: 'symlink', linkname: h.linkname });
        return undefined;
      case 'link': {
        const target = normalizeEntryPath(h.linkname);
        const t = target === null ? undefined : this.entries.get(target);
        if (!t || t.type !== 'file') throw invalid(`hard link "${h.name}" to a file not in the context`);
        this.add({ ...t, path, mode: base.mode, uid: base.uid, gid: base.gid, mtime: base.mtime });
        return undefined;
      }
      case 'file': {
        const sink = new ContextFileSink(this.blobs.dir, this.blobs.predict(h), (r) => {
          this.streaming.delete(sink);
          if (!r.asExpected) this.learned.push({ h, sha: r.sha });
          this.add({ ...base, type: 'file', size: h.size, data: r.path, sha: r.sha });
        });
        this.streaming.add(sink);
        return sink;
      }
      default:
        // Devices and fifos: no COPY can use them.
        return undefined;
    }
  }

  private add(e: Entry): void {
    // Parents a tar leaves implicit become plain directories.
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.entries.has(dir)) this.add({ path: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(), size: 0 });
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
