/**
 * What a route handler gets: the parsed request (params, query, negotiated version), body
 * readers with size caps, and response helpers in Docker's formats.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { invalid } from '../errors';

export interface Ctx {
  req: IncomingMessage;
  /** Absent for hijacked (upgraded) requests: use hijack() instead. */
  res: ServerResponse | undefined;
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from /vX.Y/), or the server's default. */
  version: string;
  /** Takes over the connection for a raw stream (attach, exec start). */
  hijack(contentType: string): Duplex;
}

/** Docker's boolean query values: "", "0", "no", "false", "none" are false; anything else is true. */
export function qbool(ctx: Ctx, key: string, dflt = false): boolean {
  const v = ctx.query.get(key);
  if (v === null) return dflt;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

export function qint(ctx: Ctx, key: string): number | undefined {
  const v = ctx.query.get(key);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(`invalid value for ${key}: ${JSON.stringify(v)}: must be an integer`);
  return Number(v);
}

/** Reads a JSON body, at most `maxBytes`; an empty body is `undefined`. */
export async function readJson<T>(ctx: Ctx, maxBytes = 1 << 20): Promise<T | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw invalid(`request body too large (over ${maxBytes} bytes)`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalid(`invalid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(ctx: Ctx, status: number, body: unknown): void {
  const data = JSON.stringify(body) + '\n';
  ctx.res!.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  ctx.res!.end(data);
}

export function sendStatus(ctx: Ctx, status: number): void {
  ctx.res!.writeHead(status);
  ctx.res!.end();
}

export type Filters = Map<string, string[]>;

/**
 * Parses Docker's `filters` query: {"key":["v1","v2"]}, or the pre-1.22 form {"key":{"v1":true}}.
 */
export function parseFilters(ctx: Ctx, allowed: string[]): Filters {
  const raw = ctx.query.get('filters');
  const out: Filters = new Map();
  if (!raw) return out;
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filter: ${raw}`);
  }
  if (typeof obj !== 'object' || obj === null) throw invalid(`invalid filter: ${raw}`);
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (!allowed.includes(k)) throw invalid(`invalid filter '${k}'`);
    const values = Array.isArray(v) ? v.map(String) : typeof v === 'object' && v !== null ? Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]) : [String(v)];
    out.set(k, values);
  }
  return out;
}

/** label filters: "key" (present) or "key=value". */
export function matchLabels(labels: Record<string, string> | null | undefined, wanted: string[] | undefined): boolean {
  if (!wanted) return true;
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return labels != null && w in labels;
    return labels != null && labels[w.slice(0, i)] === w.slice(i + 1);
  });
}

/**
 * Reads what is left of a rejected upload (up to a bound) so the client, still sending, gets to
 * read the error instead of a broken pipe.
 */
export async function drainRequest(ctx: Ctx): Promise<void> {
  if (ctx.req.readableEnded) return;
  // An abandoned async iterator leaves a 'readable' listener, which keeps resume() from flowing.
  ctx.req.removeAllListeners('readable');
  ctx.req.on('data', () => {});
  ctx.req.resume();
  await Promise.race([once(ctx.req, 'end').catch(() => {}), new Promise((r) => setTimeout(r, 10_000).unref())]);
}
