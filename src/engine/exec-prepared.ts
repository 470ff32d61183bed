/**
 * berth-exec sessions started when their exec is created (runtime/native-exec.ts, `gated`):
 * each has done its host-side part and waits, outside the container, for the exec's start. One
 * that is not taken within PREPARED_WAIT_MS is called off (berth-exec exits, having run nothing).
 */
import type { NativeExecSession } from '../runtime/native-exec';

const PREPARED_WAIT_MS = 10_000;

export class PreparedExecs {
  private readonly waiting = new Map<string, { session: NativeExecSession; startedAt: string; timer: NodeJS.Timeout }>();

  has(execId: string): boolean {
    return this.waiting.has(execId);
  }

  /** Keeps `session` for the exec, made for the container run that started at `startedAt`. */
  hold(execId: string, session: NativeExecSession, startedAt: string): void {
    const timer = setTimeout(() => this.callOff(execId), PREPARED_WAIT_MS);
    timer.unref();
    this.waiting.set(execId, { session, startedAt, timer });
  }

  /** The exec's session if it was made for the container run `startedAt`; any other is called off. */
  take(execId: string, startedAt: string | undefined): NativeExecSession | undefined {
    const p = this.remove(execId);
    if (!p) return undefined;
    if (p.startedAt === startedAt) return p.session;
    p.session.callOff();
    return undefined;
  }

  callOff(execId: string): void {
    this.remove(execId)?.session.callOff();
  }

  private remove(execId: string) {
    const p = this.waiting.get(execId);
    if (!p) return undefined;
    this.waiting.delete(execId);
    clearTimeout(p.timer);
    return p;
  }
}
