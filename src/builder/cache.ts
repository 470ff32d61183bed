/**
 * The build cache: what each build step produced, by the hash of everything the step reads
 * (its parent's key, the instruction after expansion, the build args it sees, the content of the
 * files it copies). A hit gives back the step's image config and top layer, byte for byte, so a
 * rebuild with nothing changed makes the same image id and runs no container.
 *
 * Entries are not images: they hold a config blob and a layer chain that garbage collection and
 * image removal count as used (image-gc.ts, ImageService.releaseLayers) until `builder prune`
 * drops the entry. Entries survive daemon restarts (SQLite).
 */
import { createHash } from 'node:crypto';
import type { ContentStore, Digest } from '../store/content-store';
import type { Db } from '../store/db';

export interface CachedStep {
  config: Digest;
  layer: Digest | null;
}

export interface CacheUsage {
  id: string;
  layer: Digest | null;
  size: number;
  created: string;
  lastUsed: string;
  inUse: boolean;
}

export class BuildCache {
  constructor(
    private readonly db: Db,
    private readonly content: ContentStore,
  ) {}

  /** The step's result, if cached and still whole (its config blob and layer both present). */
  get(key: string): CachedStep | undefined {
    const row = this.db.prepare('SELECT config, layer FROM build_cache WHERE key = ?').get(key) as { config: Digest; layer: Digest | null } | undefined;
    if (!row || !this.content.has(row.config)) return undefined;
    if (row.layer && !this.db.prepare('SELECT 1 FROM layers WHERE chain_id = ?').get(row.layer)) return undefined;
    this.db.prepare('UPDATE build_cache SET last_used = ? WHERE key = ?').run(new Date().toISOString(), key);
    return row;
  }

  put(key: string, step: CachedStep, size: number): void {
    const now = new Date().toISOString();
    this.db
      .prepare('INSERT OR REPLACE INTO build_cache (key, config, layer, size, created, last_used) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key, step.config, step.layer, size, now, now);
  }

  usage(): CacheUsage[] {
    const rows = this.db.prepare('SELECT key, layer, size, created, last_used FROM build_cache ORDER BY created').all() as {
      key: string; layer: Digest | null; size: number; created: string; last_used: string;
    }[];
    return rows.map((r) => ({ id: r.key.slice(7, 32), layer: r.layer, size: r.size, created: r.created, lastUsed: r.last_used, inUse: false }));
  }

  /**
   * Drops entries (all, or those last used before `until`); returns the bytes their layers held.
   * The layers and configs themselves go with the next garbage collection, unless an image
   * still stands on them.
   */
  prune(opts: { until?: Date } = {}): { ids: string[]; reclaimed: number } {
    const rows = this.db.prepare('SELECT key, size, last_used FROM build_cache').all() as { key: string; size: number; last_used: string }[];
    const drop = rows.filter((r) => !opts.until || new Date(r.last_used) < opts.until);
    const del = this.db.prepare('DELETE FROM build_cache WHERE key = ?');
    this.db.transaction(() => drop.forEach((r) => del.run(r.key)))();
    return { ids: drop.map((r) => r.key.slice(7, 32)), reclaimed: drop.reduce((n, r) => n + r.size, 0) };
  }
}

/** A cache key: sha256 over the parts, each length-prefixed so no two part lists collide. */
export function cacheKey(parts: (string | undefined)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const s = p ?? '\u0000undefined';
    h.update(`${Buffer.byteLength(s)}:`);
    h.update(s);
  }
  return `sha256:${h.digest('hex')}`;
}
