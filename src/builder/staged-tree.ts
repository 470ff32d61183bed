/**
 * Files a step makes itself rather than reads from the context: COPY's heredoc sources and
 * ADD's downloads. A flat tree of regular files, each held in a file under the build's temp dir.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { SourceNode, SourceTree } from './context';

interface Staged extends SourceNode {
  host: string;
}

export class StagedTree implements SourceTree {
  private readonly files = new Map<string, Staged>();

  /** Adds a file at the root under `name`, its bytes at `host`. */
  add(name: string, host: string, mode: number, mtime: Date): SourceNode {
    const node: Staged = { path: name, type: 'file', mode, uid: 0, gid: 0, mtime, size: fs.statSync(host).size, host };
    this.files.set(name, node);
    return node;
  }

  lstat(path: string): SourceNode | undefined {
    if (path === '') return { path: '', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(0), size: 0 };
    return this.files.get(path);
  }

  list(dir: string): string[] {
    return dir === '' ? [...this.files.keys()].sort() : [];
  }

  open(node: SourceNode): Readable {
    return fs.createReadStream(this.files.get(node.path)!.host);
  }

  async digest(node: SourceNode): Promise<string> {
    const h = createHash('sha256');
    for await (const c of this.open(node)) h.update(c as Buffer);
    return h.digest('hex');
  }
}
