/**
 * `berth registry gc`: mark every blob a manifest of any repository reaches (the manifest itself,
 * its config and layers, an index's children, which are manifests of the same repository), then
 * sweep the rest, with the repository links to them. Like distribution's collector it must run
 * while nothing pushes: a blob uploaded but not yet named by a manifest is unreferenced. Uploads
 * are not blobs: those that received nothing for a day are abandoned and go (distribution purges
 * after a week; a day is plenty for a resumable push), the others are left alone.
 */
import * as fs from 'node:fs';
import { parseManifest } from '../distribution/manifest';
import type { Sha256 } from './names';
import type { RegistryStorage } from './storage';

/** An upload that received nothing for this long is abandoned. */
export const UPLOAD_MAX_IDLE_MS = 24 * 3600_000;

export interface GcReport {
  marked: number;
  /** Abandoned uploads removed (or, on a dry run, that would be). */
  uploads: string[];
  /** Blobs deleted (or, on a dry run, that would be), with their sizes. */
  deleted: { digest: Sha256; size: number }[];
}

export function collectGarbage(store: RegistryStorage, opts: { dryRun?: boolean; log?: (line: string) => void; now?: number } = {}): GcReport {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now();
  const uploads = store.uploads().filter((u) => now - u.modified > UPLOAD_MAX_IDLE_MS).map((u) => u.id);
  for (const id of uploads) {
    log(`abandoned upload eligible for deletion: ${id}`);
    if (!opts.dryRun) store.removeUpload(id);
  }
  const marked = new Set<Sha256>();
  for (const repo of store.repositories()) {
    for (const digest of store.revisions(repo)) {
      const m = store.manifest(repo, { digest });
      if (!m) continue;
      marked.add(digest);
      log(`${repo}: marking manifest ${digest}`);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(store.blobPath(digest));
      } catch {
        continue;
      }
      let parsed;
      try {
        parsed = parseManifest(bytes, m.mediaType);
      } catch {
        // A manifest this registry stored parsed when it came; one that no longer does keeps
        // only itself.
        continue;
      }
      if (parsed.kind === 'image') {
        for (const d of [parsed.config, ...parsed.layers]) {
          marked.add(d.digest as Sha256);
          log(`${repo}: marking blob ${d.digest}`);
        }
      }
      // An index's children are revisions of the repository too: marked on their own turn.
    }
  }
  const deleted: GcReport['deleted'] = [];
  for (const digest of store.blobs()) {
    if (marked.has(digest)) continue;
    const size = store.blobSize(digest) ?? 0;
    deleted.push({ digest, size });
    log(`blob eligible for deletion: ${digest}`);
    if (!opts.dryRun) store.removeBlob(digest);
  }
  if (!opts.dryRun) {
    const gone = new Set(deleted.map((d) => d.digest));
    for (const repo of store.repositories()) for (const d of store.linkedBlobs(repo)) if (gone.has(d)) store.unlinkBlob(repo, d);
  }
  return { marked: marked.size, uploads, deleted };
}
