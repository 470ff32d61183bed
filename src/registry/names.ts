/**
 * What a repository name, a tag and a digest may be (the distribution spec's grammar). Every name
 * that reaches the storage has passed here, and the grammar is what keeps it a safe path: its
 * components are runs of [a-z0-9] joined by '.', '_', '__' or dashes, so none is '.', '..' or one
 * of the storage's own '_'-prefixed directories.
 */
import { regErr } from './errors';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** The spec lets a registry refuse longer names; distribution's limit. */
const MAX_NAME = 255;

export type Sha256 = `sha256:${string}`;

export function checkName(name: string): string {
  if (name.length > MAX_NAME || !NAME.test(name)) throw regErr('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export const isTag = (s: string) => TAG.test(s);

export function checkDigest(s: string | null | undefined): Sha256 {
  if (!s || !DIGEST.test(s)) {
    // Other algorithms are valid digests this registry does not store.
    if (s && /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(s) && !s.startsWith('sha256:')) throw regErr('UNSUPPORTED', `digest algorithm of ${s} is not supported`);
    throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest: s ?? '' });
  }
  return s as Sha256;
}

/** A manifest reference: a tag or a digest. */
export function checkReference(ref: string): { tag: string } | { digest: Sha256 } {
  if (ref.includes(':')) return { digest: checkDigest(ref) };
  if (!isTag(ref)) throw regErr('TAG_INVALID', 'manifest tag did not match URI', { tag: ref });
  return { tag: ref };
}
