/**
 * Image references as Docker spells them (distribution/reference grammar):
 *   [domain[:port]/]path[:tag][@digest]
 * "busybox" means docker.io/library/busybox:latest; the familiar form drops those defaults again.
 * Pure: shared by the CLI (splitting `repo:tag`) and the engine (naming images).
 */
export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HEX64 = /^[a-f0-9]{64}$/;

export class ReferenceError extends Error {}

export interface Reference {
  domain: string; // docker.io, localhost:5000, …
  path: string; // library/busybox
  tag?: string;
  digest?: string;
}

/** Parses and normalizes; throws ReferenceError with Docker's message. */
export function parseReference(s: string): Reference {
  if (s.length === 0) throw new ReferenceError('invalid reference format');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest) || (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest))) {
      throw new ReferenceError('invalid reference format');
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError('invalid reference format');
  }
  if (HEX64.test(rest) && !tag && !digest) {
    throw new ReferenceError(`invalid repository name (${rest}), cannot specify 64-byte hexadecimal strings`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (!DOMAIN.test(domain)) throw new ReferenceError('invalid reference format');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (path.toLowerCase() !== path && path.split('/').every((c) => COMPONENT.test(c.toLowerCase()))) {
    throw new ReferenceError(`invalid reference format: repository name (${path}) must be lowercase`);
  }
  if (!path.split('/').every((c) => COMPONENT.test(c))) throw new ReferenceError('invalid reference format');
  if (domain.length + 1 + path.length > 255) throw new ReferenceError('invalid reference format: repository name must not be more than 255 characters');
  return { domain, path, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** A reference with the default tag filled in when it has neither tag nor digest. */
export function withDefaultTag(r: Reference): Reference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: DEFAULT_TAG } : r;
}

export function repositoryName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

export function fullName(r: Reference): string {
  return repositoryName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** The short form users type: docker.io/library/busybox:latest → busybox:latest. */
export function familiarName(r: Reference): string {
  let name = repositoryName(r);
  if (r.domain === DEFAULT_DOMAIN) {
    name = r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
  }
  return name + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

export function familiarRepository(r: Reference): string {
  return familiarName({ domain: r.domain, path: r.path });
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
