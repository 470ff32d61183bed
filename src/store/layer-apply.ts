/**
 * Unpacks one layer tar into an empty directory with GNU tar, then turns OCI whiteout files
 * into overlayfs's markers. GNU tar is the only extractor here that keeps every layer feature
 * (device nodes, binary xattrs, setuid, sparse files); node-tar and tar-stream each lose some
 * (../shared/notes/storage.md §1). One process per layer, never one per file.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors';
import { lsetxattr, mknodWhiteout } from './syscalls';

const TAR_ARGS = [
  // Without --numeric-owner, tar maps user names through the host's passwd file.
  '--numeric-owner',
  '--xattrs',
  // trusted.* xattrs would let a layer redirect overlay lookups to other paths: never restore them.
  '--xattrs-include=security.capability',
  '--xattrs-include=user.*',
  '-xpf',
  '-',
];

/** Bytes a consumer may have queued before its writer waits (per layer being unpacked). */
const QUEUE_LIMIT = 8 << 20;

export interface Extraction {
  /** Feed the tar bytes; resolves when the chunk is accepted (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** End of input: waits for tar, then converts whiteouts. */
  finish(): Promise<void>;
  /** Stops tar and resolves once it has exited (so it writes nothing more); the caller removes the directory. */
  abort(): Promise<void>;
}

export function startExtraction(dir: string): Extraction {
  const tar = spawn('tar', [...TAR_ARGS, '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8');
  tar.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<number>((resolve) => {
    tar.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    tar.on('error', (e) => {
      stderr += e.message;
      resolve(127);
    });
  });
  // A write after tar died raises EPIPE here; the exit code carries the real story.
  tar.stdin.on('error', () => {});
  const failed = () =>
    new BerthError('invalid', `failed to extract layer: ${stderr.trim().split('\n').slice(-3).join('; ') || 'tar failed'}`);

  return {
    write(chunk) {
      if (tar.stdin.destroyed) return exited.then(() => Promise.reject(failed()));
      // Waits only when megabytes are queued: tar reads the pipe 10 KiB at a time, and waiting
      // for each drain would keep the other consumers of the same bytes in lockstep with it.
      if (tar.stdin.write(chunk) || tar.stdin.writableLength < QUEUE_LIMIT) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onDrain = () => { tar.off('close', onClose); resolve(); };
        const onClose = () => { tar.stdin.off('drain', onDrain); reject(failed()); };
        tar.stdin.once('drain', onDrain);
        tar.once('close', onClose);
      });
    },
    async finish() {
      tar.stdin.end();
      const code = await exited;
      if (code !== 0) throw failed();
      convertWhiteouts(dir);
    },
    async abort() {
      tar.kill('SIGKILL');
      await exited;
    },
  };
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * OCI layers mark deletions with `.wh.<name>` files and opaque directories with `.wh..wh..opq`;
 * overlayfs wants a 0/0 character device and the trusted.overlay.opaque xattr instead.
 * Parent mtimes are restored so the conversion leaves no trace in the layer's metadata.
 */
export function convertWhiteouts(root: string): void {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const before = fs.lstatSync(dir);
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    let touched = false;
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.name.startsWith(WH)) {
        touched = true;
        const st = fs.lstatSync(p);
        fs.unlinkSync(p);
        if (e.name === OPAQUE) {
          lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
        } else if (!e.name.startsWith(WH + WH)) {
          const target = join(dir, e.name.slice(WH.length));
          mknodWhiteout(target);
          fs.lchownSync(target, st.uid, st.gid);
        }
        // Other `.wh..wh.*` names are aufs bookkeeping: dropped.
      } else if (e.isDirectory()) {
        stack.push(p);
      }
    }
    if (touched) fs.utimesSync(dir, before.atime, before.mtime);
  }
}
