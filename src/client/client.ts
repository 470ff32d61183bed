/**
 * The Engine API client over a unix socket: one dispatch() every call goes through, version
 * negotiation (/_ping), Docker's error bodies turned into ApiError, and hijacked streams for
 * attach. The CLI and compose reach the daemon only through this.
 */
import * as http from 'node:http';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { API_VERSION, compareVersions } from '../wire/api-version';
import { unixSocketPath } from '../wire/host';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body, or a stream sent as is. */
  body?: unknown;
  stream?: Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function socketFromHost(host: string): string {
  const path = unixSocketPath(host);
  if (!path) throw new ConnectError(`unsupported host ${host}: berth talks to unix sockets (unix:///path.sock)`);
  return path;
}

export class ApiClient {
  private version: string | undefined;

  constructor(
    readonly socketPath: string,
    /** Pin a version (skips negotiation), as DOCKER_API_VERSION does. */
    pinnedVersion?: string,
  ) {
    this.version = pinnedVersion;
  }

  /** The version this client speaks: the lower of its own and the server's. */
  async apiVersion(): Promise<string> {
    if (!this.version) {
      const res = await this.raw('HEAD', '/_ping', {});
      res.resume();
      const server = String(res.headers['api-version'] ?? API_VERSION);
      this.version = compareVersions(server, API_VERSION) < 0 ? server : API_VERSION;
    }
    return this.version;
  }

  /** Sends a request and returns the response, whatever its status. */
  raw(method: string, path: string, o: RequestOptions, versioned = false): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...o.headers };
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload = Buffer.from(JSON.stringify(o.body));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const req = http.request({
        socketPath: this.socketPath,
        method,
        path: (versioned ? `/v${this.version}` : '') + path + encodeQuery(o.query),
        headers,
        signal: o.signal,
      });
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES') {
          reject(new ConnectError(`Cannot connect to the berth daemon at unix://${this.socketPath}. Is the berth daemon running?`));
        } else {
          reject(e);
        }
      });
      if (o.stream) {
        o.stream.on('error', (e) => req.destroy(e));
        o.stream.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  /** A versioned request; non-2xx statuses become ApiError with the daemon's message. */
  async dispatch(method: string, path: string, o: RequestOptions = {}): Promise<http.IncomingMessage> {
    await this.apiVersion();
    const res = await this.raw(method, path, o, true);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new ApiError(status, await errorMessage(res));
    return res;
  }

  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.dispatch(method, path, o);
    const text = await readAll(res);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** For endpoints answering 204/304: resolves with the status. */
  async call(method: string, path: string, o: RequestOptions = {}): Promise<number> {
    const res = await this.dispatch(method, path, o);
    res.resume();
    return res.statusCode ?? 0;
  }

  /**
   * POST /build: `context` (a tar) is streamed as the body. Resolves once the daemon answered,
   * with its JSON lines as they come; an errorDetail line is yielded like any other, since the
   * caller needs its code (a failed RUN's exit status).
   */
  async build(context: Readable, query: Query, headers: Record<string, string> = {}): Promise<AsyncGenerator<Record<string, unknown>>> {
    const res = await this.dispatch('POST', '/build', { query, stream: context, headers: { 'Content-Type': 'application/x-tar', ...headers } });
    return jsonLines(res);
  }

  /** Opens a hijacked connection (Upgrade: tcp) for attach and exec start; resolves once the daemon agreed. */
  async hijack(path: string, query: Query, body?: unknown): Promise<{ socket: Socket; contentType: string }> {
    await this.apiVersion();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        method: 'POST',
        path: `/v${this.version}${path}${encodeQuery(query)}`,
        headers: {
          Connection: 'Upgrade', Upgrade: 'tcp',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
      });
      req.on('upgrade', (res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve({ socket, contentType: String(res.headers['content-type'] ?? '') });
      });
      req.on('response', (res) => {
        void errorMessage(res).then((m) => reject(new ApiError(res.statusCode ?? 0, m)));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function errorMessage(res: http.IncomingMessage): Promise<string> {
  const text = await readAll(res);
  try {
    const body = JSON.parse(text) as { message?: string };
    if (body.message) return body.message;
  } catch {
    // Not Docker's JSON body: show what came.
  }
  return text.trim() || `${res.statusCode} ${http.STATUS_CODES[res.statusCode ?? 0] ?? ''}`.trim();
}

/** Reads Docker's JSON-lines progress streams; an errorDetail line becomes an ApiError. */
export async function* jsonMessages(res: Readable): AsyncGenerator<Record<string, unknown>> {
  for await (const msg of jsonLines(res)) {
    if (msg.errorDetail || msg.error) {
      const detail = msg.errorDetail as { message?: string } | undefined;
      throw new ApiError(500, detail?.message ?? String(msg.error));
    }
    yield msg;
  }
}

/** One parsed object per line of a JSON-lines stream, as the lines arrive. */
export async function* jsonLines(res: Readable): AsyncGenerator<Record<string, unknown>> {
  let buf = '';
  // A character split between two chunks (RUN output is anyone's UTF-8) is joined, not mangled.
  const utf8 = new StringDecoder('utf8');
  for await (const chunk of res) {
    buf += utf8.write(chunk as Buffer);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line !== '') yield JSON.parse(line) as Record<string, unknown>;
    }
  }
  if (buf.trim() !== '') yield JSON.parse(buf) as Record<string, unknown>;
}
