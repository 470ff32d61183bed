/**
 * `berth registry serve`: the HTTP(S) server around the routes. Per request it routes, asks the
 * authorizer for the access the route needs, runs it, writes a RegistryError in the spec's shape,
 * logs one line and counts it for /metrics. Outside /v2/ it serves /metrics, the token endpoint
 * when tokens are on, and the web page (ui.ts).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { messageOf } from '../errors';
import { type Authorizer, openAccess } from './access';
import { RegistryError } from './errors';
import { Metrics } from './metrics';
import { route } from './routes';
import { bytesSentByFile } from './send-file';
import type { RegistryStorage } from './storage';
import { uiPages } from './ui';

export interface ServeOptions {
  store: RegistryStorage;
  auth?: Authorizer;
  tls?: { cert: string; key: string };
  /** One line per request (and the server's own events). */
  log?: (line: string) => void;
}

const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };

export function createRegistryServer(opts: ServeOptions): http.Server {
  const auth = opts.auth ?? openAccess;
  const metrics = new Metrics();
  const log = opts.log ?? (() => {});
  const pages = uiPages(opts.store, auth);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = performance.now();
    const socket = req.socket;
    const inBefore = socket.bytesRead;
    const outBefore = socket.bytesWritten;
    const url = new URL(req.url ?? '/', 'http://registry');
    // URL() resolves '.' and '..' segments; a path that has any is refused, not served as another.
    const dotted = (req.url ?? '/').split('?')[0].split('/').some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg));
    let user: string | undefined;
    res.on('finish', () => {
      const ms = performance.now() - started;
      const bytesIn = socket.bytesRead - inBefore;
      const bytesOut = socket.bytesWritten - outBefore + bytesSentByFile(res);
      metrics.request(req.method ?? 'GET', url.pathname, res.statusCode, bytesIn, bytesOut, ms);
      log(`${new Date().toISOString()} ${socket.remoteAddress ?? 'local'} ${user ?? '-'} "${req.method} ${url.pathname}${url.search}" ${res.statusCode} in=${bytesIn} out=${bytesOut} ${ms.toFixed(1)}ms`);
    });
    try {
      if (url.pathname === '/metrics' && req.method === 'GET') {
        const body = metrics.text();
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (dotted) throw new RegistryError('NAME_INVALID', 'invalid repository name: a path segment is "." or ".."');
      if (await auth.extraRoute(req, res, url)) return;
      if (!url.pathname.startsWith('/v2')) {
        if (await pages(req, res, url)) return;
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('404 page not found\n');
        return;
      }
      for (const [k, v] of Object.entries(API_VERSION)) res.setHeader(k, v);
      const r = route({ req, res, url, store: opts.store, mayPull: (repo) => auth.allows(req, { repo, actions: ['pull'] }) });
      if (!r) {
        const body = JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint in the distribution spec' }] });
        res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      user = await auth.check(req, r.access, r.catalog === true);
      await r.run();
    } catch (e) {
      const err = e instanceof RegistryError ? e : undefined;
      if (!err) log(`${new Date().toISOString()} error "${req.method} ${url.pathname}": ${messageOf(e)}`);
      req.resume();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err?.status ?? 500;
      const body = err ? err.body() : JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error' }] });
      res.writeHead(status, { ...API_VERSION, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...(err?.headers ?? {}) });
      res.end(req.method === 'HEAD' ? undefined : body);
    }
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => void handle(req, res);
  const server = opts.tls ? https.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) }, listener) : http.createServer(listener);
  // Blob uploads take as long as they take; idle connections go after a while.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  return server;
}
