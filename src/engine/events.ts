/**
 * Engine events in Docker's shape (GET /events). Kept in memory: a bounded ring for `since`
 * replays plus live subscribers. A slow subscriber never slows the engine: each has its own
 * bounded queue and is dropped when it overflows.
 */
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // Pre-1.22 clients read these; Docker still sends them for containers and images.
  status?: string;
  id?: string;
  from?: string;
}

const RING = 1024;
const SUBSCRIBER_QUEUE = 4096;

export interface Subscription {
  next(): Promise<EngineEvent | null>;
  close(): void;
}

export class EventBus {
  private readonly ring: EngineEvent[] = [];
  private readonly subscribers = new Set<{ queue: EngineEvent[]; wake: (() => void) | null; closed: boolean }>();

  emit(type: EventType, action: string, id: string, attributes: Record<string, string>): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
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

  /** Past events (time ≥ since, seconds) followed by live ones. */
  subscribe(sinceSeconds?: number): Subscription {
    const s = { queue: [] as EngineEvent[], wake: null as (() => void) | null, closed: false };
    if (sinceSeconds !== undefined) s.queue.push(...this.ring.filter((e) => e.timeNano >= sinceSeconds * 1e9));
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
}
