/**
 * An archive as docker load reads it, once: files that look like small JSON stay in memory, every
 * other file goes to the content store as it arrives (hashed on the way) under a lease.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { extract, type Header } from 'tar-stream';
import { BerthError, invalid, messageOf } from '../errors';
import type { Descriptor } from '../distribution/manifest';
import { type ContentStore, type Digest, sha256 } from '../store/content-store';
import { normalizeEntryPath } from '../store/tar-validate';
import { drainedOrClosed, MAX_CONFIG_BYTES } from './image-archive-format';

/** Small JSON files of an archive are kept in memory up to this size each, and this much in all. */
const MAX_JSON_BYTES = 4 << 20;
const MAX_MEMORY_BYTES = 64 << 20;
/** Spooled files are read back, and archives parsed, in chunks this big (see feed()). */
const READ_CHUNK = 1 << 20;

/** A regular file of the archive: in memory (small JSON) or spooled to the content store. */
export interface ArchiveFile {
  size: number;
  digest: Digest;
  bytes?: Buffer;
  /** Its bytes were only hashed (its name promised a blob the store has) and did not match: unusable. */
  lost?: true;
}

/** The archive as read: files by normalized path, links (aliases to other files) by path. */
export class Spool {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();
  /** Blobs this load wrote to the content store. */
  readonly spooled = new Set<Digest>();
  private memory = 0;

  constructor(
    private readonly content: ContentStore,
    private readonly lease: { add(d: Digest): void },
  ) {}

  async read(archive: AsyncIterable<Buffer>): Promise<void> {
    const ex = extract();
    ex.on('error', () => {}); // seen by the iteration; the feeder may fail after it stopped
    const feeding = feed(archive, ex);
    let entries = 0;
    try {
      for await (const entry of ex) {
        entry.on('error', () => {}); // a truncated body errors here and in the parser: reported once, there
        entries++;
        await this.take(entry.header, entry as AsyncIterable<Buffer>);
      }
      if (entries === 0) throw invalid('invalid archive: empty');
    } catch (e) {
      ex.destroy();
      if (e instanceof BerthError) throw e;
      throw invalid(`invalid archive: ${messageOf(e)}`, e);
    } finally {
      await feeding;
    }
  }

  private async take(h: Header, body: AsyncIterable<Buffer>): Promise<void> {
    const name = h.name;
    if (name.includes('\0') || name.startsWith('/') || name.split('/').includes('..')) {
      throw invalid(`invalid archive: entry "${name}" is outside the archive (absolute or with "..")`);
    }
    const path = normalizeEntryPath(name)!;
    switch (h.type) {
      case 'directory':
        for await (const _ of body);
        return;
      case 'file':
      case 'contiguous-file':
        return this.store(path, h.size ?? 0, body);
      case 'symlink':
      case 'link': {
        // Docker (before 25) and skopeo point a layer.tar at another copy of the same layer. Such
        // a link is an alias, never followed on disk, and only to a path inside the archive.
        const raw = h.linkname ?? '';
        const target = raw.startsWith('/') ? null : normalizeEntryPath(h.type === 'symlink' ? posix.join(posix.dirname(path), raw) : raw);
        if (!target) throw invalid(`invalid archive: link "${name}" points outside the archive (${raw})`);
        this.files.delete(path);
        this.links.set(path, target);
        for await (const _ of body);
        return;
      }
      default:
        throw invalid(`invalid archive: entry "${name}" is a ${h.type ?? 'entry of unknown type'}; an image archive holds only files and directories`);
    }
  }

  private async store(path: string, size: number, body: AsyncIterable<Buffer>): Promise<void> {
    this.links.delete(path);
    const it = body[Symbol.asyncIterator]();
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    if (size <= MAX_JSON_BYTES && this.memory + size <= MAX_MEMORY_BYTES && (size === 0 || looksLikeJson(head))) {
      const chunks = [head];
      for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
      const bytes = Buffer.concat(chunks);
      this.memory += bytes.length;
      this.files.set(path, { size: bytes.length, digest: sha256(bytes), bytes });
      return;
    }
    // An OCI blob the store already has (loading an image again) is only hashed, not rewritten.
    const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path)?.[1];
    if (named && this.content.has(`sha256:${named}`)) {
      this.lease.add(`sha256:${named}`);
      const hash = createHash('sha256').update(head);
      let n = head.length;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        hash.update(r.value);
        n += r.value.length;
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      this.files.set(path, digest === `sha256:${named}` ? { size: n, digest } : { size: n, digest, lost: true });
      return;
    }
    const w = this.content.writer();
    try {
      if (head.length) await w.write(head);
      for (let r = await it.next(); !r.done; r = await it.next()) await w.write(r.value);
      const { digest, size: n } = await w.commit();
      this.lease.add(digest);
      this.spooled.add(digest);
      this.files.set(path, { size: n, digest });
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** The file at `path` (a path the archive's own metadata names), following links. */
  file(path: string, what: string): ArchiveFile {
    let p = path.startsWith('/') ? null : normalizeEntryPath(path);
    if (p === null || p === '') throw invalid(`invalid archive: ${what} "${path}" points outside the archive`);
    for (let hops = 0; hops < 16; hops++) {
      const f = this.files.get(p);
      if (f) return f;
      const next = this.links.get(p);
      if (next === undefined) break;
      p = next;
    }
    throw invalid(`invalid archive: ${what} "${path}" is not in the archive`);
  }

  /** A blob of the OCI layout, checked against its descriptor. */
  blob(desc: Descriptor, what: string): ArchiveFile {
    const path = `blobs/${desc.digest.replace(':', '/')}`;
    const f = this.file(path, what);
    if (f.digest !== desc.digest) throw invalid(`invalid archive: ${path} does not match its digest (got ${f.digest})`);
    if (f.size !== desc.size) throw invalid(`invalid archive: ${path} is ${f.size} bytes, its descriptor says ${desc.size}`);
    return f;
  }

  bytes(f: ArchiveFile): Buffer {
    usable(f);
    return f.bytes ?? this.content.readSmall(f.digest, MAX_CONFIG_BYTES);
  }

  json(f: ArchiveFile, what: string): unknown {
    try {
      return JSON.parse(this.bytes(f).toString('utf8'));
    } catch (e) {
      if (e instanceof BerthError) throw invalid(`invalid archive: ${what}: ${e.message}`);
      throw invalid(`invalid archive: ${what} is not valid JSON`);
    }
  }

  head(f: ArchiveFile): Buffer {
    if (f.bytes) return f.bytes.subarray(0, 6);
    usable(f);
    const fd = fs.openSync(this.content.path(f.digest), 'r');
    try {
      const buf = Buffer.alloc(6);
      return buf.subarray(0, fs.readSync(fd, buf, 0, 6, 0));
    } finally {
      fs.closeSync(fd);
    }
  }

  open(f: ArchiveFile): AsyncIterable<Buffer> {
    usable(f);
    const bytes = f.bytes;
    return bytes ? (async function* () { yield bytes; })() : fs.createReadStream(this.content.path(f.digest), { highWaterMark: READ_CHUNK });
  }
}

function usable(f: ArchiveFile): void {
  if (f.lost) throw invalid(`invalid archive: a blob does not match its name (its digest is ${f.digest})`);
}

function looksLikeJson(head: Buffer): boolean {
  for (const c of head) {
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b; // { [
  }
  return false;
}

/**
 * Writes `source` into the tar parser with backpressure; a failure destroys the parser with it.
 * Chunks are joined up to 1 MiB first: tar-stream's cost is per chunk (3-5x faster here with
 * 1 MiB than with the 64 KiB a socket delivers).
 */
async function feed(source: AsyncIterable<Buffer>, ex: ReturnType<typeof extract>): Promise<void> {
  const parser = ex as unknown as NodeJS.WritableStream & { destroyed: boolean; destroying: boolean; destroy(e?: Error): void };
  let pending: Buffer[] = [];
  let bytes = 0;
  const flush = async () => {
    const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, bytes);
    pending = [];
    bytes = 0;
    if (!parser.write(chunk)) await drainedOrClosed(parser);
  };
  try {
    for await (const chunk of source) {
      if (parser.destroyed || parser.destroying) return;
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes >= READ_CHUNK) await flush();
    }
    if (bytes > 0 && !parser.destroyed) await flush();
    if (!parser.destroyed) parser.end();
  } catch (e) {
    parser.destroy(e as Error);
  }
}
