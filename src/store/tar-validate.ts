// Streaming safety check for layer tars. GNU tar does the real extraction into a fresh empty dir
// and is safe there, but it silently strips or skips dangerous members (exit 2 at best). Docker
// rejects such archives outright; this validator sees the same bytes (teed) and fails the layer
// with a readable reason on the first unsafe entry, so the caller can delete the half-made dir.
import { Writable } from 'node:stream';
import { extract, type Extract, type Header } from 'tar-stream';

export class UnsafeTarError extends Error {
  constructor(message: string, readonly entry: string) {
    super(message);
    this.name = 'UnsafeTarError';
  }
}

export interface TarSummary {
  /** Entries seen (PAX / GNU long-name headers are folded into their entry, not counted). */
  entries: number;
  /** Sum of regular file sizes. */
  bytes: number;
}

type Walk = { path: string } | { escapes: true } | { via: string };

/**
 * Walks `name` component by component the way the kernel would resolve it under the root.
 * Leading `/` and `./` simply vanish (Docker makes absolute entry names relative). Every
 * directory actually traversed, including one that a later `..` leaves again, is checked
 * against `symlinks`: `evil/../x` still resolves `evil` first.
 */
function walk(name: string, symlinks?: ReadonlyMap<string, string>): Walk {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (symlinks && parts.length > 0) {
      const dir = parts.join('/');
      if (symlinks.has(dir)) return { via: dir };
    }
    if (c === '..') {
      if (parts.length === 0) return { escapes: true };
      parts.pop();
    } else {
      parts.push(c);
    }
  }
  return { path: parts.join('/') };
}

/**
 * Lexically normalizes a tar entry name (or hard link target) to a root-relative path without
 * leading `/`, `.` components or trailing `/`; `''` is the root itself. Returns null when the
 * name climbs above the root with `..` or contains a NUL byte. Does not know about symlinks.
 */
export function normalizeEntryPath(name: string): string | null {
  if (name.includes('\0')) return null;
  const w = walk(name);
  return 'path' in w ? w.path : null;
}

const HEADER_ONLY = new Set(['directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);
const FILE_TYPES = new Set(['file', 'contiguous-file']);

class TarValidator extends Writable {
  readonly result: Promise<TarSummary>;
  private resolve!: (s: TarSummary) => void;
  private reject!: (e: Error) => void;
  private readonly ex: Extract = extract();
  /** Entries of this tar that are symlinks right now: normalized name -> link target. */
  private readonly symlinks = new Map<string, string>();
  /** Every normalized name seen so far -> its entry type (hard link targets must be here). */
  private readonly seen = new Map<string, string>();
  private entries = 0;
  private bytes = 0;
  private received = 0;
  private failure: Error | null = null;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  private pendingFinal: ((err?: Error | null) => void) | null = null;

  constructor() {
    super();
    this.result = new Promise<TarSummary>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Callers often only watch the stream's 'error'; don't let an unobserved result crash Node.
    this.result.catch(() => {});

    this.ex.on('entry', (header, body, next) => {
      const reason = this.check(header);
      if (reason !== null) {
        this.fail(new UnsafeTarError(`invalid tar entry "${header.name}": ${reason}`, header.name));
        return;
      }
      this.entries++;
      if (FILE_TYPES.has(header.type)) this.bytes += header.size;
      if (!header.size) return next(); // nothing to drain (directories never carry data: checked)
      // Drain the body without keeping it; tar-stream only parses on once this stream is consumed,
      // so backpressure propagates from here up to our own write callbacks.
      body.on('end', () => next());
      body.on('error', () => {}); // a truncated body errors here too; the parser reports it once
      body.resume();
    });
    this.ex.on('error', (err: Error) => this.fail(new Error(`invalid tar archive: ${err.message}`)));
    this.ex.on('drain', () => this.takeWrite()?.());
    this.ex.on('finish', () => {
      const cb = this.pendingFinal;
      this.pendingFinal = null;
      if (!cb || this.failure) return;
      this.resolve({ entries: this.entries, bytes: this.bytes });
      cb();
    });
  }

  private takeWrite(): ((err?: Error | null) => void) | null {
    const cb = this.pendingWrite;
    this.pendingWrite = null;
    return cb;
  }

  /** Returns why the entry is unsafe, or null; updates the symlink / seen tables when it is fine. */
  private check(h: Header): string | null {
    const type = h.type as string | null;
    if (h.name.includes('\0')) return 'name contains a NUL byte';
    if (h.linkname?.includes('\0')) return 'link target contains a NUL byte';
    // tar-stream reports unknown typeflags (GNU sparse 'S', volume 'V', dumpdir 'D', ...) as null.
    if (type === null) return 'unsupported entry type (unknown typeflag, e.g. GNU sparse "S")';
    if (!FILE_TYPES.has(type) && !HEADER_ONLY.has(type)) return `unsupported entry type "${type}"`;
    // PAX sparse files hide their real name in GNU.sparse.name; tar-stream would show a fake one.
    const pax = h.pax as Record<string, string> | null | undefined;
    if (pax && Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) {
      return 'unsupported entry type "sparse file"';
    }
    // Parsers disagree on whether such data is skipped (tar-stream) or parsed as headers (Go,
    // POSIX for directories); refusing it means GNU tar and this validator see the same entries.
    if (HEADER_ONLY.has(type) && h.size > 0) return `unexpected ${h.size} bytes of data in a ${type} entry`;

    const w = walk(h.name, this.symlinks);
    if ('escapes' in w) return 'path escapes the root with ".."';
    if ('via' in w) return `path traverses symlink "${w.via}" (-> ${this.symlinks.get(w.via)})`;
    const path = w.path;
    if (path === '' && type !== 'directory') return `the root can only be a directory, not a ${type}`;

    let linkedSymlink: string | undefined;
    if (type === 'link') {
      const t = h.linkname ?? '';
      const tw = walk(t, this.symlinks);
      if ('escapes' in tw) return `hard link target "${t}" is outside the root`;
      if ('via' in tw) return `hard link target "${t}" traverses symlink "${tw.via}"`;
      const kind = this.seen.get(tw.path);
      if (kind === undefined || tw.path === '') return `hard link target "${t}" not found in archive`;
      if (kind === 'directory') return `hard link target "${t}" is a directory`;
      // A hard link to a symlink entry is a symlink too: later entries must not go through it.
      linkedSymlink = this.symlinks.get(tw.path);
    } else if (type === 'symlink') {
      if (!h.linkname) return 'symlink has an empty target';
      linkedSymlink = h.linkname; // any target is fine: it resolves inside the container
    }
    // The extractor removes whatever had this name first, so the name is a symlink iff this
    // entry makes it one.
    if (linkedSymlink !== undefined) this.symlinks.set(path, linkedSymlink);
    else this.symlinks.delete(path);
    this.seen.set(path, type);
    return null;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.reject(err);
    this.ex.destroy();
    const cb = this.takeWrite() ?? this.pendingFinal;
    this.pendingFinal = null;
    // Error through a waiting callback when there is one; otherwise destroy directly (the parser
    // can hit an entry asynchronously, between our writes).
    if (cb) cb(err);
    else this.destroy(err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    this.received += chunk.length;
    this.pendingWrite = cb;
    // true: below the parser's high-water mark, go on. false: wait for its 'drain'.
    if (this.ex.write(chunk) && this.pendingWrite === cb) this.takeWrite()?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    this.pendingFinal = cb;
    if (this.received === 0) return this.fail(new Error('invalid tar archive: empty'));
    this.ex.end(undefined); // tar-stream errors here on a truncated archive
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.ex.destroy();
    // No-op after success; otherwise the caller aborted us before the end of the archive.
    this.reject(err ?? new Error('tar validator closed before the end of the archive'));
    cb(err);
  }
}

/**
 * A Writable that parses an uncompressed tar stream and errors with UnsafeTarError on the first
 * unsafe entry (or a plain Error starting "invalid tar archive:" when it is not a tar). `result`
 * resolves with a summary once the whole stream has been written and found safe.
 */
export function createTarValidator(): Writable & { result: Promise<TarSummary> } {
  return new TarValidator();
}
