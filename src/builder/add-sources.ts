/**
 * What ADD does beyond COPY: a local tar archive (plain or gzip; Node has no bzip2 or xz here)
 * is unpacked into the destination rather than copied, and an http(s) URL is downloaded (mode
 * 0600, mtime from Last-Modified, the name from the URL's path), checked against --checksum.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { invalid, messageOf } from '../errors';
import type { SourceNode, SourceTree } from './context';

/** Whether a file is a tar archive: the ustar magic, after gunzip when it is gzip. */
export async function isArchive(tree: SourceTree, node: SourceNode): Promise<boolean> {
  let head = Buffer.alloc(0);
  const stream = tree.open(node);
  try {
    for await (const c of stream) {
      head = Buffer.concat([head, c as Buffer]);
      if (head.length >= 64 << 10) break;
    }
  } finally {
    stream.destroy();
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    try {
      head = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH: a truncated stream is fine */ });
    } catch {
      return false;
    }
  }
  return head.length >= 263 && head.subarray(257, 262).toString('latin1') === 'ustar';
}

const TIMEOUT_MS = 5 * 60_000;

/** Downloads `url` to `file`; returns the name it is added under and its mtime. */
export async function download(url: string, file: string, checksum: string | undefined): Promise<{ name: string; file: string; mtime: Date }> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw invalid(`failed to download ${url}: ${messageOf(e)}`);
  }
  if (!res.ok || !res.body) throw invalid(`failed to download ${url}: ${res.status} ${res.statusText}`);
  const hash = createHash('sha256');
  const out = fs.createWriteStream(file, { mode: 0o600 });
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum !== undefined && checksum !== digest) throw invalid(`digest mismatch for ${url}: expected ${checksum}, got ${digest}`);
  const lm = res.headers.get('last-modified');
  const mtime = lm && !Number.isNaN(Date.parse(lm)) ? new Date(lm) : new Date(0);
  const base = posix.basename(new URL(url).pathname);
  return { name: base === '' || base === '/' ? '__unnamed__' : base, file, mtime };
}
