/**
 * `berth registry serve --config FILE`: YAML (or JSON, which YAML reads too). Flags given on the
 * command line win over the file. Everything is checked here, so a bad file fails at start with
 * the field it is about, not at the first request.
 *
 *   addr: 127.0.0.1:5000
 *   root: /var/lib/berth-registry
 *   tls: { cert: cert.pem, key: key.pem }
 *   auth:                         # at most one of:
 *     htpasswd: { path: users.htpasswd, realm: berth-registry }
 *     token:                      # bearer tokens from this server's own /token
 *       htpasswd: users.htpasswd  # the accounts /token signs in
 *       service: berth-registry   # the tokens' audience
 *       issuer: berth-registry
 *       realm: https://reg.example/token   # default: /token on the host the client used
 *       key: token-key.pem        # EC P-256; default <root>/token-key.pem, made on first start
 *       expiration: 300           # seconds
 *   access:                       # default: signed-in accounts may pull, push and delete anything
 *     - { account: alice, name: "*", actions: [pull, push, delete] }
 *     - { account: "", name: "public/*", actions: [pull] }   # "" is everyone, anonymous too
 */
import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Authorizer } from './access';
import { AccessList, type AccessRule, BasicAuth, DEFAULT_ACCESS, Htpasswd, TokenAuth } from './auth';
import { TokenKey } from './jwt';

export interface RegistryConfig {
  addr: string;
  root: string;
  tls?: { cert: string; key: string };
  auth?: { htpasswd: { path: string; realm: string } } | { token: { htpasswd: string; service: string; issuer: string; realm?: string; key?: string; expiration: number } };
  access: AccessRule[];
}

export class ConfigError extends Error {}

type Doc = Record<string, unknown>;

const obj = (v: unknown, where: string): Doc => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${where}: want a mapping`);
  return v as Doc;
};

function str(d: Doc, key: string, where: string, fallback?: string): string {
  const v = d[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new ConfigError(`${where}.${key} is required`);
    return fallback;
  }
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}.${key}: want a non-empty string`);
  return v;
}

function only(d: Doc, keys: string[], where: string): void {
  for (const k of Object.keys(d)) if (!keys.includes(k)) throw new ConfigError(`${where}: unknown field ${JSON.stringify(k)}`);
}

/** Reads a config file; relative paths in it are relative to the file. */
export function loadConfig(path: string | undefined, defaults: { addr: string; root: string }): RegistryConfig {
  let doc: Doc = {};
  let base = process.cwd();
  if (path) {
    base = dirname(resolve(path));
    try {
      doc = obj(parse(fs.readFileSync(path, 'utf8')), 'config');
    } catch (e) {
      throw new ConfigError(`${path}: ${(e as Error).message}`);
    }
  }
  const at = (p: string) => resolve(base, p);
  only(doc, ['addr', 'root', 'tls', 'auth', 'access'], 'config');
  const cfg: RegistryConfig = { addr: str(doc, 'addr', 'config', defaults.addr), root: at(str(doc, 'root', 'config', defaults.root)), access: DEFAULT_ACCESS };
  if (doc.tls !== undefined) {
    const t = obj(doc.tls, 'tls');
    only(t, ['cert', 'key'], 'tls');
    cfg.tls = { cert: at(str(t, 'cert', 'tls')), key: at(str(t, 'key', 'tls')) };
  }
  const auth = obj(doc.auth, 'auth');
  only(auth, ['htpasswd', 'token'], 'auth');
  if (auth.htpasswd !== undefined && auth.token !== undefined) throw new ConfigError('auth: htpasswd and token exclude each other');
  if (auth.htpasswd !== undefined) {
    const h = obj(auth.htpasswd, 'auth.htpasswd');
    only(h, ['path', 'realm'], 'auth.htpasswd');
    cfg.auth = { htpasswd: { path: at(str(h, 'path', 'auth.htpasswd')), realm: str(h, 'realm', 'auth.htpasswd', 'berth-registry') } };
  } else if (auth.token !== undefined) {
    const t = obj(auth.token, 'auth.token');
    only(t, ['htpasswd', 'service', 'issuer', 'realm', 'key', 'expiration'], 'auth.token');
    const expiration = t.expiration ?? 300;
    if (typeof expiration !== 'number' || !Number.isInteger(expiration) || expiration < 10) throw new ConfigError('auth.token.expiration: want whole seconds, at least 10');
    cfg.auth = {
      token: {
        htpasswd: at(str(t, 'htpasswd', 'auth.token')),
        service: str(t, 'service', 'auth.token', 'berth-registry'),
        issuer: str(t, 'issuer', 'auth.token', 'berth-registry'),
        ...(t.realm !== undefined ? { realm: str(t, 'realm', 'auth.token') } : {}),
        ...(t.key !== undefined ? { key: at(str(t, 'key', 'auth.token')) } : {}),
        expiration,
      },
    };
  }
  if (doc.access !== undefined) {
    if (!Array.isArray(doc.access)) throw new ConfigError('access: want a list');
    cfg.access = doc.access.map((r, i) => {
      const d = obj(r, `access[${i}]`);
      only(d, ['account', 'name', 'actions'], `access[${i}]`);
      if (typeof d.account !== 'string') throw new ConfigError(`access[${i}].account: want a string ("" for everyone)`);
      const actions = d.actions;
      if (!Array.isArray(actions) || !actions.every((a) => ['pull', 'push', 'delete', '*'].includes(a as string))) throw new ConfigError(`access[${i}].actions: want a list of pull, push, delete or *`);
      return { account: d.account, name: str(d, 'name', `access[${i}]`), actions: actions as string[] };
    });
  }
  return cfg;
}

/** The authorizer a config asks for (open access when it names none). */
export function authorizerFor(cfg: RegistryConfig): Authorizer | undefined {
  const access = new AccessList(cfg.access);
  if (!cfg.auth) return undefined;
  if ('htpasswd' in cfg.auth) return new BasicAuth(new Htpasswd(cfg.auth.htpasswd.path), access, cfg.auth.htpasswd.realm);
  const t = cfg.auth.token;
  fs.mkdirSync(cfg.root, { recursive: true });
  return new TokenAuth({
    users: new Htpasswd(t.htpasswd),
    access,
    key: TokenKey.load(t.key ?? join(cfg.root, 'token-key.pem')),
    service: t.service,
    issuer: t.issuer,
    ...(t.realm ? { realm: t.realm } : {}),
    expiration: t.expiration,
    tls: cfg.tls !== undefined,
  });
}
