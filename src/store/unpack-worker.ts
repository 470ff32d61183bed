/**
 * The per-byte half of unpacking a large layer, on a worker thread: the diff-id hash, the path
 * safety validator and feeding GNU tar. A pull's main thread then only receives, hashes and
 * stores the compressed bytes, and both cores work (measured: the main thread was the limit of
 * a 100 MB pull, with the second core half idle).
 *
 * Protocol: the parent posts tar chunks (Uint8Array), then { end: true } (or { abort: true });
 * the worker answers { ack: bytes } as it consumes, and finally { done: { diffId, size } } or
 * { error, unsafe }.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { startExtraction } from './layer-apply';
import { createTarValidator, UnsafeTarError } from './tar-validate';

export interface UnpackWorkerData {
  dir: string;
}

export type FromWorker =
  | { ack: number }
  | { done: { diffId: `sha256:${string}`; size: number } }
  | { error: string; unsafe: boolean };

export type ToWorker = Uint8Array | { end: true } | { abort: true };

/** Acknowledge after this many bytes, so the parent can bound what is in flight. */
const ACK_EVERY = 4 << 20;

function serve(): void {
  const port = parentPort!;
  const { dir } = workerData as UnpackWorkerData;
  const hash = createHash('sha256');
  const validator = createTarValidator();
  const extraction = startExtraction(dir);
  let validatorError: unknown;
  validator.on('error', (e) => (validatorError ??= e));
  let unacked = 0;
  let failed = false;
  // Messages are handled one after another: each waits for the previous one's writes.
  let chain = Promise.resolve();
  const fail = async (e: unknown) => {
    if (failed) return;
    failed = true;
    validator.destroy();
    await extraction.abort();
    port.postMessage({ error: e instanceof Error ? e.message : String(e), unsafe: e instanceof UnsafeTarError || /^invalid tar/.test(String((e as Error)?.message)) } satisfies FromWorker);
    port.close();
  };
  port.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      if (failed) return;
      try {
        if (m instanceof Uint8Array) {
          if (validatorError) throw validatorError;
          const chunk = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
          hash.update(chunk);
          const v = validator.write(chunk) ? Promise.resolve() : drained(validator);
          await Promise.all([v, extraction.write(chunk)]);
          unacked += chunk.length;
          if (unacked >= ACK_EVERY) {
            port.postMessage({ ack: unacked } satisfies FromWorker);
            unacked = 0;
          }
        } else if ('abort' in m) {
          await fail(new Error('aborted'));
        } else {
          validator.end();
          const summary = await validator.result;
          await extraction.finish();
          port.postMessage({ done: { diffId: `sha256:${hash.digest('hex')}`, size: summary.bytes } } satisfies FromWorker);
          port.close();
        }
      } catch (e) {
        await fail(e);
      }
    });
  });
}

function drained(w: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

if (parentPort) serve();
