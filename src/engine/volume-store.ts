/**
 * Volumes of the local driver, as Docker keeps them: a record in berth.db (the commit point of a
 * volume) and a directory <data-root>/volumes/<name>/_data. A volume with DriverOpts (type, o,
 * device) is a tmpfs or a bind of a host path, mounted on _data while containers use it. The
 * record is written after the directory exists and deleted before it goes, so a crash leaves at
 * most a directory no record owns, which start-up sweeps.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/db';
import { BerthError, conflict, invalid, notFound } from '../errors';
import { MNT_DETACH, umount } from '../store/syscalls';

export interface VolumeRecord {
  name: string;
  driver: 'local';
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
}

/** Docker's rule for volume names. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** Docker marks the volumes it makes for a container path (VOLUME, -v /path). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
const LOCAL_OPTIONS = new Set(['type', 'o', 'device', 'size']);

interface Row {
  name: string;
  driver: string;
  created: string;
  labels: string;
  options: string;
  anonymous: number;
}

export class VolumeStore {
  constructor(
    private readonly db: Db,
    readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o701 });
  }

  dataDir(name: string): string {
    return join(this.dir, name, '_data');
  }

  /**
   * Creates a volume (a random 64-hex name when none is given). An existing one of that name is
   * returned as it is, as Docker does for `volume create` of a name that exists.
   */
  create(req: { name?: string; driver?: string; options?: Record<string, string>; labels?: Record<string, string>; anonymous?: boolean }): { volume: VolumeRecord; created: boolean } {
    const name = req.name || randomBytes(32).toString('hex');
    if (!NAME.test(name)) {
      throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const driver = req.driver || 'local';
    if (driver !== 'local') throw new BerthError('not-found', `error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const existing = this.find(name);
    if (existing) return { volume: existing, created: false };
    const options = req.options ?? {};
    for (const k of Object.keys(options)) if (!LOCAL_OPTIONS.has(k)) throw invalid(`create ${name}: invalid option key: "${k}"`);
    if ((options.type || options.device) && !(options.type && options.device)) throw invalid(`create ${name}: missing required option: "${options.type ? 'device' : 'type'}"`);
    const v: VolumeRecord = {
      name, driver: 'local', created: new Date().toISOString(), labels: req.labels ?? {}, options, anonymous: req.anonymous === true,
    };
    fs.mkdirSync(this.dataDir(name), { recursive: true, mode: 0o755 });
    this.db.prepare('INSERT INTO volumes (name, driver, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?)')
      .run(v.name, v.driver, v.created, JSON.stringify(v.labels), JSON.stringify(v.options), v.anonymous ? 1 : 0);
    return { volume: v, created: true };
  }

  find(name: string): VolumeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  get(name: string): VolumeRecord {
    const v = this.find(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  list(): VolumeRecord[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Row[]).map(fromRow);
  }

  /** Deletes the record, then the directory. `users`: containers that use it (refused if any). */
  remove(name: string, users: string[]): void {
    const v = this.get(name);
    if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(v.name);
    // A tmpfs or bind of the local driver's options comes off first (the bound host path stays).
    if (Object.keys(v.options).length) umount(this.dataDir(v.name), MNT_DETACH);
    fs.rmSync(join(this.dir, v.name), { recursive: true, force: true });
  }

  /** Directories no record owns (a crash between mkdir and insert, or between delete and rm). */
  sweep(): string[] {
    const known = new Set(this.list().map((v) => v.name));
    const gone: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (known.has(name)) continue;
      fs.rmSync(join(this.dir, name), { recursive: true, force: true });
      gone.push(name);
    }
    return gone;
  }
}

function fromRow(r: Row): VolumeRecord {
  return {
    name: r.name, driver: 'local', created: r.created, labels: JSON.parse(r.labels) as Record<string, string>,
    options: JSON.parse(r.options) as Record<string, string>, anonymous: r.anonymous === 1,
  };
}
