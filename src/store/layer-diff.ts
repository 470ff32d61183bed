/**
 * A container's writable layer (an overlay upper dir) read back as a diff: the changes list of
 * `docker diff`, and the layer tar `docker commit` stores. Overlay records a deletion as a 0/0
 * character device and a replaced directory as an opaque one (`trusted.overlay.opaque`); image
 * layers spell them `.wh.<name>` and `.wh..wh..opq` (layer-apply.ts converts the other way).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join, posix } from 'node:path';
import { BerthError } from '../errors';
import { isOpaqueDir } from './xattr';

export interface UpperEntry {
  /** Absolute path inside the container: "/etc/passwd". */
  path: string;
  host: string;
  st: fs.BigIntStats;
  /** A 0/0 character device: the path was deleted. */
  whiteout: boolean;
  /** A directory that hides whatever the lower layers have at its path. */
  opaque: boolean;
}

/** Every entry of the upper dir in Go's filepath.Walk order: sorted names, a directory before its contents. */
export function walkUpper(upper: string): Generator<UpperEntry> {
  return walkUpperFrom(upper, '/');
}

function* walkUpperFrom(upper: string, dir: string): Generator<UpperEntry> {
  const names = fs.readdirSync(join(upper, dir)).sort();
  for (const name of names) {
    const path = posix.join(dir, name);
    const host = join(upper, path);
    const st = fs.lstatSync(host, { bigint: true });
    const isDir = st.isDirectory();
    yield { path, host, st, whiteout: st.isCharacterDevice() && st.rdev === 0n, opaque: isDir && isOpaqueDir(host) };
    if (isDir) yield* walkUpperFrom(upper, path);
  }
}

/**
 * Mount targets runc creates in the writable layer for what the daemon binds in (/etc/hosts …)
 * and for kernel filesystems an image lacks. Docker keeps these in a separate "init" layer below
 * the container's, so neither `diff` nor `commit` sees them; berth skips them the same way.
 */
const PLACEHOLDER_FILES = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf']);
const PLACEHOLDER_DIRS = new Set(['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue']);

export function isMountPlaceholder(e: UpperEntry, lowers: string[]): boolean {
  if (PLACEHOLDER_FILES.has(e.path)) return e.st.isFile() && e.st.size === 0n;
  if (!PLACEHOLDER_DIRS.has(e.path) || !e.st.isDirectory()) return false;
  return fs.readdirSync(e.host).length === 0 && !lowers.some((l) => lstatOrUndefined(join(l, e.path)) !== undefined);
}

/** Whether a directory's own mtime says nothing, because runc created mount targets in it. */
function holdsPlaceholder(e: UpperEntry): boolean {
  const names = e.path === '/etc' ? ['hostname', 'hosts', 'resolv.conf'] : e.path === '/dev' ? ['pts', 'shm', 'mqueue'] : [];
  return names.some((n) => lstatOrUndefined(join(e.host, n)) !== undefined);
}

/** Docker's change kinds (GET /containers/{id}/changes). */
export const enum ChangeKind { Modify = 0, Add = 1, Delete = 2 }
export interface Change { Path: string; Kind: ChangeKind }

function lstatOrUndefined(p: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch {
    return undefined;
  }
}

/** Go's sameFsTime: equal, or equal seconds when either side has no nanoseconds. */
function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const s = 1_000_000_000n;
  return a / s === b / s && (a % s === 0n || b % s === 0n);
}

/**
 * The changes of a writable layer against its lower layers (top first), as Docker's overlay
 * driver reports them: a whiteout or an opaque directory that hid something is a deletion; a path
 * a lower layer has is a modification (a directory only when its size, mode or mtime differ); the
 * rest are additions; and the parent of an addition or deletion is reported modified once.
 */
export function changes(upper: string, lowers: string[]): Change[] {
  const out: Change[] = [];
  const changedDirs = new Set<string>();
  for (const e of walkUpper(upper)) {
    if (isMountPlaceholder(e, lowers)) continue;
    const isDir = e.st.isDirectory();
    let kind: ChangeKind;
    if (e.whiteout || (e.opaque && lowers.some((l) => lstatOrUndefined(join(l, e.path)) !== undefined))) {
      kind = ChangeKind.Delete;
    } else {
      kind = ChangeKind.Add;
      let unchangedDir = false;
      for (const l of lowers) {
        const below = lstatOrUndefined(join(l, e.path));
        if (!below) continue;
        if (below.isDirectory() && isDir && below.size === e.st.size && below.mode === e.st.mode && (sameFsTime(below.mtimeNs, e.st.mtimeNs) || holdsPlaceholder(e))) {
          unchangedDir = true;
        }
        kind = ChangeKind.Modify;
        break;
      }
      if (unchangedDir) continue;
    }
    if (isDir) changedDirs.add(e.path);
    if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
      const parent = posix.dirname(e.path);
      if (parent !== '/' && !changedDirs.has(parent)) {
        out.push({ Path: parent, Kind: ChangeKind.Modify });
        changedDirs.add(parent);
      }
    }
    out.push({ Path: e.path, Kind: kind });
  }
  return out;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * The writable layer as an image layer tar, streamed from GNU tar (which keeps hard links,
 * devices, capabilities and user xattrs). The walk lists every entry but the whiteouts; the
 * `.wh.` markers that replace them are empty files made in a staging dir and archived after the
 * tree, by a second `-C`. Never buffered: the caller consumes the stream.
 */
export async function* layerTar(upper: string, lowers: string[]): AsyncGenerator<Buffer> {
  const work = fs.mkdtempSync(join(os.tmpdir(), 'berth-commit-'));
  try {
    const staging = join(work, 'markers');
    fs.mkdirSync(staging);
    const treeList = fs.openSync(join(work, 'tree'), 'w');
    const markerList = fs.openSync(join(work, 'markers.list'), 'w');
    try {
      const marker = (dir: string, name: string, uid: number, gid: number) => {
        const rel = posix.join(dir, name);
        fs.mkdirSync(join(staging, dir), { recursive: true });
        fs.writeFileSync(join(staging, rel), '');
        fs.chownSync(join(staging, rel), uid, gid);
        fs.writeSync(markerList, `.${rel}\0`);
      };
      for (const e of walkUpper(upper)) {
        if (e.whiteout) {
          marker(posix.dirname(e.path), WH + posix.basename(e.path), Number(e.st.uid), Number(e.st.gid));
          continue;
        }
        // tar cannot store sockets (and Docker's layers never hold them).
        if (e.st.isSocket() || isMountPlaceholder(e, lowers)) continue;
        fs.writeSync(treeList, `.${e.path}\0`);
        if (e.opaque) marker(e.path, OPAQUE, 0, 0);
      }
    } finally {
      fs.closeSync(treeList);
      fs.closeSync(markerList);
    }
    const tar = spawn('tar', [
      '--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '--xattrs-include=user.*',
      '--format=posix', '--null', '--no-recursion', '-cf', '-',
      '-C', upper, '-T', join(work, 'tree'), '-C', staging, '-T', join(work, 'markers.list'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    tar.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
    const exited = new Promise<number>((resolve) => {
      tar.on('close', (code) => resolve(code ?? 128));
      tar.on('error', (e) => { stderr += e.message; resolve(127); });
    });
    let whole = false;
    try {
      for await (const chunk of tar.stdout) yield chunk as Buffer;
      whole = true;
    } finally {
      // Only a consumer that stopped early leaves tar to kill: after EOF on its output tar may
      // still be finishing (not yet reaped), and a kill then would turn a good archive into a failure.
      if (!whole && tar.exitCode === null) tar.kill('SIGKILL');
    }
    const code = await exited;
    // 1: a file changed while it was read (a commit without pause); the archive is still whole.
    if (code !== 0 && code !== 1) throw new BerthError('internal', `cannot archive the container's layer: ${stderr.trim() || `tar exited ${code}`}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
