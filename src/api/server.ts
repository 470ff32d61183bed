/**
 * The Engine API over HTTP/1.1: version prefixes (/v1.50/...), Docker's common headers, a route
 * table, errors mapped to statuses in one place, and connection hijacking for raw streams
 * (both the `Upgrade: tcp` form every Docker client uses and the plain form).
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError, messageOf } from '../errors';
import { API_VERSION, compareVersions, MIN_API_VERSION } from '../wire/api-version';
import type { Ctx } from './context';
import { statusOf } from './errors';

export type Handler = (ctx: Ctx) => Promise<void> | void;

export interface Route {
  method: string;
  /** `{id}` matches one path segment; `{name*}` matches the rest, slashes included (image names). */
  path: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  re: RegExp;
  keys: string[];
}

export function compileRoutes(routes: Route[]): CompiledRoute[] {
  return routes.map((r) => {
    const keys: string[] = [];
    const src = r.path.replace(/[.]/g, '\\.').replace(/\{(\w+)(\*?)\}/g, (_m, key: string, star: string) => {
      keys.push(key);
      return star ? '(.+)' : '([^/]+)';
    });
    return { ...r, re: new RegExp(`^${src}$`), keys };
  });
}

export interface ServerOptions {
  routes: Route[];
  serverHeader: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

export function createApiServer(opts: ServerOptions): http.Server {
  const routes = compileRoutes(opts.routes);
  const common = {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: opts.serverHeader,
  };

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, socket: Duplex, head?: Buffer) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://berth');
    let path = url.pathname;
    let version = API_VERSION;
    const m = VERSION_PREFIX.exec(path);
    if (m) {
      version = m[1];
      path = m[2];
    }
    let hijacked = false;
    const ctx: Ctx = {
      req, res, method: req.method ?? 'GET', path, params: {}, query: url.searchParams, version,
      hijack(contentType: string): Duplex {
        hijacked = true;
        if (res) {
          // No Upgrade header: answer 200 and stream raw bytes until the connection closes.
          res.useChunkedEncodingByDefault = false;
          res.shouldKeepAlive = false;
          res.writeHead(200, { ...common, 'Content-Type': contentType });
          res.flushHeaders();
          return res.socket!;
        }
        socket.write(
          `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
            Object.entries(common).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n',
        );
        if (head && head.length > 0) socket.unshift(head);
        return socket;
      },
    };
    try {
      if (m && compareVersions(version, API_VERSION) > 0) {
        throw new BerthError('invalid', `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      if (m && compareVersions(version, MIN_API_VERSION) < 0) {
        throw new BerthError('invalid', `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      const route = routes.find((r) => r.method === ctx.method && r.re.test(path));
      if (!route) throw new BerthError('not-found', 'page not found');
      const match = route.re.exec(path)!;
      route.keys.forEach((k, i) => (ctx.params[k] = decodeURIComponent(match[i + 1])));
      await route.handler(ctx);
    } catch (e) {
      const status = statusOf(e);
      if (status >= 500 && status !== 501) opts.log('error', 'request failed', { method: ctx.method, path: url.pathname, error: messageOf(e) });
      if (res && !res.headersSent) {
        const body = status === 304 ? '' : JSON.stringify({ message: messageOf(e) }) + '\n';
        res.writeHead(status, { ...common, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } else if (!res && !hijacked) {
        const body = JSON.stringify({ message: messageOf(e) }) + '\n';
        socket.end(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      } else {
        // Headers are gone: the only honest signal left is cutting the stream.
        (res?.socket ?? socket).destroy();
      }
    } finally {
      opts.log('debug', 'request', { method: ctx.method, path: url.pathname, ms: Math.round((performance.now() - started) * 10) / 10 });
    }
  };

  // 1 MiB of headers: `berth build --secret` sends its secrets in one (BuildKit allows 500 KB
  // per secret); the socket is root's only, so a larger limit costs no exposure.
  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
    void dispatch(req, res, req.socket);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    void dispatch(req, undefined, socket, head);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    opts.log('debug', 'bad request on the API socket', { error: err.message });
    if (socket.writable) {
      const body = JSON.stringify({ message: `bad request: ${err.code ?? err.message}` }) + '\n';
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    } else {
      socket.destroy();
    }
  });
  // Imports and builds upload for as long as they need; logs and events stream for hours.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  return server;
}
