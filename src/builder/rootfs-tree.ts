/**
 * A stage's or an image's root filesystem as a COPY --from source: a read-only view of its
 * layers, read with symlinks resolved inside it (resolveInRoot), never followed out of it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { resolveInRoot } from '../store/scoped-path';
import type { SourceNode, SourceTree } from './context';

export class RootfsTree implements SourceTree {
  constructor(private readonly root: string) {}

  lstat(path: string): SourceNode | undefined {
    const clean = posix.normalize(`/${path}`);
    const host = clean === '/' ? this.root : posix.join(resolveInRoot(this.root, posix.dirname(clean)), posix.basename(clean));
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return undefined;
    }
    const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : undefined;
    if (!type) return undefined;
    const rel = posix.relative(this.root, host);
    return {
      path: rel,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
      size: type === 'file' ? st.size : 0,
      ...(type === 'symlink' ? { linkname: fs.readlinkSync(host) } : {}),
    };
  }

  list(dir: string): string[] {
    const node = this.lstat(dir);
    if (node?.type !== 'directory') return [];
    return fs.readdirSync(posix.join(this.root, node.path)).sort();
  }

  open(node: SourceNode): Readable {
    const fd = fs.openSync(posix.join(this.root, node.path), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    return fs.createReadStream('', { fd });
  }

  async digest(node: SourceNode): Promise<string> {
    const h = createHash('sha256');
    for await (const c of this.open(node)) h.update(c as Buffer);
    return h.digest('hex');
  }
}
