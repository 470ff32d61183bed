/**
 * The per-byte half of unpacking a large layer, on a worker thread: gunzip, the diff-id hash,
 * the path safety validator and feeding GNU tar. A pull's main thread then only receives,
 * hashes and stores the compressed bytes, and both cores work (measured: the main thread was
 * the limit of a 100 MB pull, with the second core half idle). Workers serve one layer after
 * another and are kept for the next (starting one costs tens of milliseconds: a module graph
 * and koffi).
 *
 * Protocol, per layer: the parent posts { start: dir }, the layer's bytes as they came (maybe
 * gzip: recognised by their magic) as Uint8Array chunks, then { end: true } (or { abort: true });
 * the worker answers { ack: bytes } as it consumes input, and finally { done: { diffId, size } }
 * or { error, unsafe }.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { decompress } from './compression';
import { startExtraction } from './layer-apply';
import { writeTo } from './stream-write';
import { createTarValidator, UnsafeTarError } from './tar-validate';

export type FromWorker =
  | { ack: number }
  | { done: { diffId: `sha256:${string}`; size: number } }
  | { error: string; unsafe: boolean };

export type ToWorker = { start: string } | Uint8Array | { end: true } | { abort: true };

/** Acknowledge after this many input bytes, so the parent can bound what is in flight. */
const ACK_EVERY = 4 << 20;

/** One layer's input as an async iterable fed by messages. */
class Inbox implements AsyncIterable<Buffer> {
  private readonly queue: (Buffer | null | Error)[] = [];
  private wake: (() => void) | undefined;

  push(item: Buffer | null | Error): void {
    this.queue.push(item);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      while (this.queue.length === 0) await new Promise<void>((r) => (this.wake = r));
      const item = this.queue.shift()!;
      if (item === null) return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }
}

async function unpack(dir: string, input: Inbox, port: NonNullable<typeof parentPort>): Promise<FromWorker> {
  const hash = createHash('sha256');
  const validator = createTarValidator();
  const extraction = startExtraction(dir);
  let validatorError: unknown;
  validator.on('error', (e) => (validatorError ??= e));
  let unacked = 0;
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const c of input) {
      unacked += c.length;
      if (unacked >= ACK_EVERY) {
        port.postMessage({ ack: unacked } satisfies FromWorker);
        unacked = 0;
      }
      yield c;
    }
  };
  try {
    for await (const chunk of decompress(counted())) {
      if (validatorError) throw validatorError;
      hash.update(chunk);
      await Promise.all([writeTo(validator, chunk), extraction.write(chunk)]);
    }
    validator.end();
    const summary = await validator.result;
    await extraction.finish();
    return { done: { diffId: `sha256:${hash.digest('hex')}`, size: summary.bytes } };
  } catch (e) {
    validator.destroy();
    await extraction.abort();
    return { error: e instanceof Error ? e.message : String(e), unsafe: e instanceof UnsafeTarError || /^invalid tar/.test(String((e as Error)?.message)) };
  }
}

function serve(): void {
  const port = parentPort!;
  let inbox: Inbox | undefined;
  port.on('message', (m: ToWorker) => {
    if (m instanceof Uint8Array) inbox?.push(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
    else if ('start' in m) {
      const box = new Inbox();
      inbox = box;
      void unpack(m.start, box, port).then((r) => port.postMessage(r));
    } else if ('abort' in m) inbox?.push(new Error('aborted'));
    else inbox?.push(null);
  });
}

if (parentPort) serve();
