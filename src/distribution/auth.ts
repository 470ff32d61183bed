/**
 * Registry authentication: the challenges a registry sends (WWW-Authenticate), Docker's bearer
 * token flow (realm/service/scope, anonymous or with credentials; OAuth2 refresh tokens for
 * identity tokens) and basic auth. Credentials arrive per request (X-Registry-Auth) and are
 * never stored by the daemon; tokens are cached per realm, service, scopes and user until they
 * expire.
 */
import { createHash } from 'node:crypto';
import { BerthError } from '../errors';
import { httpRequest, readBody } from './http';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token from an earlier login. */
  identityToken?: string;
  /** A bearer token to send as is. */
  registryToken?: string;
}

export interface Challenge {
  scheme: string; // lower case: bearer, basic
  params: Record<string, string>;
}

/** Parses one or more challenges: `Bearer realm="…",service="…",scope="…"`, `Basic realm="…"`. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    const re = /\s*([A-Za-z][\w-]*)(?:\s+|$)((?:\s*[\w-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?)*)/y;
    for (let m = re.exec(h); m && m[0] !== ''; m = re.exec(h)) {
      const params: Record<string, string> = {};
      const pr = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      for (let p = pr.exec(m[2]); p; p = pr.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
      out.push({ scheme: m[1].toLowerCase(), params });
    }
  }
  return out;
}

export function basicAuth(c: Credentials): string | undefined {
  if (!c.username && !c.password) return undefined;
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Tokens by realm, service, scopes and user. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  async token(challenge: Challenge, scopes: string[], creds: Credentials, insecureTls: boolean): Promise<string> {
    if (creds.registryToken) return creds.registryToken;
    const realm = challenge.params.realm;
    if (!realm) throw new BerthError('unauthorized', 'unauthorized: the registry sent a bearer challenge without a realm');
    const service = challenge.params.service ?? '';
    // Keyed by a hash of the secret too: a wrong password must never reuse a right one's token.
    const secret = createHash('sha256').update(`${creds.username ?? ''}\0${creds.password ?? ''}\0${creds.identityToken ?? ''}`).digest('hex');
    const key = JSON.stringify([realm, service, [...scopes].sort(), secret]);
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now()) return hit.token;
    const { token, expiresIn } = await fetchToken(realm, service, scopes, creds, insecureTls);
    // Refresh a little early: a token that expires mid-request fails the request.
    this.tokens.set(key, { token, expires: Date.now() + Math.max(expiresIn - 10, 5) * 1000 });
    if (this.tokens.size > 1000) this.tokens.delete(this.tokens.keys().next().value!);
    return token;
  }
}

async function fetchToken(realm: string, service: string, scopes: string[], creds: Credentials, insecureTls: boolean): Promise<{ token: string; expiresIn: number }> {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new BerthError('unauthorized', `unauthorized: invalid token realm ${JSON.stringify(realm)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BerthError('unauthorized', `unauthorized: token realm must be http(s): ${realm}`);
  let res;
  if (creds.identityToken) {
    // OAuth2 refresh-token grant, as Docker does for identity tokens.
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth', service });
    if (scopes.length) form.set('scope', scopes.join(' '));
    res = await httpRequest({
      method: 'POST', url, insecureTls, body: Buffer.from(form.toString()),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (creds.username) url.searchParams.set('account', creds.username);
    const auth = basicAuth(creds);
    res = await httpRequest({ method: 'GET', url, insecureTls, headers: auth ? { Authorization: auth } : {} });
  }
  const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
  if (res.statusCode === 401 || res.statusCode === 403) {
    throw new BerthError('unauthorized', `Get "${realm}": unauthorized: ${serverMessage(body) ?? 'incorrect username or password'}`);
  }
  if (res.statusCode !== 200) {
    throw new BerthError('unauthorized', `Get "${realm}": token request failed with status ${res.statusCode}${serverMessage(body) ? `: ${serverMessage(body)}` : ''}`);
  }
  let doc: { token?: string; access_token?: string; expires_in?: number };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BerthError('unauthorized', `Get "${realm}": unable to decode token response`);
  }
  const token = doc.access_token || doc.token;
  if (!token) throw new BerthError('unauthorized', `Get "${realm}": authorization server did not include a token in the response`);
  // The spec's default lifetime is 60 s when the server does not say.
  return { token, expiresIn: typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60 };
}

/** The message of a registry-style or OAuth-style error body, if any. */
export function serverMessage(body: Buffer): string | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { message?: string; code?: string }[]; error?: string; details?: string; message?: string };
    if (doc.errors?.[0]) return doc.errors[0].message || doc.errors[0].code?.toLowerCase();
    return doc.details || doc.error || doc.message;
  } catch {
    return undefined;
  }
}

