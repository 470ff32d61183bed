/**
 * The volume service: the local driver's volumes (volume-store.ts) and who uses them. A volume
 * is in use while any container (running or not) names it among its mounts, as Docker counts it.
 */
import type { Db } from '../store/db';
import type { ContainerRecord } from './container-model';
import type { EventBus } from './events';
import { ANONYMOUS_LABEL, type VolumeRecord, VolumeStore } from './volume-store';

export class VolumeService {
  readonly store: VolumeStore;
  /** Every container record (set by the engine). */
  containers: () => ContainerRecord[] = () => [];

  constructor(db: Db, dir: string, private readonly events: EventBus) {
    this.store = new VolumeStore(db, dir);
  }

  /** The volume of that name (a new anonymous one without a name), made if missing. */
  ensure(name: string | undefined, opts: { anonymous: boolean; driver?: string; options?: Record<string, string>; labels?: Record<string, string> }): VolumeRecord {
    const { volume, created } = this.store.create({
      ...(name ? { name } : {}), ...(opts.driver ? { driver: opts.driver } : {}), ...(opts.options ? { options: opts.options } : {}),
      labels: { ...(opts.labels ?? {}), ...(opts.anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) }, anonymous: opts.anonymous,
    });
    if (created) this.events.emit('volume', 'create', volume.name, { driver: volume.driver });
    return volume;
  }

  usersOf(name: string): string[] {
    return this.containers().filter((r) => (r.spec.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === name)).map((r) => r.id);
  }

  remove(name: string, opts: { force?: boolean; ignoreUsers?: string[] } = {}): void {
    const users = this.usersOf(name).filter((id) => !(opts.ignoreUsers ?? []).includes(id));
    if (opts.force && !this.store.find(name)) return;
    this.store.remove(name, users);
    this.events.emit('volume', 'destroy', name, { driver: 'local' });
  }

  /** A removed container's anonymous volumes that no other container uses. */
  removeAnonymous(r: ContainerRecord): void {
    for (const m of r.spec.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Anonymous || !m.Name) continue;
      try {
        this.remove(m.Name, { ignoreUsers: [r.id] });
      } catch {
        // Used by another container (--volumes-from), or gone: kept, as Docker keeps it.
      }
    }
  }

  /** Unused volumes: anonymous ones only, unless `all` (Docker 23+). Returns the names removed. */
  prune(select: (v: VolumeRecord) => boolean, all: boolean): string[] {
    const removed: string[] = [];
    for (const v of this.store.list()) {
      if ((!all && !v.anonymous) || !select(v) || this.usersOf(v.name).length > 0) continue;
      this.remove(v.name);
      removed.push(v.name);
    }
    return removed;
  }

  /** Docker's volume JSON. */
  view(v: VolumeRecord) {
    return {
      CreatedAt: v.created.replace(/\.\d+Z$/, 'Z'), Driver: v.driver, Labels: v.labels, Mountpoint: this.store.dataDir(v.name), Name: v.name,
      Options: Object.keys(v.options).length ? v.options : null, Scope: 'local',
    };
  }
}
