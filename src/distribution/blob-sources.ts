/**
 * Where berth has seen a blob: (registry, repository) pairs learnt from pulls and pushes. A push
 * skips a HEAD round for nothing and, for another repository of the same registry, asks for a
 * cross-repository mount instead of sending the bytes again.
 */
import type { Digest } from '../store/content-store';
import type { Db } from '../store/db';

export class BlobSources {
  constructor(private readonly db: Db) {}

  remember(digest: Digest, registry: string, repository: string): void {
    this.db.prepare('INSERT OR IGNORE INTO blob_sources (digest, registry, repository) VALUES (?, ?, ?)').run(digest, registry, repository);
  }

  /** Up to three other repositories of `registry` that hold the blob. */
  elsewhere(digest: Digest, registry: string, repository: string): string[] {
    const rows = this.db
      .prepare('SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? AND repository != ? LIMIT 3')
      .all(digest, registry, repository) as { repository: string }[];
    return rows.map((r) => r.repository);
  }

  /** Forgets blobs the store no longer has. */
  forget(digest: Digest): void {
    this.db.prepare('DELETE FROM blob_sources WHERE digest = ?').run(digest);
  }
}
