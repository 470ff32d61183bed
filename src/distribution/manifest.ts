/**
 * Manifests as registries serve them: Docker schema 2 and OCI image manifests, Docker manifest
 * lists and OCI indexes. Parsing checks the shape at the edge (a registry is untrusted input),
 * and platform matching follows containerd's rules: os and architecture must match, a variant
 * only when both sides name one (arm64 defaults to v8).
 */
import { invalid } from '../errors';
import { type Digest, isDigest } from '../store/content-store';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What berth asks registries for, in Docker's order of preference. */
export const MANIFEST_ACCEPT = [MediaType.dockerManifest, MediaType.dockerList, MediaType.ociManifest, MediaType.ociIndex];

/** Manifests and configs over this size are refused (the distribution spec's 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export type Manifest = ImageManifest | ManifestIndex;

/** Parses a manifest of the media type the registry named (or, if vague, the one it declares). */
export function parseManifest(bytes: Buffer, contentType: string | undefined): Manifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('invalid manifest: not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('invalid manifest: not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  let mediaType = contentType?.split(';')[0].trim();
  if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain' || mediaType === 'application/octet-stream') {
    mediaType = declared ?? (Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest);
  }
  if (mediaType === MediaType.schema1 || mediaType === MediaType.schema1Signed || doc.schemaVersion === 1) {
    throw invalid('unsupported manifest format: Docker Image manifest version 2, schema 1 is no longer supported; the image must be pushed again with a newer client');
  }
  if (declared && declared !== mediaType) throw invalid(`invalid manifest: mediaType ${declared} does not match ${mediaType}`);
  if (doc.schemaVersion !== 2) throw invalid('invalid manifest: schemaVersion must be 2');
  if (mediaType === MediaType.dockerList || mediaType === MediaType.ociIndex) {
    if (!Array.isArray(doc.manifests)) throw invalid('invalid manifest index: manifests is missing');
    return { kind: 'index', mediaType, manifests: doc.manifests.map((d) => descriptor(d, 'manifests')) };
  }
  if (mediaType === MediaType.dockerManifest || mediaType === MediaType.ociManifest) {
    if (!Array.isArray(doc.layers)) throw invalid('invalid manifest: layers is missing');
    return { kind: 'image', mediaType, config: descriptor(doc.config, 'config'), layers: doc.layers.map((d) => descriptor(d, 'layers')) };
  }
  throw invalid(`unsupported manifest media type ${mediaType}`);
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) throw invalid(`invalid manifest: ${where} entry is not an object`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`invalid manifest: ${where} entry has no mediaType`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw invalid(`invalid manifest: ${where} entry has an unsupported digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`invalid manifest: ${where} entry has an invalid size`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, string>;
  const p = d.platform as Record<string, unknown> | undefined;
  if (p && typeof p.os === 'string' && typeof p.architecture === 'string') {
    out.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) };
  }
  return out;
}

/** How a layer's bytes are compressed, from its media type. */
export function layerCompression(mediaType: string): 'gzip' | 'none' | 'zstd' | undefined {
  if (mediaType === MediaType.dockerLayer || mediaType === MediaType.dockerForeignLayer || mediaType === MediaType.ociLayerGzip || mediaType.endsWith('.tar+gzip')) return 'gzip';
  if (mediaType === MediaType.ociLayer || mediaType.endsWith('.tar')) return 'none';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  return undefined;
}

/** "linux/arm64/v8" → a platform; os defaults to linux when only an architecture is given. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) throw invalid(`"${s}": unknown operating system or architecture: invalid argument`);
  let [os, architecture, variant] = parts.length === 1 ? ['linux', parts[0], undefined] : parts;
  architecture = normalizeArch(architecture ?? '');
  if (architecture === 'arm64' && variant === undefined) variant = 'v8';
  if (!/^[a-z0-9_]+$/.test(os) || !/^[a-z0-9_]+$/.test(architecture)) throw invalid(`"${s}": unknown operating system or architecture: invalid argument`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function normalizeArch(a: string): string {
  switch (a) {
    case 'x86_64': case 'x86-64': return 'amd64';
    case 'aarch64': return 'arm64';
    case 'armhf': return 'arm';
    case 'i386': return '386';
    default: return a;
  }
}

export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== normalizeArch(have.architecture)) return false;
  const haveVariant = have.variant ?? (have.architecture === 'arm64' ? 'v8' : undefined);
  return want.variant === undefined || haveVariant === undefined || want.variant === haveVariant;
}

/** The index entry for `want`; attestation manifests (platform unknown/unknown) never match. */
export function selectManifest(index: ManifestIndex, want: Platform): Descriptor | undefined {
  return index.manifests.find((m) => m.platform && platformMatches(want, m.platform));
}
