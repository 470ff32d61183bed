/**
 * berth.db: the daemon's metadata in SQLite (WAL). One writer (the daemon), many small
 * transactions; blobs and layer contents stay on the filesystem, named by digest.
 *
 * Migrations are append-only: each entry runs once, in order, inside a transaction, and
 * user_version records how many have run.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `
  CREATE TABLE layers (
    chain_id   TEXT PRIMARY KEY,        -- sha256:… of the layer stack up to and including this layer
    diff_id    TEXT NOT NULL,           -- sha256:… of the uncompressed layer tar
    parent     TEXT REFERENCES layers(chain_id),
    size       INTEGER NOT NULL,        -- bytes of file content in this layer
    created    TEXT NOT NULL
  );
  CREATE TABLE images (
    id         TEXT PRIMARY KEY,        -- sha256:… of the config blob
    created    TEXT NOT NULL,           -- when it entered this store
    size       INTEGER NOT NULL,        -- sum of its layers' sizes
    top_layer  TEXT REFERENCES layers(chain_id)  -- NULL for an image with no layers
  );
  CREATE INDEX images_top_layer ON images(top_layer);
  CREATE TABLE tags (
    ref        TEXT PRIMARY KEY,        -- normalized: docker.io/library/busybox:latest
    image_id   TEXT NOT NULL REFERENCES images(id),
    created    TEXT NOT NULL
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE containers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,    -- without the leading '/'
    image_id   TEXT NOT NULL,           -- may outlive the image (rmi --force)
    layer      TEXT REFERENCES layers(chain_id),  -- top of the read-only stack under its rw layer
    created    TEXT NOT NULL,
    spec       TEXT NOT NULL,           -- JSON: what the user asked for (Config, HostConfig)
    state      TEXT NOT NULL            -- JSON: what happened to it (status, pid, exit code…)
  );
  CREATE INDEX containers_image ON containers(image_id);
  CREATE INDEX containers_layer ON containers(layer);
  `,
  `
  CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL,
    spec       TEXT NOT NULL,           -- JSON: driver, IPAM config, options, labels, internal…
    last_ip    INTEGER NOT NULL DEFAULT 0  -- the address handed out last (IPAM goes on after it)
  );
  CREATE TABLE network_addresses (
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    address    INTEGER NOT NULL,        -- IPv4 as an unsigned 32-bit number
    owner      TEXT NOT NULL,           -- a container id, or 'gateway'
    PRIMARY KEY (network_id, address)
  );
  CREATE INDEX network_addresses_owner ON network_addresses(owner);
  `,
  `
  CREATE TABLE volumes (
    name       TEXT PRIMARY KEY,
    driver     TEXT NOT NULL,           -- 'local'
    created    TEXT NOT NULL,
    labels     TEXT NOT NULL,           -- JSON object
    options    TEXT NOT NULL,           -- JSON object: the local driver's type/o/device
    anonymous  INTEGER NOT NULL DEFAULT 0
  );
  `,
  `
  CREATE TABLE layer_blobs (
    digest     TEXT PRIMARY KEY,        -- sha256:… of a compressed form of a layer (as pulled or pushed)
    diff_id    TEXT NOT NULL,           -- the uncompressed tar it decompresses to
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL
  );
  CREATE INDEX layer_blobs_diff ON layer_blobs(diff_id);
  CREATE TABLE blob_sources (
    digest     TEXT NOT NULL,           -- a blob known to be in a registry's repository:
    registry   TEXT NOT NULL,           -- push skips it there, or mounts it from there into
    repository TEXT NOT NULL,           -- another repository of the same registry
    PRIMARY KEY (digest, registry, repository)
  );
  CREATE TABLE repo_digests (
    ref        TEXT PRIMARY KEY,        -- docker.io/library/busybox@sha256:… (the manifest's digest)
    image_id   TEXT NOT NULL REFERENCES images(id),
    created    TEXT NOT NULL
  );
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  `,
  `
  CREATE TABLE build_cache (
    key        TEXT PRIMARY KEY,        -- sha256 of a build step's inputs (parent key, instruction, content read)
    config     TEXT NOT NULL,           -- digest of the image config the step produced (a blob)
    layer      TEXT REFERENCES layers(chain_id),  -- top layer after the step (NULL: still scratch)
    size       INTEGER NOT NULL,        -- bytes the step's own layer added (0 for config-only steps)
    created    TEXT NOT NULL,
    last_used  TEXT NOT NULL
  );
  CREATE INDEX build_cache_layer ON build_cache(layer);
  `,
  `
  CREATE TABLE build_context_files (
    key        TEXT PRIMARY KEY,        -- a context file as sent: path, size, mtime, mode
    sha        TEXT NOT NULL,           -- its bytes' sha256, kept under builder/context/<sha>
    recorded   INTEGER NOT NULL         -- when the request that carried it began (ms since epoch)
  );
  `,
  // The stat match became a prediction the hash checks; nothing reads the time any more.
  `
  ALTER TABLE build_context_files DROP COLUMN recorded;
  `,
  // Predictions are keyed by path and size now (the bytes are compared, so a changed mtime need
  // not miss): rows under the old keys would never match again.
  `
  DELETE FROM build_context_files;
  `,
];

export function openDb(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across a daemon crash in WAL mode; only a power loss may drop the last commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const done = db.pragma('user_version', { simple: true }) as number;
  for (let i = done; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}
