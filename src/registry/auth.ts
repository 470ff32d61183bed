/**
 * Authentication and access for `berth registry serve`: htpasswd (bcrypt) basic auth, or bearer
 * tokens from the server's own token endpoint, as the distribution token spec describes them
 * (a 401 with a Bearer challenge naming realm, service and scope; the client fetches a JWT there
 * with its password and comes back with it). In both modes an access list decides which account
 * may do which actions on which repositories.
 */
import { compareSync } from 'bcryptjs';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer } from './access';
import { RegistryError } from './errors';
import { type AccessClaim, TokenKey } from './jwt';
import type { Access } from './routes';

/** One line of the access list. */
export interface AccessRule {
  /** An account name; '*' any signed-in account; '' everyone, anonymous included. */
  account: string;
  /** A repository name; '*' in it matches any run of characters ('*' alone: every repository). */
  name: string;
  actions: string[];
}

/** Signed-in accounts may pull, push and delete everywhere; anonymous requests may do nothing. */
export const DEFAULT_ACCESS: AccessRule[] = [{ account: '*', name: '*', actions: ['pull', 'push', 'delete'] }];

export class AccessList {
  private readonly rules: { account: string; name: RegExp; actions: Set<string> }[];

  constructor(rules: AccessRule[]) {
    this.rules = rules.map((r) => ({
      account: r.account,
      name: new RegExp(`^${r.name.split('*').map(escapeRe).join('.*')}$`),
      actions: new Set(r.actions.includes('*') ? ['pull', 'push', 'delete'] : r.actions),
    }));
  }

  /** The actions of `wanted` that `user` (undefined: anonymous) may do on `repo`. */
  granted(user: string | undefined, repo: string, wanted: string[]): string[] {
    const mine = this.rules.filter((r) => r.account === '' || (user !== undefined && (r.account === '*' || r.account === user)));
    return wanted.filter((a) => mine.some((r) => r.actions.has(a) && r.name.test(repo)));
  }
}

const escapeRe = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** An htpasswd file's users, with bcrypt hashes (the only kind distribution accepts too). */
export class Htpasswd {
  private readonly users = new Map<string, string>();

  constructor(readonly path: string) {
    for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      const i = t.indexOf(':');
      if (i <= 0) throw new Error(`${path}: a line is not user:hash`);
      const hash = t.slice(i + 1);
      if (!/^\$2[aby]\$\d\d\$/.test(hash)) throw new Error(`${path}: the hash of ${t.slice(0, i)} is not bcrypt (htpasswd -B makes one)`);
      this.users.set(t.slice(0, i), hash);
    }
  }

  check(user: string, password: string): boolean {
    const hash = this.users.get(user);
    return hash !== undefined && compareSync(password, hash);
  }
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? undefined : { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

const unauthorized = (challenge: string, message = 'authentication required', detail?: unknown) =>
  new RegistryError('UNAUTHORIZED', message, detail, { 'WWW-Authenticate': challenge });

export class BasicAuth implements Authorizer {
  constructor(
    private readonly users: Htpasswd,
    private readonly access: AccessList,
    private readonly realm = 'berth-registry',
  ) {}

  private user(req: IncomingMessage): string | undefined {
    const c = basicCredentials(req);
    if (!c) return undefined;
    if (!this.users.check(c.user, c.password)) throw unauthorized(`Basic realm="${this.realm}"`, 'invalid username or password');
    return c.user;
  }

  async check(req: IncomingMessage, access: Access | undefined, _catalog: boolean): Promise<string | undefined> {
    const user = this.user(req);
    if (!access) {
      // /v2/ always challenges an anonymous request, even when everyone may pull something:
      // clients learn there whether to send credentials (skopeo sends none after a 200), and
      // a login is checked there. Anonymous pulls still pass the repository checks below.
      if (user === undefined) throw unauthorized(`Basic realm="${this.realm}"`);
      return user;
    }
    const granted = this.access.granted(user, access.repo, access.actions);
    if (granted.length < access.actions.length) {
      if (user === undefined) throw unauthorized(`Basic realm="${this.realm}"`, 'authentication required', access);
      throw new RegistryError('DENIED', 'requested access to the resource is denied', access);
    }
    return user;
  }

  async allows(req: IncomingMessage, access: Access): Promise<boolean> {
    try {
      return this.access.granted(this.user(req), access.repo, access.actions).length === access.actions.length;
    } catch {
      return false;
    }
  }

  async extraRoute(): Promise<boolean> {
    return false;
  }
}

export interface TokenOptions {
  users: Htpasswd;
  access: AccessList;
  key: TokenKey;
  service: string;
  issuer: string;
  /** The token endpoint's URL; by default /token on the host the client asked for. */
  realm?: string;
  /** Seconds a token lives. */
  expiration: number;
  tls: boolean;
}

export const TOKEN_PATH = '/token';

export class TokenAuth implements Authorizer {
  constructor(private readonly o: TokenOptions) {}

  private realm(req: IncomingMessage): string {
    return this.o.realm ?? `${this.o.tls ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}${TOKEN_PATH}`;
  }

  private challenge(req: IncomingMessage, scope?: string, error?: string): string {
    return `Bearer realm="${this.realm(req)}",service="${this.o.service}"${scope ? `,scope="${scope}"` : ''}${error ? `,error="${error}"` : ''}`;
  }

  private claims(req: IncomingMessage): { sub: string; access: AccessClaim[] } | undefined {
    const h = req.headers.authorization;
    if (!h || !/^bearer /i.test(h)) return undefined;
    return this.o.key.verify(h.slice(7).trim(), { iss: this.o.issuer, aud: this.o.service });
  }

  async check(req: IncomingMessage, access: Access | undefined, catalog: boolean): Promise<string | undefined> {
    const c = this.claims(req);
    const bad = req.headers.authorization !== undefined && /^bearer /i.test(req.headers.authorization) && !c;
    if (!access && !catalog) {
      if (!c) throw unauthorized(this.challenge(req, undefined, bad ? 'invalid_token' : undefined));
      return c.sub || undefined;
    }
    const type = catalog ? 'registry' : 'repository';
    const name = catalog ? 'catalog' : access!.repo;
    const wanted = catalog ? ['*'] : access!.actions;
    const have = c?.access.filter((a) => a.type === type && a.name === name).flatMap((a) => a.actions) ?? [];
    if (wanted.every((a) => have.includes(a))) return c!.sub || undefined;
    const scope = `${type}:${name}:${wanted.join(',')}`;
    throw unauthorized(this.challenge(req, scope, c ? 'insufficient_scope' : bad ? 'invalid_token' : undefined), 'authentication required', [{ Type: type, Name: name, Action: wanted.join(',') }]);
  }

  async allows(req: IncomingMessage, access: Access): Promise<boolean> {
    const c = this.claims(req);
    const have = c?.access.filter((a) => a.type === 'repository' && a.name === access.repo).flatMap((a) => a.actions) ?? [];
    // A token for the catalog names no repositories: the catalog lists what its account may pull.
    if (have.length === 0 && c) return this.o.access.granted(c.sub || undefined, access.repo, access.actions).length === access.actions.length;
    return access.actions.every((a) => have.includes(a));
  }

  /** The token endpoint: GET with basic credentials (or none), or POST with a password grant. */
  async extraRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname !== TOKEN_PATH) return false;
    let user: string | undefined;
    let params = url.searchParams;
    if (req.method === 'POST') {
      const body = await readForm(req);
      params = body;
      if (body.get('grant_type') !== 'password') return tokenError(res, 400, 'unsupported_grant_type', 'only the password grant is supported');
      const u = body.get('username') ?? '';
      if (!this.o.users.check(u, body.get('password') ?? '')) return tokenError(res, 401, 'invalid_grant', 'invalid username or password');
      user = u;
    } else if (req.method === 'GET') {
      req.resume();
      const c = basicCredentials(req);
      if (c) {
        if (!this.o.users.check(c.user, c.password)) {
          res.setHeader('WWW-Authenticate', 'Basic realm="berth-registry-token"');
          return tokenError(res, 401, 'unauthorized', 'invalid username or password');
        }
        user = c.user;
      }
    } else {
      req.resume();
      return tokenError(res, 405, 'unsupported', 'GET or POST');
    }
    if (params.get('service') && params.get('service') !== this.o.service) return tokenError(res, 400, 'invalid_request', `unknown service ${params.get('service')}`);
    const access: AccessClaim[] = [];
    for (const scope of params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',');
      if (type === 'repository') {
        const granted = this.o.access.granted(user, name, actions);
        access.push({ type, name, actions: granted });
      } else if (type === 'registry' && name === 'catalog' && user !== undefined) {
        access.push({ type, name, actions: ['*'] });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const token = this.o.key.sign({ iss: this.o.issuer, sub: user ?? '', aud: this.o.service, iat: now, nbf: now - 1, exp: now + this.o.expiration, access });
    const body = JSON.stringify({ token, access_token: token, expires_in: this.o.expiration, issued_at: new Date(now * 1000).toISOString() });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
}

function tokenError(res: ServerResponse, status: number, error: string, description: string): true {
  const body = JSON.stringify({ error, error_description: description });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 << 10) throw new RegistryError('UNSUPPORTED', 'token request too large');
    parts.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(parts).toString('utf8'));
}
