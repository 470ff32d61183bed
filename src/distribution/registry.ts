/**
 * The registry client (distribution spec v2 / OCI distribution 1.1): where a registry is
 * (Docker Hub's names, mirrors, insecure and loopback registries over plain HTTP), how to get
 * in (auth.ts), and the requests pull and push make, one repository at a time.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { BerthError } from '../errors';
import { type Digest, sha256 } from '../store/content-store';
import { DEFAULT_DOMAIN } from '../wire/reference';
import { basicAuth, type Challenge, type Credentials, parseChallenges, serverMessage, TokenCache } from './auth';
import { type Body, discard, httpRequest, readBody, TransportError } from './http';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest';

/** Docker Hub's API host: docker.io and index.docker.io are names for it. */
export const HUB_REGISTRY = 'registry-1.docker.io';

export interface RegistryConfig {
  /** --registry-mirror: base URLs tried before Docker Hub for pulls. */
  mirrors: string[];
  /** --insecure-registry: host[:port] or CIDR; loopback is always insecure, as in Docker. */
  insecure: string[];
}

export interface Endpoint {
  base: URL;
  insecureTls: boolean;
  mirror: boolean;
}

export class Registries {
  readonly tokens = new TokenCache();
  /** host → scheme learnt by probing an insecure registry (https first, then http). */
  private readonly schemes = new Map<string, string>();

  constructor(private readonly config: RegistryConfig) {
    for (const m of config.mirrors) {
      const u = new URL(m);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BerthError('invalid', `invalid mirror: unsupported scheme "${u.protocol.slice(0, -1)}" in "${m}"`);
    }
  }

  isInsecure(host: string): boolean {
    const name = hostname(host);
    if (name === 'localhost' || name === '::1' || /^127\./.test(name)) return true;
    return this.config.insecure.some((entry) => entry === host || entry === name || inCidr(name, entry));
  }

  /** Where to go for `domain`, in order: mirrors first for Docker Hub pulls. */
  async endpoints(domain: string, push: boolean): Promise<Endpoint[]> {
    if (domain === DEFAULT_DOMAIN) {
      const hub: Endpoint = { base: new URL(`https://${HUB_REGISTRY}`), insecureTls: false, mirror: false };
      if (push) return [hub];
      const mirrors = this.config.mirrors.map((m) => {
        const u = new URL(m);
        return { base: new URL(u.origin), insecureTls: this.isInsecure(u.host), mirror: true };
      });
      return [...mirrors, hub];
    }
    if (!this.isInsecure(domain)) return [{ base: new URL(`https://${domain}`), insecureTls: false, mirror: false }];
    return [{ base: new URL(`${await this.schemeOf(domain)}//${domain}`), insecureTls: true, mirror: false }];
  }

  /** An insecure registry speaks HTTPS (certificate unchecked) if it can, plain HTTP otherwise. */
  private async schemeOf(domain: string): Promise<string> {
    const known = this.schemes.get(domain);
    if (known) return known;
    let scheme = 'https:';
    try {
      discard(await httpRequest({ method: 'GET', url: new URL(`https://${domain}/v2/`), insecureTls: true }));
    } catch (e) {
      if (!(e instanceof TransportError)) throw e;
      scheme = 'http:';
    }
    this.schemes.set(domain, scheme);
    return scheme;
  }

  /**
   * POST /auth: checks credentials against a registry's /v2/. Returns the identity token when
   * the registry hands one out (Docker Hub's OAuth flow); registries that need no auth accept.
   */
  async login(domain: string, creds: Credentials): Promise<void> {
    const [endpoint] = (await this.endpoints(domain, true)).filter((e) => !e.mirror);
    const url = new URL('/v2/', endpoint.base);
    const res = await httpRequest({ method: 'GET', url, insecureTls: endpoint.insecureTls });
    discard(res);
    if (res.statusCode === 200) return;
    if (res.statusCode !== 401) throw new BerthError('unavailable', `Get "${url.href}": unexpected status ${res.statusCode}`);
    const challenge = parseChallenges(res.headers['www-authenticate'])[0];
    if (!challenge) throw new BerthError('unauthorized', `Get "${url.href}": unauthorized: no authentication challenge`);
    if (challenge.scheme === 'bearer') {
      if (!creds.username && !creds.identityToken) throw new BerthError('unauthorized', `Get "${url.href}": unauthorized: authentication required`);
      const token = await this.tokens.token(challenge, [], creds, endpoint.insecureTls);
      const again = await httpRequest({ method: 'GET', url, insecureTls: endpoint.insecureTls, headers: { Authorization: `Bearer ${token}` } });
      discard(again);
      if (again.statusCode !== 200) throw new BerthError('unauthorized', `Get "${url.href}": unauthorized: incorrect username or password`);
      return;
    }
    const auth = basicAuth(creds);
    const again = auth ? await httpRequest({ method: 'GET', url, insecureTls: endpoint.insecureTls, headers: { Authorization: auth } }) : undefined;
    if (again) discard(again);
    if (again?.statusCode !== 200) throw new BerthError('unauthorized', `Get "${url.href}": unauthorized: incorrect username or password`);
  }
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string | undefined;
  digest: Digest;
}

/** Statuses worth another try with the same request. */
const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);
const ATTEMPTS = 3;

export class Repository {
  private authorization: string | undefined;
  private authorized = false;
  private scopes: string[];

  constructor(
    private readonly registries: Registries,
    readonly endpoint: Endpoint,
    readonly path: string,
    private readonly creds: Credentials,
    actions: string,
  ) {
    this.scopes = [`repository:${path}:${actions}`];
  }

  get host(): string {
    return this.endpoint.base.host;
  }

  /** Adds pull access to another repository (for cross-repository mounts); re-authorizes. */
  addPullScope(path: string): void {
    const s = `repository:${path}:pull`;
    if (this.scopes.includes(s)) return;
    this.scopes.push(s);
    this.authorized = false;
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.request('GET', `manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT.join(', ') } });
    if (res.statusCode !== 200) throw await this.failure(res, `manifest for ${reference}`);
    const bytes = await readBody(res, MAX_MANIFEST_BYTES).catch((e: Error) => {
      throw new BerthError('invalid', `manifest ${reference}: ${e.message}`);
    });
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new BerthError('invalid', `manifest verification failed for digest ${reference}: got ${digest}`);
    }
    return { bytes, mediaType: headerOf(res, 'content-type'), digest };
  }

  /** The repository's tags (following the Link header's pages). */
  async listTags(): Promise<string[]> {
    const out: string[] = [];
    let target: string | URL = 'tags/list?n=1000';
    for (let page = 0; page < 100; page++) {
      const res = await this.request('GET', target, {});
      if (res.statusCode !== 200) throw await this.failure(res, `tags of ${this.path}`);
      const doc = JSON.parse((await readBody(res, 16 << 20)).toString('utf8')) as { tags?: string[] | null };
      out.push(...(doc.tags ?? []));
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(headerOf(res, 'link') ?? '')?.[1];
      if (!next) break;
      target = new URL(next, this.endpoint.base);
    }
    return out;
  }

  /** The blob's bytes from `offset` on (a resumed download), following redirects to blob storage. */
  async openBlob(digest: Digest, offset = 0): Promise<AsyncIterable<Buffer>> {
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await this.request('GET', `blobs/${digest}`, { headers, redirects: true });
    if (res.statusCode === 206 || (res.statusCode === 200 && offset === 0)) return res;
    // A server that ignores the range sends everything again: skip what we already have.
    if (res.statusCode === 200) return skipPrefix(res, offset);
    throw await this.failure(res, `blob ${digest}`);
  }

  async blobExists(digest: Digest): Promise<boolean> {
    const res = await this.request('HEAD', `blobs/${digest}`, {});
    discard(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await this.failure(res, `blob ${digest}`);
  }

  /** Cross-repository mount; returns undefined when mounted, else the upload it started instead. */
  async mountBlob(digest: Digest, from: string): Promise<URL | undefined> {
    const res = await this.request('POST', `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {});
    discard(res);
    if (res.statusCode === 201) return undefined;
    if (res.statusCode === 202) return this.location(res);
    throw await this.failure(res, `mount of ${digest}`);
  }

  async startUpload(): Promise<URL> {
    const res = await this.request('POST', 'blobs/uploads/', {});
    discard(res);
    if (res.statusCode !== 202) throw await this.failure(res, 'blob upload');
    return this.location(res);
  }

  /** Streams a chunk (or the whole blob, without Content-Range) into an upload; returns where to go next. */
  async uploadChunk(location: URL, body: Body, range?: { start: number; end: number }): Promise<URL> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (range) {
      headers['Content-Range'] = `${range.start}-${range.end}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
    }
    const res = await this.request('PATCH', location, { headers, body, retry: false });
    discard(res);
    if (res.statusCode !== 202) throw await this.failure(res, 'blob upload');
    return this.location(res);
  }

  /** How many bytes of an upload the registry holds (after an interrupted PATCH). */
  async uploadOffset(location: URL): Promise<number> {
    const res = await this.request('GET', location, {});
    discard(res);
    if (res.statusCode !== 204 && res.statusCode !== 200) throw await this.failure(res, 'upload status');
    const m = /^(?:bytes=)?0-(\d+)$/.exec(headerOf(res, 'range') ?? '');
    return m ? Number(m[1]) + 1 : 0;
  }

  /** Ends an upload, with its last bytes (monolithic: all of them) or none. */
  async finishUpload(location: URL, digest: Digest, body?: Buffer | (() => AsyncIterable<Buffer>), size?: number): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (body === undefined) headers['Content-Length'] = '0';
    else if (size !== undefined) headers['Content-Length'] = String(size);
    const res = await this.request('PUT', url, { headers, body, retry: false });
    discard(res);
    if (res.statusCode !== 201) throw await this.failure(res, `blob ${digest}`);
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    const res = await this.request('PUT', `manifests/${reference}`, { headers: { 'Content-Type': mediaType }, body: bytes });
    discard(res);
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await this.failure(res, `manifest ${reference}`);
  }

  /**
   * One request with auth: the registry's challenge is learnt from /v2/ before the first call
   * (so a streamed body is never sent twice) and again from any 401. Transport errors and
   * transient statuses are retried for bodies that can be sent again.
   */
  async request(method: string, target: string | URL, opts: { headers?: Record<string, string>; body?: Body; redirects?: boolean; retry?: boolean }): Promise<IncomingMessage> {
    const url = typeof target === 'string' ? new URL(`/v2/${this.path}/${target}`, this.endpoint.base) : target;
    if (!this.authorized) await this.authorize();
    let reauthorized = false;
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await this.send(method, url, opts);
      } catch (e) {
        if (opts.retry !== false && attempt < ATTEMPTS && e instanceof TransportError) {
          await pause(attempt);
          continue;
        }
        throw e;
      }
      if (res.statusCode === 401 && !reauthorized) {
        const challenge = parseChallenges(res.headers['www-authenticate'])[0];
        if (challenge) {
          discard(res);
          reauthorized = true;
          // A scope the registry names (e.g. for a mount source) joins ours.
          const scope = challenge.params.scope;
          if (scope) for (const s of scope.split(' ')) if (!this.scopes.includes(s)) this.scopes.push(s);
          await this.useChallenge(challenge);
          continue;
        }
      }
      if (opts.retry !== false && attempt < ATTEMPTS && TRANSIENT.has(res.statusCode ?? 0)) {
        discard(res);
        await pause(attempt);
        continue;
      }
      return res;
    }
  }

  private async send(method: string, url: URL, opts: { headers?: Record<string, string>; body?: Body; redirects?: boolean }): Promise<IncomingMessage> {
    const headers = { ...opts.headers, ...(this.authorization ? { Authorization: this.authorization } : {}) };
    let res = await httpRequest({ method, url, headers, body: opts.body, insecureTls: this.endpoint.insecureTls });
    for (let hops = 0; opts.redirects && hops < 5 && [301, 302, 303, 307, 308].includes(res.statusCode ?? 0); hops++) {
      const next = new URL(headerOf(res, 'location') ?? '', url);
      discard(res);
      // Blob storage behind a redirect gets no registry credentials.
      const sameHost = next.host === this.endpoint.base.host;
      const h = { ...opts.headers, ...(sameHost && this.authorization ? { Authorization: this.authorization } : {}) };
      res = await httpRequest({ method, url: next, headers: h, insecureTls: this.endpoint.insecureTls });
    }
    return res;
  }

  private async authorize(): Promise<void> {
    const url = new URL('/v2/', this.endpoint.base);
    const res = await httpRequest({ method: 'GET', url, insecureTls: this.endpoint.insecureTls });
    discard(res);
    if (res.statusCode === 401) {
      const challenge = parseChallenges(res.headers['www-authenticate'])[0];
      if (challenge) await this.useChallenge(challenge);
    } else if (res.statusCode !== 200 && res.statusCode !== 404) {
      throw new BerthError('unavailable', `Get "${url.href}": registry answered ${res.statusCode}`);
    }
    this.authorized = true;
  }

  private async useChallenge(c: Challenge): Promise<void> {
    if (c.scheme === 'bearer') {
      this.authorization = `Bearer ${await this.registries.tokens.token(c, this.scopes, this.creds, this.endpoint.insecureTls)}`;
    } else if (c.scheme === 'basic') {
      this.authorization = basicAuth(this.creds);
    }
    this.authorized = true;
  }

  private location(res: IncomingMessage): URL {
    const loc = headerOf(res, 'location');
    if (!loc) throw new BerthError('internal', 'registry answered an upload request without a Location');
    return new URL(loc, this.endpoint.base);
  }

  /** A registry's error answer as a BerthError with Docker's wording. */
  async failure(res: IncomingMessage, what: string): Promise<BerthError> {
    const body = await readBody(res, 1 << 16).catch(() => Buffer.alloc(0));
    const msg = serverMessage(body);
    const code = (() => {
      try {
        return (JSON.parse(body.toString('utf8')) as { errors?: { code?: string }[] }).errors?.[0]?.code;
      } catch {
        return undefined;
      }
    })();
    const detail = code ? `${code.toLowerCase().replace(/_/g, ' ')}: ${msg ?? ''}`.replace(/: $/, '') : msg;
    switch (res.statusCode) {
      case 401:
        return new BerthError('unauthorized', `unauthorized: ${msg ?? 'authentication required'}`);
      case 403:
        return new BerthError('forbidden', `denied: ${msg ?? 'requested access to the resource is denied'}`);
      case 404:
        return new BerthError('not-found', `${what} not found: ${detail ?? 'not found'}`);
      default:
        return new BerthError(res.statusCode && res.statusCode < 500 ? 'invalid' : 'unavailable', `${what}: registry answered ${res.statusCode}${detail ? `: ${detail}` : ''}`);
    }
  }
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

function inCidr(ip: string, cidr: string): boolean {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m || isIP(ip) !== 4) return false;
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(m[1]) & mask);
}

const pause = (attempt: number) => new Promise((r) => setTimeout(r, attempt === 1 ? 200 : 1000));

/** A 200 answer to a ranged request, minus the first `n` bytes. */
async function* skipPrefix(res: AsyncIterable<Buffer>, n: number): AsyncGenerator<Buffer> {
  let left = n;
  for await (const chunk of res) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}
