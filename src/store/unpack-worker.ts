/**
 * The per-byte half of unpacking a large layer, on a worker thread: the diff-id hash, the path
 * safety validator and feeding GNU tar. A pull's main thread then only receives, hashes and
 * stores the compressed bytes, and both cores work (measured: the main thread was the limit of
 * a 100 MB pull, with the second core half idle). Workers serve one layer after another and
 * are kept for the next (starting one costs tens of milliseconds: a module graph and koffi).
 *
 * Protocol, per layer: the parent posts { start: dir }, the tar chunks (Uint8Array), then
 * { end: true } (or { abort: true }); the worker answers { ack: bytes } as it consumes, and
 * finally { done: { diffId, size } } or { error, unsafe }.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { type Extraction, startExtraction } from './layer-apply';
import { createTarValidator, UnsafeTarError } from './tar-validate';

export type FromWorker =
  | { ack: number }
  | { done: { diffId: `sha256:${string}`; size: number } }
  | { error: string; unsafe: boolean };

export type ToWorker = { start: string } | Uint8Array | { end: true } | { abort: true };

/** Acknowledge after this many bytes, so the parent can bound what is in flight. */
const ACK_EVERY = 4 << 20;

interface Job {
  hash: Hash;
  validator: ReturnType<typeof createTarValidator>;
  extraction: Extraction;
  validatorError?: unknown;
  unacked: number;
  failed: boolean;
}

function serve(): void {
  const port = parentPort!;
  let job: Job | undefined;
  // Messages are handled one after another: each waits for the previous one's writes.
  let chain = Promise.resolve();
  const fail = async (j: Job, e: unknown) => {
    if (j.failed) return;
    j.failed = true;
    j.validator.destroy();
    await j.extraction.abort();
    port.postMessage({ error: e instanceof Error ? e.message : String(e), unsafe: e instanceof UnsafeTarError || /^invalid tar/.test(String((e as Error)?.message)) } satisfies FromWorker);
  };
  port.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      if (!(m instanceof Uint8Array) && 'start' in m) {
        const validator = createTarValidator();
        const j: Job = { hash: createHash('sha256'), validator, extraction: startExtraction(m.start), unacked: 0, failed: false };
        validator.on('error', (e) => (j.validatorError ??= e));
        job = j;
        return;
      }
      const j = job;
      if (!j || j.failed) return;
      try {
        if (m instanceof Uint8Array) {
          if (j.validatorError) throw j.validatorError;
          const chunk = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
          j.hash.update(chunk);
          const v = j.validator.write(chunk) ? Promise.resolve() : drained(j.validator);
          await Promise.all([v, j.extraction.write(chunk)]);
          j.unacked += chunk.length;
          if (j.unacked >= ACK_EVERY) {
            port.postMessage({ ack: j.unacked } satisfies FromWorker);
            j.unacked = 0;
          }
        } else if ('abort' in m) {
          await fail(j, new Error('aborted'));
        } else {
          j.validator.end();
          const summary = await j.validator.result;
          await j.extraction.finish();
          job = undefined;
          port.postMessage({ done: { diffId: `sha256:${j.hash.digest('hex')}`, size: summary.bytes } } satisfies FromWorker);
        }
      } catch (e) {
        await fail(j, e);
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
