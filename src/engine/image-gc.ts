/**
 * Garbage collection of the image store: mark what images, containers and the build cache stand
 * on, sweep the rest. Marked: every image's and build cache entry's config; every layer under an image's top or a container's layer
 * (the whole chain), with its tar and its compressed forms. Swept: unmarked layers (rows and
 * unpacked snapshots, children first), then blobs nobody marks. Anything a transfer in progress
 * holds (ContentStore leases: the pull's blobs and chain ids, a push's blobs, a load's spool) is
 * left alone, and the whole pass is synchronous, so no pull can commit between mark and sweep.
 */
import type { ContentStore, Digest } from '../store/content-store';
import type { Db } from '../store/db';
import type { OverlaySnapshotter } from '../store/snapshots';

export interface GcResult {
  layers: number;
  blobs: number;
  bytes: number;
}

export function collectGarbage(db: Db, content: ContentStore, snapshots: OverlaySnapshotter): GcResult {
  const result: GcResult = { layers: 0, blobs: 0, bytes: 0 };
  const parents = new Map<Digest, { parent: Digest | null; diffId: Digest }>();
  for (const r of db.prepare('SELECT chain_id, parent, diff_id FROM layers').all() as { chain_id: Digest; parent: Digest | null; diff_id: Digest }[]) {
    parents.set(r.chain_id, { parent: r.parent, diffId: r.diff_id });
  }
  const tops = [
    ...(db.prepare('SELECT top_layer AS l FROM images WHERE top_layer IS NOT NULL').all() as { l: Digest }[]),
    ...(db.prepare('SELECT layer AS l FROM containers WHERE layer IS NOT NULL').all() as { l: Digest }[]),
    ...(db.prepare('SELECT layer AS l FROM build_cache WHERE layer IS NOT NULL').all() as { l: Digest }[]),
  ].map((r) => r.l);
  const live = new Set<Digest>();
  for (const top of [...tops, ...[...parents.keys()].filter((c) => content.isLeased(c))]) {
    for (let c: Digest | null = top; c !== null && !live.has(c); c = parents.get(c)?.parent ?? null) live.add(c);
  }

  const tx = db.transaction(() => {
    // Children before parents: a layer row is a parent's reference (foreign key).
    const dead = [...parents.keys()].filter((c) => !live.has(c));
    const depth = (c: Digest) => {
      let n = 0;
      for (let p = parents.get(c)?.parent ?? null; p !== null; p = parents.get(p)?.parent ?? null) n++;
      return n;
    };
    dead.sort((a, b) => depth(b) - depth(a));
    for (const c of dead) {
      db.prepare('DELETE FROM layers WHERE chain_id = ?').run(c);
      parents.delete(c);
      result.layers++;
    }
    return dead;
  });
  for (const c of tx()) snapshots.removeCommitted(c);

  const marked = new Set<Digest>();
  for (const r of db.prepare('SELECT id FROM images').all() as { id: Digest }[]) marked.add(r.id);
  for (const r of db.prepare('SELECT config FROM build_cache').all() as { config: Digest }[]) marked.add(r.config);
  const diffIds = new Set([...parents.values()].map((l) => l.diffId));
  for (const d of diffIds) marked.add(d);
  for (const r of db.prepare('SELECT digest, diff_id FROM layer_blobs').all() as { digest: Digest; diff_id: Digest }[]) {
    if (diffIds.has(r.diff_id) || content.isLeased(r.digest)) marked.add(r.digest);
    else db.prepare('DELETE FROM layer_blobs WHERE digest = ?').run(r.digest);
  }
  for (const d of content.list()) {
    if (marked.has(d) || content.isLeased(d)) continue;
    try {
      result.bytes += content.size(d);
    } catch {
      continue;
    }
    content.delete(d);
    result.blobs++;
  }
  return result;
}
