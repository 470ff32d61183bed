/**
 * The OCI runtime, driven through its command line (runc; the binary is pluggable). One short
 * process per operation: start, kill, delete, state. `create` is run by the monitor (conmon).
 */
import { execFile } from 'node:child_process';
import { BerthError } from '../errors';

export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
  bundle: string;
}

export class RuntimeError extends BerthError {
  constructor(op: string, message: string) {
    super('internal', `runtime ${op} failed: ${message}`);
  }
}

export class Runc {
  constructor(
    readonly bin: string,
    readonly root: string,
  ) {}

  /** Global flags go before the subcommand; conmon is given the same ones. */
  get globalArgs(): string[] {
    return ['--root', this.root, '--log-format=json'];
  }

  start(id: string): Promise<void> {
    return this.run('start', [id]).then(() => undefined);
  }

  kill(id: string, signal: string, all = false): Promise<void> {
    return this.run('kill', [...(all ? ['--all'] : []), id, signal]).then(() => undefined);
  }

  /** Deletes the runtime's record of a stopped container; a missing one is not an error. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.run('delete', [...(force ? ['--force'] : []), id]);
    } catch (e) {
      if (e instanceof RuntimeError && /does not exist|not exist/.test(e.message)) return;
      throw e;
    }
  }

  async state(id: string): Promise<RuntimeState | null> {
    try {
      return JSON.parse(await this.run('state', [id])) as RuntimeState;
    } catch (e) {
      if (e instanceof RuntimeError && /does not exist|not exist/.test(e.message)) return null;
      throw e;
    }
  }

  pause(id: string): Promise<void> {
    return this.run('pause', [id]).then(() => undefined);
  }

  resume(id: string): Promise<void> {
    return this.run('resume', [id]).then(() => undefined);
  }

  private run(op: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, [...this.globalArgs, op, ...args], { maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new RuntimeError(op, runtimeMessage(stderr) || err.message));
        else resolve(stdout);
      });
    });
  }
}

/** runc --log-format=json writes one JSON object per line; the last error's msg is the story. */
export function runtimeMessage(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean);
  const msgs: string[] = [];
  for (const line of lines) {
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string };
      if (rec.msg && (rec.level === 'error' || rec.level === 'fatal')) msgs.push(rec.msg);
    } catch {
      msgs.push(line);
    }
  }
  return msgs.join('; ');
}
