/**
 * Moving a layer's bytes between stages: writing a chunk to a consumer (a tar validator, a
 * pipe), shared by the unpacking on the main thread and on worker threads, and joining small
 * reads into pieces worth a threadpool or thread round trip.
 */
import type { Writable } from 'node:stream';

/**
 * Writes `chunk`; waits only when megabytes are queued, so consumers of the same bytes do not
 * run in lockstep. Resolves on close too (the consumer's own error is reported elsewhere).
 */
export function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (w.write(chunk) || w.writableLength < 8 << 20) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => { w.off('error', onError); w.off('close', onDrain); resolve(); };
    const onError = (e: Error) => { w.off('drain', onDrain); w.off('close', onDrain); reject(e); };
    w.once('drain', onDrain);
    w.once('close', onDrain);
    w.once('error', onError);
  });
}

/** Joins chunks into pieces of at least `size` bytes (the last may be smaller); one chunk passes uncopied. */
export async function* coalesce(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let n = 0;
  for await (const c of source) {
    pending.push(c);
    n += c.length;
    if (n >= size) {
      yield pending.length === 1 ? pending[0] : Buffer.concat(pending, n);
      pending = [];
      n = 0;
    }
  }
  if (n > 0) yield pending.length === 1 ? pending[0] : Buffer.concat(pending, n);
}
