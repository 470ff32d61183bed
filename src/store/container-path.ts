/**
 * Container paths for the archive endpoints (docker cp), with Docker's semantics: every directory
 * of the path is resolved inside the root as the container would resolve it (scoped-path.ts),
 * but the last component is taken as it is, so a symlink is reported and archived as a symlink;
 * a trailing "/" or "/." asks for it to be followed, inside the root too.
 *
 * Archiving goes through GNU tar, which never follows a symlink inside the tree it walks (no -h).
 * Its starting directory is opened first and its real path checked to lie inside the root, so a
 * running container swapping a directory for a symlink after the resolution cannot point tar at a
 * host directory: tar is started in the directory that was checked, through /proc/<pid>/fd.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join, posix, relative } from 'node:path';
import { BerthError } from '../errors';
import { resolveInRoot } from './scoped-path';

/** What X-Docker-Container-Path-Stat carries. `mode` is a Go os.FileMode. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ResolvedPath {
  /** The host path (inside the root); its last component is not followed unless asked. */
  host: string;
  /** The cleaned absolute container path, trailing "/" or "/." kept. */
  abs: string;
  /** The name the path has in an archive: the base name of `abs` ("/" for the root). */
  name: string;
}

/** Docker's container.ResolvePath. */
export function resolveContainerPath(root: string, path: string): ResolvedPath {
  let abs = posix.join('/', path);
  if (path.endsWith('/.') && !abs.endsWith('/.')) abs = (abs === '/' ? '' : abs) + '/.';
  else if (path.endsWith('/') && !abs.endsWith('/')) abs += '/';
  const cleaned = posix.normalize(abs);
  // Go's filepath.Base: trailing slashes dropped, "/etc/." is ".", "/" is "/".
  const trimmed = abs.replace(/\/+$/, '');
  const name = trimmed === '' ? '/' : trimmed.slice(trimmed.lastIndexOf('/') + 1);
  const follow = abs.endsWith('/') || abs.endsWith('/.') || cleaned === '/';
  const host = follow
    ? resolveInRoot(root, abs)
    : join(resolveInRoot(root, posix.dirname(cleaned)), posix.basename(cleaned));
  return { host, abs, name };
}

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Go's os.FileMode bits for a stat mode. */
export function goFileMode(mode: number): number {
  const S_IFMT = 0o170000;
  let m = mode & 0o777;
  switch (mode & S_IFMT) {
    case 0o040000: m += 2 ** 31; break; // ModeDir
    case 0o120000: m += 2 ** 27; break; // ModeSymlink
    case 0o010000: m += 2 ** 25; break; // ModeNamedPipe
    case 0o140000: m += 2 ** 24; break; // ModeSocket
    case 0o060000: m += 2 ** 26; break; // ModeDevice
    case 0o020000: m += 2 ** 26 + 2 ** 21; break; // ModeDevice | ModeCharDevice
  }
  if (mode & 0o4000) m += 2 ** 23; // ModeSetuid
  if (mode & 0o2000) m += 2 ** 22; // ModeSetgid
  if (mode & 0o1000) m += 2 ** 20; // ModeSticky
  return m;
}

/** Go's RFC3339Nano in UTC: fractional seconds without trailing zeros. */
export function goTimeNs(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d+Z$/, '');
  return `${base}${frac ? '.' + frac : ''}Z`;
}

/** Docker's StatPath; throws ENOENT/ENOTDIR errors as they come (see isNotFound). */
export function statContainerPath(root: string, r: ResolvedPath): PathStat {
  const st = fs.lstatSync(r.host, { bigint: true });
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    // Fully resolved, inside the root: what the container would reach through the link.
    linkTarget = '/' + relative(root, resolveInRoot(root, r.abs));
  }
  return { name: r.name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goTimeNs(st.mtimeNs), linkTarget };
}

const O_PATH = 0o10000000;

/**
 * Opens `dir` (a directory inside `root`) and checks through /proc that the opened directory
 * really is that path: a component swapped for a symlink since it was resolved would land
 * elsewhere and is refused. Returns the fd; the caller closes it.
 */
export function openCheckedDir(root: string, dir: string): number {
  const fd = fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY);
  const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
  if (real !== dir || !(real === root || real.startsWith(root + '/'))) {
    fs.closeSync(fd);
    throw new BerthError('conflict', `the container's filesystem changed while resolving ${relative(root, dir) || '/'}`);
  }
  return fd;
}

/** Escapes a path component for a GNU tar --transform (basic regex, "/" as delimiter). */
const bre = (s: string) => s.replace(/[\\.*[\]^$]/g, '\\$&');
const replacement = (s: string) => s.replace(/[\\&]/g, '\\$&');

export interface TarProcess {
  stream: NodeJS.ReadableStream;
  /** Resolves when tar exits 0; rejects with its message otherwise. */
  done: Promise<void>;
  kill(): void;
}

/**
 * GNU tar of `host` (from its checked parent directory), its entries renamed to `as` (Docker's
 * rebase when a followed symlink resolved to another name). Symlinks inside are archived as such.
 */
export function tarMember(root: string, host: string, as: string): TarProcess {
  const isRoot = host === root;
  const dir = isRoot ? root : posix.dirname(host);
  const member = isRoot ? '.' : posix.basename(host);
  const fd = openCheckedDir(root, dir);
  const args = ['--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '--xattrs-include=user.*', '--format=posix', '-cf', '-'];
  if (as !== member && member !== '.') args.push(`--transform=s/^${bre(member)}\\(\\/\\|$\\)/${replacement(as)}\\1/S`);
  args.push('--', member);
  return runTar(args, `/proc/${process.pid}/fd/${fd}`, fd);
}

/** GNU tar of a whole root (export): its top-level names, so entries carry no "./" prefix, as Docker's. */
export function tarRoot(root: string): TarProcess {
  const fd = openCheckedDir(root, root);
  const names = fs.readdirSync(root).sort();
  const args = ['--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '--xattrs-include=user.*', '--format=posix', '-cf', '-', '--', ...names];
  if (names.length === 0) args.push('--files-from=/dev/null');
  return runTar(args, `/proc/${process.pid}/fd/${fd}`, fd);
}

function runTar(args: string[], cwd: string, fd: number): TarProcess {
  const tar = spawn('tar', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
  const close = () => { try { fs.closeSync(fd); } catch { /* closed already */ } };
  tar.once('spawn', close);
  const done = new Promise<void>((resolve, reject) => {
    tar.on('error', (e) => { close(); reject(e); });
    tar.on('close', (code, signal) => {
      close();
      // 1: a file changed while it was read (a running container); the archive is still whole.
      if (code === 0 || code === 1) resolve();
      else reject(new BerthError('internal', `cannot archive: ${stderr.trim() || `tar ${signal ?? `exited ${code}`}`}`));
    });
  });
  done.catch(() => {});
  return { stream: tar.stdout, done, kill: () => { if (tar.exitCode === null) tar.kill('SIGKILL'); } };
}
