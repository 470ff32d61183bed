/**
 * Extracts a tar into a directory of a container's root filesystem (docker cp into a container).
 *
 * GNU tar cannot do this safely: an entry `a/b/f` goes through an existing symlink `a` (measured:
 * with `a -> ../outside`, tar 1.34 wrote `outside/b/f`). Docker extracts in a chroot; so does
 * berth: a child Node process loads everything it needs, chroot(2)s into the container's root and
 * then writes with plain fs calls, so every path, symlink and `..` resolves as the container's own
 * would and nothing outside the root is reachable. The parent also streams the bytes through the
 * layer validator (tar-validate.ts), which refuses `..` escapes and writes through the archive's
 * own symlinks with a readable 400; the child refuses `..` names itself too.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { BerthError, invalid, messageOf } from '../errors';
import { createTarValidator, normalizeEntryPath, UnsafeTarError } from './tar-validate';

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory and vice versa (the docker CLI's default). */
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry (docker cp -a); otherwise the owner recorded in the tar. */
  chown?: { uid: number; gid: number };
}

interface ChildArgs extends ExtractOptions {
  root: string;
  dir: string;
}

/** Extracts `tar` into `dir` (a container path) of the root filesystem at `root`. */
export async function extractInRoot(root: string, dir: string, tar: AsyncIterable<Buffer>, opts: ExtractOptions): Promise<void> {
  const args: ChildArgs = { root, dir, ...opts };
  const child = spawn(process.execPath, [__filename, JSON.stringify(args)], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 8192) stderr += s; });
  const exited = new Promise<number>((resolve) => {
    child.on('close', (code) => resolve(code ?? 128));
    child.on('error', (e) => { stderr += e.message; resolve(127); });
  });
  child.stdin.on('error', () => {}); // EPIPE after the child failed: its exit says why
  const validator = createTarValidator();
  let validatorError: unknown;
  validator.on('error', (e) => (validatorError ??= e));
  const childFailed = () => invalid(stderr.trim().split('\n').pop() || 'extraction failed');
  try {
    for await (const chunk of tar) {
      if (validatorError) throw validatorError;
      if (child.exitCode !== null) throw childFailed();
      await Promise.all([writeTo(validator, chunk), writeTo(child.stdin, chunk)]);
    }
    validator.end();
    await validator.result;
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw childFailed();
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    validator.destroy();
    if (e instanceof BerthError) throw e;
    if (e instanceof UnsafeTarError || /^invalid tar/.test(messageOf(e))) throw invalid(messageOf(e), e);
    if (child.exitCode !== 0 && stderr.trim()) throw childFailed();
    throw invalid(`cannot extract the archive: ${messageOf(e)}`, e);
  }
}

function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (w.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => { w.off('drain', ok); w.off('close', ok); w.off('error', done); if (err) reject(err); else resolve(); };
    const ok = () => done();
    w.once('drain', ok);
    w.once('close', ok);
    w.once('error', done);
  });
}

// ---- the child: runs inside the chroot -----------------------------------------------------

interface Libc { chroot(path: string): number; mknod(path: string, mode: number, dev: bigint): number }

function loadLibc(): Libc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as { load(p: string): { func(sig: string): (...a: unknown[]) => unknown } };
  const libc = koffi.load('libc.so.6');
  const chroot = libc.func('int chroot(const char *path)');
  const mknod = libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  return { chroot: (p) => chroot(p) as number, mknod: (p, m, d) => mknod(p, m, d) as number };
}

function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

async function childMain(args: ChildArgs): Promise<void> {
  const libc = loadLibc();
  if (libc.chroot(args.root) !== 0) throw new Error(`cannot chroot into ${args.root}`);
  process.chdir('/');
  try {
    process.chdir(args.dir);
  } catch {
    throw new Error('extraction point is not a directory');
  }
  const dirTimes: [string, Date, Date][] = [];
  const ex = extract();
  ex.on('entry', (h, body, next) => {
    applyEntry(libc, args, h, body, dirTimes).then(
      () => next(),
      (e: unknown) => {
        process.stderr.write(`${messageOf(e)}\n`);
        process.exit(1);
      },
    );
  });
  (process.stdin as Readable).pipe(ex);
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  // Directory times last: writing into a directory changes its mtime.
  for (const [p, atime, mtime] of dirTimes.reverse()) fs.utimesSync(p, atime, mtime);
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

async function applyEntry(libc: Libc, args: ChildArgs, h: Header, body: AsyncIterable<unknown>, dirTimes: [string, Date, Date][]): Promise<void> {
  const rel = normalizeEntryPath(h.name);
  if (rel === null) throw new Error(`invalid tar entry "${h.name}": path escapes the root with ".."`);
  const drain = async () => { for await (const _ of body) void _; };
  if (rel === '') return drain(); // the extraction directory itself: left as it is (Docker's rule)
  const path = `./${rel}`;
  const shown = posix.join(args.dir, rel);
  const parent = posix.dirname(path);
  if (!lstatOrNull(parent)) fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
  const type = h.type;
  const existing = lstatOrNull(path);
  if (existing) {
    if (args.noOverwriteDirNonDir && existing.isDirectory() && type !== 'directory') {
      throw new Error(`cannot overwrite directory "${shown}" with non-directory "${h.name}"`);
    }
    if (args.noOverwriteDirNonDir && !existing.isDirectory() && type === 'directory') {
      throw new Error(`cannot overwrite non-directory "${shown}" with directory "${h.name}"`);
    }
    if (!(existing.isDirectory() && type === 'directory')) fs.rmSync(path, { recursive: true, force: true });
  }
  const mode = (h.mode ?? 0o644) & 0o7777;
  switch (type) {
    case 'directory':
      if (!(existing && existing.isDirectory())) fs.mkdirSync(path, { mode: mode & 0o777 });
      await drain();
      break;
    case 'file':
    case 'contiguous-file': {
      const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode & 0o777);
      try {
        for await (const chunk of body) {
          const buf = chunk as Buffer;
          for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
        }
      } finally {
        fs.closeSync(fd);
      }
      break;
    }
    case 'symlink':
      fs.symlinkSync(h.linkname ?? '', path);
      await drain();
      break;
    case 'link': {
      const target = normalizeEntryPath(h.linkname ?? '');
      if (target === null || target === '') throw new Error(`invalid hard link "${h.name}" -> "${h.linkname}"`);
      fs.linkSync(`./${target}`, path);
      await drain();
      break;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
      const dev = type === 'fifo' ? 0n : makedev(h.devmajor ?? 0, h.devminor ?? 0);
      if (libc.mknod(path, kind | (mode & 0o777), dev) !== 0) throw new Error(`cannot create device ${shown}`);
      await drain();
      break;
    }
    default:
      throw new Error(`unhandled tar header type ${String(type)} for "${h.name}"`);
  }
  const owner = args.chown ?? { uid: h.uid ?? 0, gid: h.gid ?? 0 };
  fs.lchownSync(path, owner.uid, owner.gid);
  const mtime = h.mtime ?? new Date();
  if (type === 'symlink') {
    fs.lutimesSync(path, mtime, mtime);
    return;
  }
  // After the chown, which clears setuid and setgid bits.
  if (type !== 'link') fs.chmodSync(path, mode);
  if (type === 'directory') dirTimes.push([path, mtime, mtime]);
  else fs.lutimesSync(path, mtime, mtime);
}

if (require.main === module) {
  childMain(JSON.parse(process.argv[2]) as ChildArgs).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${messageOf(e)}\n`);
      process.exit(1);
    },
  );
}
