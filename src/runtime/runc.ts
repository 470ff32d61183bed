/**
 * The OCI runtime, driven through its command line (runc; the binary is pluggable). One short
 * process per operation: start, kill, delete, state. `create` is run by the monitor (conmon).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
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

  /**
   * Lets a created container run its program. `runc start` does nothing more than open the
   * container's exec.fifo in its state dir, read the byte runc init writes there, and delete the
   * fifo; runc init then execs the program. Doing that here saves a 12 ms process on every start.
   * Without the fifo (another runtime, another layout) the command is used.
   */
  async start(id: string, initPid?: number): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    let fd: number;
    try {
      // Non-blocking: a blocking open would hang forever if runc init died before opening its end.
      fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      await this.run('start', [id]);
      return;
    }
    try {
      const buf = Buffer.alloc(16);
      const deadline = Date.now() + 10_000;
      for (let i = 0; ; i++) {
        // Liveness before the read, never after: a short-lived program (`true`) can write the
        // byte, exec, exit and be reaped between a read that found nothing and a later check.
        // Seen dead before a read that still finds nothing, it really died without starting.
        const dead = initPid !== undefined && !processAlive(initPid);
        let n = 0;
        try {
          n = fs.readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (n > 0) break;
        if (dead) throw new RuntimeError('start', 'container process is already dead');
        if (Date.now() > deadline) throw new RuntimeError('start', 'timed out waiting for the container process to start');
        await new Promise((r) => (i < 50 ? setImmediate(r) : setTimeout(r, 5)));
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.rmSync(fifo, { force: true });
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

  /** Ids of every container the runtime has state for. */
  async list(): Promise<string[]> {
    return (await this.run('list', ['-q'])).split('\n').filter(Boolean);
  }

  pause(id: string): Promise<void> {
    return this.run('pause', [id]).then(() => undefined);
  }

  resume(id: string): Promise<void> {
    return this.run('resume', [id]).then(() => undefined);
  }

  /** Changes the cgroup limits of a created, running or paused container (OCI linux.resources JSON). */
  update(id: string, resources: object): Promise<void> {
    return this.run('update', ['--resources', '-', id], JSON.stringify(resources)).then(() => undefined);
  }

  private run(op: string, args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.bin, [...this.globalArgs, op, ...args], { maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new RuntimeError(op, runtimeMessage(stderr) || err.message));
        else resolve(stdout);
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
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
