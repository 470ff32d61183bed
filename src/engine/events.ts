/**
 * Engine events in Docker's shape (GET /events). Kept in memory: a bounded ring of the last 256
 * (as Docker keeps) for `since` replays, plus live subscribers. A slow subscriber never slows
 * the engine: each has its own bounded queue and is dropped when it overflows.
 */
import { invalid } from '../errors';

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface EngineEvent {
  // Pre-1.22 clients read these; Docker still sends them for containers and images.
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

const RING = 256;
const SUBSCRIBER_QUEUE = 4096;

export interface Subscription {
  next(): Promise<EngineEvent | null>;
  close(): void;
}

export class EventBus {
  private readonly ring: EngineEvent[] = [];
  private readonly subscribers = new Set<{ queue: EngineEvent[]; wake: (() => void) | null; closed: boolean }>();
  private lastNano = 0;

  emit(type: EventType, action: string, id: string, attributes: Record<string, string>): void {
    // Strictly increasing, so `since`/`until` replays keep the order events happened in. A
    // double holds today's nanosecond times to 256 ns: step by that.
    let timeNano = Number(BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n);
    if (timeNano <= this.lastNano) timeNano = this.lastNano + 256;
    this.lastNano = timeNano;
    const base: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(timeNano / 1e9),
      timeNano,
    };
    // Go's encoder puts the legacy fields first (they come first in Docker's struct).
    const legacy = type === 'container' || type === 'image';
    this.publish(legacy ? { status: action, id, ...(attributes.image ? { from: attributes.image } : {}), ...base } : base);
  }

  private publish(ev: EngineEvent): void {
    this.ring.push(ev);
    if (this.ring.length > RING) this.ring.shift();
    for (const s of this.subscribers) {
      if (s.queue.length >= SUBSCRIBER_QUEUE) {
        s.closed = true;
        this.subscribers.delete(s);
      } else {
        s.queue.push(ev);
      }
      s.wake?.();
    }
  }

  /**
   * Past events in [sinceNs, untilNs] from the ring (when `sinceNs` is given), then live ones.
   * Times are nanoseconds since the epoch.
   */
  subscribe(sinceNs?: number, untilNs?: number): Subscription {
    const s = { queue: [] as EngineEvent[], wake: null as (() => void) | null, closed: false };
    if (sinceNs !== undefined) {
      s.queue.push(...this.ring.filter((e) => e.timeNano >= sinceNs && (untilNs === undefined || e.timeNano <= untilNs)));
    }
    this.subscribers.add(s);
    return {
      next: async () => {
        while (s.queue.length === 0) {
          if (s.closed) return null;
          await new Promise<void>((r) => (s.wake = r));
          s.wake = null;
        }
        return s.queue.shift()!;
      },
      close: () => {
        s.closed = true;
        this.subscribers.delete(s);
        s.wake?.();
      },
    };
  }

  /** Past events only (for a `until` already gone by). */
  past(sinceNs: number | undefined, untilNs: number): EngineEvent[] {
    return this.ring.filter((e) => (sinceNs === undefined || e.timeNano >= sinceNs) && e.timeNano <= untilNs);
  }
}

// ---------------------------------------------------------------- since / until

const DURATION_UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * A `since`/`until` value as nanoseconds since the epoch: Unix seconds with an optional
 * fraction ("1700000000.5", what the docker CLI sends), RFC 3339, or a Go duration meaning that
 * long before `nowMs` ("10m"). Empty is undefined.
 */
export function parseEventTime(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const unix = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(value);
  if (unix) return Number(unix[1]) * 1e9 + (unix[2] ? Number(unix[2].padEnd(9, '0')) : 0);
  const dur = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(value);
  if (dur) {
    let ns = 0;
    for (const p of value.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ns += Number(p[1]) * DURATION_UNIT_NS[p[2]];
    return nowMs * 1e6 - (dur[1] === '-' ? -ns : ns);
  }
  const rfc = /^(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?)?$/.exec(value);
  if (rfc) {
    const ms = Date.parse(`${rfc[1]}T${rfc[2] ?? '00:00:00'}${rfc[4] ?? 'Z'}`);
    if (!Number.isNaN(ms)) return ms * 1e6 + (rfc[3] ? Number(rfc[3].padEnd(9, '0')) : 0);
  }
  throw invalid(`failed to parse value as time or duration: "${value}"`);
}

// ---------------------------------------------------------------- filters

export type EventFilters = Map<string, string[]>;

/** Docker's ExactMatch: no values for the key means everything matches. */
const exact = (f: EventFilters, key: string, v: string | undefined) => !f.has(key) || (v !== undefined && f.get(key)!.includes(v));
/** Docker's FuzzyMatch: a value matches equal or as a prefix. */
const fuzzy = (f: EventFilters, key: string, v: string | undefined) =>
  !f.has(key) || (v !== undefined && f.get(key)!.some((w) => v === w || v.startsWith(w)));
const stripTag = (ref: string) => ref.replace(/:[^:/@]+$/, '');

/** Docker's events.Filter.Include: every filter key must match. */
export function eventMatches(ev: EngineEvent, f: EventFilters): boolean {
  if (f.size === 0) return true;
  const a = ev.Actor.Attributes;
  const byName = (type: string) => !f.has(type) || fuzzy(f, type, ev.Actor.ID) || fuzzy(f, type, a.name);
  const imageName = ev.Type === 'image' ? a.name : a.image;
  const image =
    !f.has('image') ||
    exact(f, 'image', ev.Actor.ID) || exact(f, 'image', imageName) ||
    exact(f, 'image', stripTag(ev.Actor.ID)) || (imageName !== undefined && exact(f, 'image', stripTag(imageName)));
  const labels = (f.get('label') ?? []).every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in a : a[l.slice(0, i)] === l.slice(i + 1);
  });
  // Docker matches these by prefix: their actions carry a suffix ("health_status: healthy").
  const fuzzyEvent = (f.get('event') ?? []).some((e) => e === 'health_status' || e === 'exec_create' || e === 'exec_start');
  return (
    (fuzzyEvent ? fuzzy(f, 'event', ev.Action) : exact(f, 'event', ev.Action)) &&
    exact(f, 'type', ev.Type) &&
    exact(f, 'scope', ev.scope) &&
    byName('daemon') && byName('container') && byName('plugin') && byName('volume') && byName('network') &&
    image && labels
  );
}
