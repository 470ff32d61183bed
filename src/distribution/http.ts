/**
 * HTTP for talking to registries: keep-alive agents (one plain, one TLS, one TLS that does not
 * verify, for registries marked insecure), streamed bodies, and idle timeouts so a registry
 * that stops answering fails the transfer instead of hanging it.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 });
const insecureTlsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });

/** No byte for this long ends the request: registries stream layers, so silence means trouble. */
const IDLE_MS = 60_000;

export type Body = Buffer | (() => AsyncIterable<Buffer>);

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer, or a function that opens the stream (so a retry can open it again). */
  body?: Body;
  insecureTls?: boolean;
}

/** Raised for transport failures (not for HTTP error statuses: those are answers). */
export class TransportError extends Error {
  constructor(readonly url: URL, readonly method: string, cause: Error) {
    super(`${method[0]}${method.slice(1).toLowerCase()} "${url.href}": ${cause.message}`, { cause });
    this.name = 'TransportError';
  }
  get code(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

export function httpRequest(req: HttpRequest): Promise<http.IncomingMessage> {
  const tls = req.url.protocol === 'https:';
  const lib = tls ? https : http;
  const headers: Record<string, string> = { 'User-Agent': 'berth/0.1 (linux)', ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
  return new Promise((resolve, reject) => {
    const r = lib.request(req.url, {
      method: req.method,
      headers,
      agent: tls ? (req.insecureTls ? insecureTlsAgent : tlsAgent) : plainAgent,
    });
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      r.destroy();
      reject(e instanceof TransportError ? e : new TransportError(req.url, req.method, e));
    };
    r.setTimeout(IDLE_MS, () => fail(new Error(`no answer in ${IDLE_MS / 1000} s`)));
    r.on('error', fail);
    r.on('response', (res) => {
      settled = true;
      // The response stream gets the same idle rule while its body is read.
      res.socket?.setTimeout(IDLE_MS, () => res.destroy(new Error(`registry stalled for ${IDLE_MS / 1000} s`)));
      resolve(res);
    });
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else {
      // A registry may answer (an error) before the body is sent; that answer still counts.
      pipeline(Readable.from(req.body()), r).catch((e: Error) => fail(e));
    }
  });
}

/** Reads a whole (small) body; refuses more than `max` bytes. */
export async function readBody(res: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.destroy();
    throw new Error(`response of ${declared} bytes is over the ${max} byte limit`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > max) {
      res.destroy();
      throw new Error(`response is over the ${max} byte limit`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Lets the connection go back to the pool without reading what we do not need. */
export function discard(res: http.IncomingMessage): void {
  res.resume();
}
