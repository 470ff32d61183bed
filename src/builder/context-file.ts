/**
 * One regular file of a build context as it streams in. When the daemon keeps bytes it expects
 * this file to hold (a file of the same path and size sent before), the stream is compared with
 * them, byte for byte: equal bytes are those bytes, so the file's digest is the kept one's and
 * nothing is hashed or written. Comparing runs at memory speed; hashing would cost ~1 ms per MB on
 * the thread that also reads the socket, most of a cached build with a large context. At the first
 * difference the sink turns into the plain path: the prefix that matched is taken from the kept
 * bytes, and from then on every byte is hashed and written under a temporary name that the end
 * renames to its digest.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { EntrySink } from './tar-reader';

/** Reads of a kept file: large enough that a 50 MB file costs a few dozen syscalls. */
const WINDOW = 1 << 20;

/**
 * The kept file, read a window at a time, synchronously: a 1 MiB read from the page cache takes a
 * quarter of a millisecond, and reading the next window ahead in the threadpool measured no faster
 * here (the other core is the docker CLI's, tarring the context).
 */
interface Kept {
  fd: number;
  size: number;
  window: Buffer;
  /** Offset of window[0] in the file, and how many bytes of it are valid. */
  start: number;
  len: number;
}

export interface ContextFileResult {
  sha: string;
  /** Where the bytes are kept now (named by their digest). */
  path: string;
  /** True when the bytes were the expected ones, so nothing new was learned. */
  asExpected: boolean;
}

export class ContextFileSink implements EntrySink {
  private kept: Kept | undefined;
  /** Bytes received so far that equal the expected ones (whole chunks only). */
  private matched = 0;
  private hash: Hash | undefined;
  private fd: number | undefined;
  private tmp = '';

  constructor(
    private readonly dir: string,
    private readonly expected: string | undefined,
    private readonly done: (r: ContextFileResult) => void,
  ) {
    if (expected) {
      try {
        const fd = fs.openSync(join(dir, expected), 'r');
        const keptSize = fs.fstatSync(fd).size;
        this.kept = { fd, size: keptSize, window: Buffer.allocUnsafe(Math.max(1, Math.min(WINDOW, keptSize))), start: 0, len: 0 };
      } catch {
        // Pruned since it was predicted: receive it as a new file.
      }
    }
    if (!this.kept) this.startWriting();
  }

  data(chunk: Buffer): void {
    if (this.kept && this.same(chunk)) {
      this.matched += chunk.length;
      return;
    }
    if (this.kept) this.diverge();
    this.hash!.update(chunk);
    this.write(chunk);
  }

  end(): void {
    if (this.kept) {
      // Equal so far; equal in all only if the kept bytes end here too.
      if (this.kept.size === this.matched) {
        this.close();
        this.done({ sha: this.expected!, path: join(this.dir, this.expected!), asExpected: true });
        return;
      }
      this.diverge();
    }
    const sha = this.hash!.digest('hex');
    const final = join(this.dir, sha);
    fs.closeSync(this.fd!);
    this.fd = undefined;
    if (fs.existsSync(final)) fs.rmSync(this.tmp, { force: true });
    else fs.renameSync(this.tmp, final);
    this.done({ sha, path: final, asExpected: false });
  }

  /** The request failed midway: nothing of this file is kept. */
  abort(): void {
    this.close();
  }

  /** Whether `chunk` equals the expected next bytes, moving the window on as far as it needs. */
  private same(chunk: Buffer): boolean {
    const k = this.kept!;
    let off = 0;
    while (off < chunk.length) {
      const pos = this.matched + off;
      if (pos >= k.start + k.len) {
        if (pos >= k.size) return false;
        k.start = pos;
        k.len = fs.readSync(k.fd, k.window, 0, k.window.length, pos);
        if (k.len === 0) return false;
      }
      const n = Math.min(chunk.length - off, k.start + k.len - pos);
      const at = pos - k.start;
      if (chunk.compare(k.window, at, at + n, off, off + n) !== 0) return false;
      off += n;
    }
    return true;
  }

  /** The bytes differ from the expected ones: hash and write what matched, then go on as a new file. */
  private diverge(): void {
    const k = this.kept!;
    this.kept = undefined;
    this.startWriting();
    try {
      for (let pos = 0; pos < this.matched; ) {
        const n = fs.readSync(k.fd, k.window, 0, Math.min(k.window.length, this.matched - pos), pos);
        if (n === 0) throw new Error(`kept context file ${this.expected} shrank while read`);
        const part = k.window.subarray(0, n);
        this.hash!.update(part);
        this.write(part);
        pos += n;
      }
    } finally {
      fs.closeSync(k.fd);
    }
  }

  private close(): void {
    if (this.kept) fs.closeSync(this.kept.fd);
    this.kept = undefined;
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      fs.rmSync(this.tmp, { force: true });
      this.fd = undefined;
    }
  }

  private startWriting(): void {
    this.hash = createHash('sha256');
    this.tmp = join(this.dir, `tmp-${randomBytes(8).toString('hex')}`);
    this.fd = fs.openSync(this.tmp, 'wx', 0o600);
  }

  private write(b: Buffer): void {
    for (let off = 0; off < b.length; ) off += fs.writeSync(this.fd!, b, off);
  }
}
