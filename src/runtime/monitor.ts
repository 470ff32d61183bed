/**
 * One conmon per container: it runs `runc create`, then owns the container's stdio, pty, log
 * file and exit status, and outlives the daemon. Recipe and measured facts:
 * ../shared/notes/runtime.md §1, §4, §8.
 *
 * Exec-root layout (kept short: conmon's attach socket path must fit in 108 bytes):
 *   runc/                 runc's state root
 *   ctr/<id>/pidfile      the container's init pid (written by runc)
 *   ctr/<id>/conmon.pid   the long-lived conmon's pid
 *   exits/<id>            exit status, written atomically by conmon
 *   s/<sid>/attach        conmon's attach socket (SOCK_SEQPACKET), sid = first 32 hex of the id
 *   tmp/                  conmon's TMPDIR (console sockets)
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors';
import type { Runc } from './runc';
import { runtimeMessage } from './runc';
import { type ConmonProcess, spawnConmon } from './conmon-process';

export interface MonitorPaths {
  execRoot: string;
  conmon: string;
}

export interface LaunchOptions {
  id: string;
  name: string;
  bundle: string; // holds config.json; also conmon's persist dir (exit, oom)
  logPath: string;
  /** conmon starts a new log file before this size is passed (log-rotation.ts keeps the old ones); 0 = unbounded. */
  logSizeMax?: number;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

export class MonitorError extends BerthError {}

export class Monitor {
  constructor(
    private readonly paths: MonitorPaths,
    private readonly runc: Runc,
  ) {
    for (const d of ['ctr', 'exits', 's', 'tmp']) fs.mkdirSync(join(paths.execRoot, d), { recursive: true, mode: 0o700 });
  }

  get exitDir(): string {
    return join(this.paths.execRoot, 'exits');
  }

  attachSocket(id: string): string {
    return join(this.paths.execRoot, 's', socketId(id), 'attach');
  }

  ctlFifo(bundle: string): string {
    return join(bundle, 'ctl');
  }

  conmonPidFile(id: string): string {
    return join(this.paths.execRoot, 'ctr', id, 'conmon.pid');
  }

  /**
   * Spawns conmon, which loads and then waits on its start pipe before it runs `runc create`:
   * the caller writes the bundle meanwhile, then calls `proceed()`, which resolves once `runc
   * create` has finished (the container's init exists but has not run the user's program yet)
   * to the init pid and conmon's pid; or `abort()` to kill the waiting conmon, which has not
   * done anything lasting yet.
   */
  launch(o: LaunchOptions): { proceed(): Promise<{ pid: number; monitorPid: number }>; abort(): Promise<void> } {
    const ctrDir = join(this.paths.execRoot, 'ctr', o.id);
    fs.mkdirSync(ctrDir, { recursive: true, mode: 0o700 });
    fs.rmSync(join(this.exitDir, o.id), { force: true });
    const args = [
      '--api-version', '1', '-c', o.id, '-u', socketId(o.id), '-n', o.name,
      '-r', this.runc.bin, ...this.runc.globalArgs.flatMap((a) => ['--runtime-arg', a]),
      '-b', o.bundle, '-p', join(ctrDir, 'pidfile'), '-P', join(ctrDir, 'conmon.pid'),
      '-l', `k8s-file:${o.logPath}`, '--exit-dir', this.exitDir, '--persist-dir', o.bundle,
      '--socket-dir-path', join(this.paths.execRoot, 's'), '--log-level', 'warning',
      ...(o.logSizeMax ? ['--log-size-max', String(o.logSizeMax)] : []),
      ...(o.terminal ? ['-t'] : []),
      ...(o.stdin ? ['-i', ...(o.stdinOnce ? [] : ['--leave-stdin-open'])] : []),
    ];
    // conmon writes a second `oom` file into its cwd: keep it in the bundle.
    const conmon = spawnConmon(this.paths.conmon, args, { cwd: o.bundle, tmpDir: join(this.paths.execRoot, 'tmp') });
    return {
      proceed: () => {
        conmon.start.end('0');
        return this.created(o, conmon);
      },
      abort: async () => {
        conmon.process.kill('SIGKILL');
        for (const p of [conmon.sync, conmon.start, conmon.errors]) p.destroy();
        await conmon.process.reap();
        this.cleanup(o.id, o.bundle);
      },
    };
  }

  private async created(o: LaunchOptions, conmon: ConmonProcess): Promise<{ pid: number; monitorPid: number }> {
    const { sync, start, errors: errStream } = conmon;
    const line = await readLine(sync);
    // conmon keeps the sync pipe open for its whole life; we need only the first message.
    sync.destroy();
    start.destroy();
    // The conmon we started forks the long-lived one and exits once runc create is done.
    const exit = await conmon.process.reap();
    if (line === null) {
      // Its last words may still be in the pipe.
      await Promise.race([new Promise((r) => errStream.once('close', r)), new Promise((r) => setTimeout(r, 200))]);
      errStream.destroy();
      throw new MonitorError('internal', `conmon failed: ${conmon.stderr().trim() || `no sync message (exit ${exit.code})`}`);
    }
    errStream.destroy();
    const msg = JSON.parse(line) as { data: number; message?: string };
    if (msg.data < 0) {
      this.cleanupFailed(o);
      throw new MonitorError('internal', ociErrorMessage(msg.message ?? 'runtime create failed'));
    }
    const monitorPid = Number(fs.readFileSync(this.conmonPidFile(o.id), 'utf8').trim());
    return { pid: msg.data, monitorPid };
  }

  /** Reads the exit code conmon recorded, or null while the container runs. */
  readExit(id: string): number | null {
    try {
      const text = fs.readFileSync(join(this.exitDir, id), 'utf8').trim();
      return text === '' ? null : Number(text);
    } catch {
      return null;
    }
  }

  oomKilled(bundle: string): boolean {
    return fs.existsSync(join(bundle, 'oom'));
  }

  /** Whether the conmon recorded for `id` still runs (and is that conmon, not a reused pid). */
  alive(id: string): boolean {
    try {
      const pid = Number(fs.readFileSync(this.conmonPidFile(id), 'utf8').trim());
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const c = cmdline.indexOf('-c');
      return c >= 0 && cmdline[c + 1] === id;
    } catch {
      return false;
    }
  }

  /** Resolves once the container's conmon has exited (bounded: a stuck conmon is left to the sweep). */
  async waitGone(id: string, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.alive(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** Removes what conmon leaves behind for a container that has exited. */
  cleanup(id: string, bundle: string): void {
    fs.rmSync(join(this.paths.execRoot, 'ctr', id), { recursive: true, force: true });
    fs.rmSync(join(this.exitDir, id), { force: true });
    fs.rmSync(join(this.paths.execRoot, 's', socketId(id)), { force: true });
    for (const f of ['attach', 'ctl', 'winsz', 'exit', 'oom']) fs.rmSync(join(bundle, f), { force: true });
  }

  /** Removes exec-root leftovers of containers not in `known` (a crash between cleanup steps). */
  sweep(known: Set<string>): void {
    const sids = new Set([...known].map(socketId));
    for (const [dir, keep] of [['ctr', (n: string) => known.has(n)], ['exits', (n: string) => known.has(n.slice(0, 64))], ['s', (n: string) => sids.has(n)]] as const) {
      for (const name of fs.readdirSync(join(this.paths.execRoot, dir))) {
        if (!keep(name)) fs.rmSync(join(this.paths.execRoot, dir, name), { recursive: true, force: true });
      }
    }
  }

  private cleanupFailed(o: LaunchOptions): void {
    this.cleanup(o.id, o.bundle);
    void this.runc.delete(o.id, true).catch(() => {});
  }
}

function socketId(id: string): string {
  return id.slice(0, 32);
}

/** Reads one newline-terminated line, or null at EOF without one. */
function readLine(stream: NodeJS.ReadableStream): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        done();
        resolve(buf.slice(0, nl));
      }
    };
    const onEnd = () => {
      done();
      resolve(buf.trim() === '' ? null : buf.trim());
    };
    const done = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.off('close', onEnd);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.on('close', onEnd);
  });
}

/**
 * conmon relays runc's stderr (JSON lines with --log-format=json). Docker's clients look for
 * "executable file not found" / "no such file or directory" / "permission denied" in the message
 * to choose exit codes 127 / 126, so the runtime's own words are kept.
 */
function ociErrorMessage(raw: string): string {
  return `failed to create task for container: OCI runtime create failed: ${runtimeMessage(raw) || raw.trim()}: unknown`;
}
