/**
 * Resolves a path inside a root directory the way the container would see it: symlinks are
 * followed relative to the root, and ".." never climbs above it. Every host-side read or write
 * of a container path (user lookup, mount targets, copy) goes through here, so a symlink planted
 * in an image can never point the daemon at a host file.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors';

const MAX_LINKS = 255;

/**
 * Returns the host path for `path` inside `root`. Components that do not exist yet are appended
 * as they are (the caller may create them); the result always lies under `root`. `visit` sees
 * every container path the walk looks at (symlinks before they are followed), in order.
 */
export function resolveInRoot(root: string, path: string, visit?: (containerPath: string) => void): string {
  const pending = path.split('/').filter((c) => c !== '' && c !== '.');
  pending.reverse(); // pop() takes the next component
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const comp = pending.pop()!;
    if (comp === '..') {
      resolved.pop();
      continue;
    }
    visit?.(`/${[...resolved, comp].join('/')}`);
    const host = join(root, ...resolved, comp);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      resolved.push(comp);
      continue;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(comp);
      continue;
    }
    if (++links > MAX_LINKS) throw new BerthError('invalid', `too many levels of symbolic links resolving ${path}`);
    const target = fs.readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    const parts = target.split('/').filter((c) => c !== '' && c !== '.');
    for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
  }
  return join(root, ...resolved);
}

/** Reads a small file inside the root, or returns undefined when it does not exist. */
export function readFileInRoot(root: string, path: string, maxBytes = 1 << 20): string | undefined {
  const host = resolveInRoot(root, path);
  let fd: number;
  try {
    // O_NOFOLLOW: the last component was resolved above; a swap to a symlink since then fails here.
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > maxBytes) return undefined;
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
