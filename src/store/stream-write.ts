/**
 * Writing one chunk to a consumer of a layer's bytes (a tar validator, a pipe), shared by the
 * unpacking on the main thread and on worker threads.
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
