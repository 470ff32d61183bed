/**
 * The distribution spec's endpoints over RegistryStorage: base, blobs (HEAD/GET with Range,
 * DELETE), uploads (POST monolithic or session, cross-repository mount, PATCH chunks with
 * Content-Range, GET status, PUT to finish, DELETE), manifests (HEAD/GET/PUT/DELETE by tag or
 * digest), tags list and _catalog with pagination, referrers. Every input is checked here, before
 * storage sees it; failures are RegistryErrors the server writes in the spec's shape.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseManifest, MAX_MANIFEST_BYTES, MediaType } from '../distribution/manifest';
import { messageOf } from '../errors';
import { regErr, RegistryError } from './errors';
import { sendFileBody } from './send-file';
import { checkDigest, checkName, checkReference, type Sha256 } from './names';
import type { ReferrerDescriptor, RegistryStorage, StoredManifest } from './storage';

/** What a request asks of a repository, for the authorizer. */
export interface Access {
  repo: string;
  actions: ('pull' | 'push' | 'delete')[];
}

export interface Route {
  /** undefined: the base endpoint or the catalog, which authorize on their own terms. */
  access?: Access;
  catalog?: boolean;
  run(): Promise<void>;
}

export interface Req {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  store: RegistryStorage;
  /** Whether the requester may pull `repo` (a mount's source, the catalog's entries). */
  mayPull(repo: string): Promise<boolean>;
}

const PATH = /^\/v2\/(.+?)\/(blobs\/uploads\/([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/;

/** The route for a request, or undefined for a path the spec does not have. */
export function route(r: Req): Route | undefined {
  const { req, url } = r;
  const method = req.method ?? 'GET';
  if (url.pathname === '/v2/' || url.pathname === '/v2') return { run: async () => send(r, 200, '{}', { 'Content-Type': 'application/json' }) };
  if (url.pathname === '/v2/_catalog') return { catalog: true, run: async () => only(method, ['GET'], () => catalog(r)) };
  const m = PATH.exec(url.pathname);
  if (!m) return undefined;
  const repo = checkName(decodeURIComponent(m[1]));
  const [, , kind, uploadId, blob, ref, subject] = m;
  const pull = { repo, actions: ['pull' as const] };
  const push = { repo, actions: ['pull' as const, 'push' as const] };
  if (kind.startsWith('blobs/uploads/')) {
    return { access: push, run: () => only(method, ['POST', 'GET', 'PATCH', 'PUT', 'DELETE'], () => (uploadId === '' ? (method === 'POST' ? startUpload(r, repo) : unsupported()) : upload(r, repo, uploadId, method))) };
  }
  if (blob !== undefined) {
    const digest = checkDigest(blob);
    if (method === 'DELETE') return { access: { repo, actions: ['delete'] }, run: () => deleteBlob(r, repo, digest) };
    return { access: pull, run: () => only(method, ['GET', 'HEAD'], () => getBlob(r, repo, digest)) };
  }
  if (ref !== undefined) {
    const reference = checkReference(decodeURIComponent(ref));
    if (method === 'PUT') return { access: push, run: () => putManifest(r, repo, reference) };
    if (method === 'DELETE') return { access: { repo, actions: ['delete'] }, run: () => deleteManifest(r, repo, reference) };
    return { access: pull, run: () => only(method, ['GET', 'HEAD'], () => getManifest(r, repo, reference)) };
  }
  if (subject !== undefined) return { access: pull, run: () => only(method, ['GET'], () => referrers(r, repo, checkDigest(subject))) };
  return { access: pull, run: () => only(method, ['GET'], () => tags(r, repo)) };
}

async function only(method: string, allowed: string[], fn: () => Promise<void>): Promise<void> {
  if (!allowed.includes(method)) unsupported();
  await fn();
}

function unsupported(): never {
  throw regErr('UNSUPPORTED', 'the operation is unsupported');
}

function send(r: Req, status: number, body: string | Buffer, headers: Record<string, string | number> = {}): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  r.res.writeHead(status, { 'Content-Length': b.length, ...headers });
  r.res.end(r.req.method === 'HEAD' ? undefined : b);
}

const json = (r: Req, status: number, doc: unknown, headers: Record<string, string> = {}) => send(r, status, JSON.stringify(doc), { 'Content-Type': 'application/json', ...headers });

// --- blobs ---

async function getBlob(r: Req, repo: string, digest: Sha256): Promise<void> {
  const size = r.store.repoBlobSize(repo, digest);
  if (size === undefined) throw regErr('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
  const headers: Record<string, string | number> = { 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${digest}"`, 'Cache-Control': 'max-age=31536000' };
  const range = parseRange(r.req.headers.range, size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', `range is not satisfiable for a blob of ${size} bytes`, undefined, { 'Content-Range': `bytes */${size}` });
  }
  const status = range ? 206 : 200;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
  headers['Content-Length'] = range ? range.end - range.start + 1 : size;
  for (const [k, v] of Object.entries(headers)) r.res.setHeader(k, v);
  r.res.statusCode = status;
  if (r.req.method === 'HEAD' || headers['Content-Length'] === 0) {
    r.res.end();
    return;
  }
  if (await sendFileBody(r.res, r.store.blobPath(digest), range?.start ?? 0, Number(headers['Content-Length']))) return;
  await pipe(r.store.openBlob(digest, range ?? undefined), r.res);
}

/** One `bytes=` range of RFC 9110 (several ranges are answered with the whole blob). */
function parseRange(h: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = h ? /^bytes=(\d*)-(\d*)$/.exec(h.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

async function deleteBlob(r: Req, repo: string, digest: Sha256): Promise<void> {
  if (!r.store.unlinkBlob(repo, digest)) throw regErr('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
  send(r, 202, '', { 'Docker-Content-Digest': digest });
}

// --- uploads ---

const uploadHeaders = (repo: string, id: string, size: number) => ({
  Location: `/v2/${repo}/blobs/uploads/${id}`,
  Range: `0-${Math.max(0, size - 1)}`,
  'Docker-Upload-UUID': id,
});

async function startUpload(r: Req, repo: string): Promise<void> {
  const q = r.url.searchParams;
  const mount = q.get('mount');
  const from = q.get('from');
  if (mount !== null && from !== null) {
    const digest = checkDigest(mount);
    let source: string | undefined;
    try {
      source = checkName(from);
    } catch {
      source = undefined;
    }
    // The mount is a link: the bytes are stored once whatever the number of repositories.
    if (source !== undefined && r.store.repoBlobSize(source, digest) !== undefined && (await r.mayPull(source))) {
      r.store.linkBlob(repo, digest);
      drain(r.req);
      send(r, 201, '', { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      return;
    }
  }
  const digest = q.get('digest');
  // Checked before the upload exists, so a malformed digest leaves no upload behind.
  const d = digest === null ? undefined : checkDigest(digest);
  const u = r.store.startUpload(repo);
  if (d !== undefined) {
    // Monolithic: the body is the whole blob.
    try {
      const done = await r.store.append(u, r.req, undefined, contentLength(r.req));
      await r.store.finish(done, d);
    } catch (e) {
      r.store.cancel(u);
      throw e;
    }
    send(r, 201, '', { Location: `/v2/${repo}/blobs/${d}`, 'Docker-Content-Digest': d });
    return;
  }
  drain(r.req);
  send(r, 202, '', { ...uploadHeaders(repo, u.id, 0), 'OCI-Chunk-Min-Length': 0 });
}

async function upload(r: Req, repo: string, id: string, method: string): Promise<void> {
  const u = r.store.upload(repo, id);
  if (method === 'GET') {
    drain(r.req);
    send(r, 204, '', uploadHeaders(repo, id, u.size));
    return;
  }
  if (method === 'DELETE') {
    r.store.cancel(u);
    send(r, 204, '');
    return;
  }
  if (method === 'POST') unsupported();
  const range = contentRange(r.req.headers['content-range']);
  const length = contentLength(r.req);
  // A chunk whose length disagrees with its range is refused before a byte of it is appended.
  if (range && length !== undefined && length !== range.end - range.start + 1) {
    throw new RegistryError('RANGE_INVALID', `Content-Length ${length} does not match Content-Range ${range.start}-${range.end}`, undefined, uploadHeaders(repo, id, u.size));
  }
  if (method === 'PATCH') {
    const after = await r.store.append(u, r.req, range?.start, contentLength(r.req));
    if (range && after.size !== range.end + 1) throw regErr('BLOB_UPLOAD_INVALID', `chunk ended at ${after.size - 1}, not ${range.end} as its Content-Range said`);
    send(r, 202, '', uploadHeaders(repo, id, after.size));
    return;
  }
  // PUT: an optional last chunk, then the digest that must match everything received.
  const digest = checkDigest(r.url.searchParams.get('digest'));
  const hasBody = (contentLength(r.req) ?? 0) > 0 || r.req.headers['transfer-encoding'] !== undefined;
  const last = hasBody ? await r.store.append(u, r.req, range?.start, contentLength(r.req)) : (drain(r.req), u);
  await r.store.finish(last, digest);
  send(r, 201, '', { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  return v === undefined ? undefined : Number(v);
}

/** A chunk's Content-Range: "<start>-<end>" (the spec's form) or "bytes <start>-<end>/<total>". */
function contentRange(v: string | undefined): { start: number; end: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(v.trim());
  if (!m || Number(m[2]) < Number(m[1])) throw new RegistryError('RANGE_INVALID', `invalid Content-Range ${JSON.stringify(v)}`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

// --- manifests ---

async function putManifest(r: Req, repo: string, ref: { tag: string } | { digest: Sha256 }): Promise<void> {
  const declared = contentLength(r.req);
  if (declared !== undefined && declared > MAX_MANIFEST_BYTES) {
    r.req.resume();
    throw new RegistryError('MANIFEST_TOO_LARGE', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  const bytes = await readAll(r.req, MAX_MANIFEST_BYTES);
  const contentType = r.req.headers['content-type'];
  let manifest;
  let doc: Record<string, unknown>;
  try {
    manifest = parseManifest(bytes, contentType);
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw regErr('MANIFEST_INVALID', `manifest invalid: ${messageOf(e)}`);
  }
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Sha256;
  if ('digest' in ref && ref.digest !== digest) throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest: ref.digest, actual: digest });
  // Everything it names must be here already: a pull of it must never find a hole.
  if (manifest.kind === 'image') {
    for (const d of [manifest.config, ...manifest.layers]) {
      if (d.urls?.length) continue; // foreign layers live elsewhere
      const size = r.store.repoBlobSize(repo, d.digest as Sha256);
      if (size === undefined) throw regErr('MANIFEST_BLOB_UNKNOWN', `blob ${d.digest} is not in ${repo}`, { digest: d.digest });
      if (size !== d.size) throw regErr('MANIFEST_INVALID', `blob ${d.digest} is ${size} bytes, not ${d.size} as the manifest says`);
    }
  } else {
    for (const d of manifest.manifests) {
      if (!r.store.manifest(repo, { digest: d.digest as Sha256 })) throw regErr('MANIFEST_BLOB_UNKNOWN', `manifest ${d.digest} is not in ${repo}`, { digest: d.digest });
    }
  }
  let subject: { digest: Sha256; referrer: ReferrerDescriptor } | undefined;
  const s = doc.subject as Record<string, unknown> | undefined;
  if (s && typeof s === 'object') {
    const sd = checkDigest(typeof s.digest === 'string' ? s.digest : undefined);
    const config = doc.config as Record<string, unknown> | undefined;
    const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : typeof config?.mediaType === 'string' ? config.mediaType : undefined;
    subject = {
      digest: sd,
      referrer: {
        mediaType: manifest.mediaType,
        digest,
        size: bytes.length,
        ...(artifactType ? { artifactType } : {}),
        ...(doc.annotations && typeof doc.annotations === 'object' ? { annotations: doc.annotations as Record<string, string> } : {}),
      },
    };
  }
  r.store.putManifest(repo, bytes, digest, manifest.mediaType, 'tag' in ref ? ref.tag : undefined, subject);
  send(r, 201, '', { Location: `/v2/${repo}/manifests/${digest}`, 'Docker-Content-Digest': digest, ...(subject ? { 'OCI-Subject': subject.digest } : {}) });
}

async function getManifest(r: Req, repo: string, ref: { tag: string } | { digest: Sha256 }): Promise<void> {
  let m = r.store.manifest(repo, ref);
  if (!m) {
    if (r.store.tags(repo) === undefined) throw regErr('NAME_UNKNOWN', 'repository name not known to registry', { name: repo });
    throw regErr('MANIFEST_UNKNOWN', 'manifest unknown', 'tag' in ref ? { tag: ref.tag } : { digest: ref.digest });
  }
  m = negotiate(r, repo, m);
  const headers = { 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"`, 'Content-Length': m.size };
  r.res.writeHead(200, headers);
  if (r.req.method === 'HEAD') {
    r.res.end();
    return;
  }
  await pipe(r.store.openBlob(m.digest), r.res);
}

const INDEX_TYPES: string[] = [MediaType.dockerList, MediaType.ociIndex];
const IMAGE_TYPES: string[] = [MediaType.dockerManifest, MediaType.ociManifest];

/**
 * Content negotiation as distribution does it for clients that name what they take (no Accept,
 * or one with a wildcard, takes anything): a client that takes no index but an image manifest
 * gets an index's linux/amd64 image instead (the old docker clients' case); a manifest of a type
 * the client does not take is, for it, unknown.
 */
function negotiate(r: Req, repo: string, m: StoredManifest): StoredManifest {
  const accept = String(r.req.headers.accept ?? '')
    .split(',')
    .map((t) => t.split(';')[0].trim())
    .filter((t) => t !== '');
  if (accept.length === 0 || accept.some((t) => t === '*/*' || t === 'application/*') || accept.includes(m.mediaType)) return m;
  if (INDEX_TYPES.includes(m.mediaType) && accept.some((t) => IMAGE_TYPES.includes(t))) {
    let index;
    try {
      index = parseManifest(fs.readFileSync(r.store.blobPath(m.digest)), m.mediaType);
    } catch {
      index = undefined;
    }
    const child = index?.kind === 'index' ? index.manifests.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64' && accept.includes(d.mediaType)) : undefined;
    const stored = child ? r.store.manifest(repo, { digest: child.digest as Sha256 }) : undefined;
    if (stored) return stored;
  }
  throw regErr('MANIFEST_UNKNOWN', `the manifest is a ${m.mediaType}, which the request's Accept header does not take`, { digest: m.digest, mediaType: m.mediaType });
}

async function deleteManifest(r: Req, repo: string, ref: { tag: string } | { digest: Sha256 }): Promise<void> {
  const ok = 'tag' in ref ? r.store.deleteTag(repo, ref.tag) : r.store.deleteManifest(repo, ref.digest);
  if (!ok) throw regErr('MANIFEST_UNKNOWN', 'manifest unknown', ref);
  send(r, 202, '');
}

// --- listings ---

/** The spec's pagination: sorted, after `last`, at most `n`; a Link header when more follow. */
function page(r: Req, all: string[], path: string): { items: string[]; headers: Record<string, string> } {
  const q = r.url.searchParams;
  const last = q.get('last');
  const nRaw = q.get('n');
  const n = nRaw === null ? undefined : Number(nRaw);
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw regErr('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: nRaw });
  let items = last !== null ? all.filter((t) => t > last) : all;
  const headers: Record<string, string> = {};
  if (n !== undefined && items.length > n) {
    items = items.slice(0, n);
    if (n > 0) headers.Link = `<${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1])}>; rel="next"`;
  }
  return { items, headers };
}

async function tags(r: Req, repo: string): Promise<void> {
  const all = r.store.tags(repo);
  if (all === undefined) throw regErr('NAME_UNKNOWN', 'repository name not known to registry', { name: repo });
  const { items, headers } = page(r, all, `/v2/${repo}/tags/list`);
  json(r, 200, { name: repo, tags: items }, headers);
}

async function catalog(r: Req): Promise<void> {
  const visible: string[] = [];
  for (const repo of r.store.repositories()) if (await r.mayPull(repo)) visible.push(repo);
  const { items, headers } = page(r, visible, '/v2/_catalog');
  json(r, 200, { repositories: items }, headers);
}

async function referrers(r: Req, repo: string, subject: Sha256): Promise<void> {
  const want = r.url.searchParams.get('artifactType');
  let list = r.store.referrers(repo, subject);
  if (want !== null) list = list.filter((d) => d.artifactType === want);
  json(r, 200, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: list }, { 'Content-Type': MediaType.ociIndex, ...(want !== null ? { 'OCI-Filters-Applied': 'artifactType' } : {}) });
}

// --- bodies ---

async function readAll(req: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  // Not destroyed when the loop stops early: the 413 still has to reach the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > max) {
      req.resume();
      throw new RegistryError('MANIFEST_TOO_LARGE', `manifest is larger than ${max} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

function drain(req: IncomingMessage): void {
  req.resume();
}

/** A client that goes away mid-blob is its own business: the stream just stops. */
async function pipe(src: Readable, res: ServerResponse): Promise<void> {
  await pipeline(src, res).catch(() => src.destroy());
}
