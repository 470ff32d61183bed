/**
 * The build context as `berth build` sends it: a tar made while it is sent, walking the
 * context directory one entry at a time (no file is held in memory, only the walk's position).
 * What Docker's CLI does is the spec: .dockerignore patterns on context-relative paths, the
 * Dockerfile and .dockerignore always sent, a Dockerfile from stdin or from outside the context
 * added under a generated name (and listed in the .dockerignore sent, so the daemon can leave
 * it out of `COPY .`), symlinks sent as symlinks and never followed, hard links kept as links.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pack as tarPack, type Header as TarHeader, type Pack } from 'tar-stream';
import { IgnoreMatcher, parseDockerignore } from '../dockerfile/ignore';

/** What pack.entry takes: a name and any other header fields. */
type Header = Partial<TarHeader> & Pick<TarHeader, 'name'>;

/** A Dockerfile that is not a file of the context: its bytes travel in the tar under `name`. */
export interface ExtraDockerfile {
  name: string;
  data: Buffer;
}

export interface LocalContext {
  /** Absolute, symlinks resolved. */
  dir: string;
  /** The Dockerfile's path relative to `dir`, slash-separated; starts with '../' when outside. */
  relDockerfile: string;
}

/** Go's os error texts for the errors a walk can meet. */
function goErr(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links' };
  return why[err.code ?? ''] ?? err.message;
}

/** Node's realpath with Go's EvalSymlinks error text ("lstat <path>: ..."). */
function evalSymlinks(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch (e) {
    throw new Error(`lstat ${p}: ${goErr(e)}`);
  }
}

/**
 * Docker's GetContextFromLocalDir: the context directory with its symlinks resolved and the
 * Dockerfile's path relative to it. `-f` is relative to the current directory, not the context;
 * without it, PATH/Dockerfile (or PATH/dockerfile when only that exists).
 */
export function resolveLocalContext(contextArg: string, dockerfileFlag: string, cwd = process.cwd()): LocalContext {
  const fail = (m: string) => new Error(`unable to prepare context: ${m}`);
  let dir: string;
  try {
    dir = evalSymlinks(path.resolve(cwd, contextArg));
  } catch (e) {
    throw fail(`unable to evaluate symlinks in context path: ${(e as Error).message}`);
  }
  if (!fs.statSync(dir).isDirectory()) throw fail(`context must be a directory: ${dir}`);
  if (dockerfileFlag === '-') return { dir, relDockerfile: '-' };
  let dockerfile: string;
  if (dockerfileFlag !== '') dockerfile = path.resolve(cwd, dockerfileFlag);
  else {
    dockerfile = path.join(dir, 'Dockerfile');
    if (!fs.existsSync(dockerfile) && fs.existsSync(path.join(dir, 'dockerfile'))) dockerfile = path.join(dir, 'dockerfile');
  }
  try {
    dockerfile = evalSymlinks(dockerfile);
  } catch (e) {
    throw fail(`unable to evaluate symlinks in Dockerfile path: ${(e as Error).message}`);
  }
  return { dir, relDockerfile: path.relative(dir, dockerfile).split(path.sep).join('/') };
}

export const isOutside = (rel: string) => rel === '..' || rel.startsWith('../') || path.isAbsolute(rel);

/** Docker's name for a Dockerfile added to the context: `.dockerfile.` and 20 random hex digits. */
export function generatedDockerfileName(): string {
  return `.dockerfile.${randomBytes(10).toString('hex')}`;
}

/**
 * The .dockerignore patterns plus Docker's exceptions for the build's own files
 * (TrimBuildFilesFromExcludes): the Dockerfile and .dockerignore are sent even when ignored.
 */
export function contextMatcher(dockerignore: string | undefined, relDockerfile: string | undefined): IgnoreMatcher {
  const rules = parseDockerignore(dockerignore ?? '');
  const lines = rules.patterns.map((r) => (r.negate ? '!' : '') + r.pattern);
  try {
    const base = new IgnoreMatcher(lines);
    if (base.ignores('.dockerignore', false)) lines.push('!.dockerignore');
    if (relDockerfile !== undefined && !isOutside(relDockerfile) && base.ignores(relDockerfile, false)) lines.push(`!${relDockerfile}`);
    return new IgnoreMatcher(lines);
  } catch (e) {
    throw new Error(`error checking context: ${(e as Error).message}`);
  }
}

export interface PackOptions {
  /** What to leave out: the .dockerignore's patterns with Docker's exceptions (contextMatcher). */
  matcher: IgnoreMatcher;
  /** Sent at the end, and its name appended to the .dockerignore that is sent. */
  extra?: ExtraDockerfile;
  /** The original .dockerignore text, needed only with `extra`. */
  dockerignore?: string;
}

/** Linux's dev_t split as glibc's major()/minor(). */
const devMajor = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const devMinor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/** Writes one tar entry; a file's bytes stream from disk with the pack's backpressure. */
async function addEntry(pack: Pack, header: Header, file?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    // streamx's Writable, driven with Node's write/drain/end protocol, which it implements.
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as NodeJS.WritableStream & { destroy(e?: Error): void };
    if (file === undefined) return;
    const size = header.size ?? 0;
    void (async () => {
      try {
        // Exactly the size the header announced: a file growing while it is sent is cut there.
        if (size > 0) {
          for await (const chunk of fs.createReadStream(file, { start: 0, end: size - 1 })) {
            if (!sink.write(chunk as Buffer)) await new Promise<void>((r) => sink.once('drain', () => r()));
          }
        }
        sink.end();
      } catch (e) {
        const err = (e as NodeJS.ErrnoException).code === 'EACCES' ? new Error(`error checking context: no permission to read from '${file}'`) : (e as Error);
        sink.destroy(err);
        reject(err);
      }
    })();
  });
}

function writeBuffer(pack: Pack, header: Header, data: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => pack.entry(header, data, (err) => (err ? reject(err) : resolve())));
}

class Walker {
  /** dev:ino of files already sent, for hard links. */
  private readonly inodes = new Map<string, string>();

  constructor(
    private readonly pack: Pack,
    private readonly root: string,
    private readonly o: PackOptions,
  ) {}

  async walk(rel: string): Promise<void> {
    const names = (await fs.promises.readdir(path.join(this.root, rel))).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(this.root, r);
      const st = await fs.promises.lstat(abs);
      if (r === '.dockerignore' && this.o.extra) continue; // sent rewritten at the end
      if (this.o.matcher.ignores(r, st.isDirectory())) {
        // An exception may bring back something below an ignored directory.
        if (st.isDirectory() && this.o.matcher.mayReinclude(r)) await this.walk(r);
        continue;
      }
      await this.add(r, abs, st);
      if (st.isDirectory()) await this.walk(r);
    }
  }

  private async add(name: string, abs: string, st: fs.Stats): Promise<void> {
    const base: Header = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) return addEntry(this.pack, { ...base, name: `${name}/`, type: 'directory' });
    if (st.isSymbolicLink()) return addEntry(this.pack, { ...base, type: 'symlink', linkname: await fs.promises.readlink(abs) });
    if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.inodes.get(inode) : undefined;
      if (first !== undefined) return addEntry(this.pack, { ...base, type: 'link', linkname: first });
      if (st.nlink > 1) this.inodes.set(inode, name);
      return addEntry(this.pack, { ...base, type: 'file', size: st.size }, abs);
    }
    const dev = { devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) };
    if (st.isFIFO()) return addEntry(this.pack, { ...base, type: 'fifo' });
    if (st.isCharacterDevice()) return addEntry(this.pack, { ...base, ...dev, type: 'character-device' });
    if (st.isBlockDevice()) return addEntry(this.pack, { ...base, ...dev, type: 'block-device' });
    // Sockets: tar has no type for them; Docker's archive skips them too.
  }

  async addExtra(extra: ExtraDockerfile, dockerignore: string | undefined): Promise<void> {
    const now = new Date();
    await writeBuffer(this.pack, { name: extra.name, type: 'file', mode: 0o600, mtime: now }, extra.data);
    const ignore = Buffer.from(`${dockerignore ?? '.dockerignore'}\n${extra.name}\n`);
    let st: fs.Stats | undefined;
    try {
      st = await fs.promises.lstat(path.join(this.root, '.dockerignore'));
    } catch {
      st = undefined;
    }
    const head: Header = st?.isFile() ? { name: '.dockerignore', mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid } : { name: '.dockerignore', mode: 0o600, mtime: now };
    await writeBuffer(this.pack, { ...head, type: 'file' }, ignore);
  }
}

/**
 * The context directory as a tar stream. The walk runs as the stream is read: a slow daemon
 * slows the walk. A failure (an unreadable file) destroys the stream with the error.
 */
export function packContext(dir: string, o: PackOptions): Readable {
  const pack = tarPack();
  const walker = new Walker(pack, dir, o);
  void (async () => {
    await walker.walk('');
    // The extra Dockerfile's bytes are in memory already (stdin, or a file read once).
    if (o.extra) await walker.addExtra(o.extra, o.dockerignore);
    pack.finalize();
  })().catch((e: Error) => pack.destroy(e));
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
}

/** A context of one file, `Dockerfile`, for `berth build - < Dockerfile`. */
export function singleDockerfileTar(data: Buffer): Readable {
  const pack = tarPack();
  writeBuffer(pack, { name: 'Dockerfile', type: 'file', mode: 0o644, mtime: new Date() }, data).then(() => pack.finalize(), (e: Error) => pack.destroy(e));
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
}

/**
 * Docker's IsArchive on the first bytes of stdin: compressed (gzip, bzip2, xz, zstd) or a tar
 * header whose checksum holds.
 */
export function looksLikeArchive(head: Buffer): boolean {
  const starts = (...b: number[]) => b.every((x, i) => head[i] === x);
  if (starts(0x1f, 0x8b) || starts(0x42, 0x5a, 0x68) || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) || starts(0x28, 0xb5, 0x2f, 0xfd)) return true;
  if (head.length < 512) return false;
  const field = head.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  return sum === parseInt(field, 8);
}

/**
 * Reads the first `n` bytes of `input` (fewer at its end) and returns them with a stream that
 * replays them followed by the rest, for deciding what stdin holds without losing a byte.
 */
export async function peek(input: NodeJS.ReadableStream, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(c);
    size += c.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}
