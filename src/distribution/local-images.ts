/**
 * What pull and push need of the engine's image store, as a narrow interface: distribution sits
 * below the engine (the engine builds the puller and pusher and hands itself in), so it never
 * imports engine code.
 */
import type { Digest } from '../store/content-store';
import type { Reference } from '../wire/reference';

export interface LocalImages {
  get(id: Digest): object | undefined;
  lookup(name: string): { id: Digest } | undefined;
  /** Registers config bytes as they are (the image id is their digest). */
  registerRaw(bytes: Buffer): Digest;
  addRepoDigest(repo: Reference, digest: Digest, id: Digest): void;
  setTagRef(ref: Reference, id: Digest): void;
  tagsInRepository(repo: Reference): { ref: Reference; id: Digest }[];
}

/** Emits Docker's image events (pull, push). */
export interface ImageEvents {
  emit(type: 'image', action: string, id: string, attributes: Record<string, string>): void;
}

/** The parts of an image config (OCI image-spec) distribution reads. */
export interface ConfigSummary {
  os?: string;
  architecture?: string;
  variant?: string;
  rootfs?: { diff_ids?: Digest[] };
}
