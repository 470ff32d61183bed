/**
 * Runs an exec session through conmon's exec mode (`-e`): conmon runs `runc exec --detach` with
 * the process spec we write, relays the process's stdio through its own attach socket (one per
 * exec) and reports the pid and then the exit code on the sync pipe. Recipe and measurements:
 * ../shared/notes/runtime.md §3.
 *
 * Exec-root layout, beside the monitor's (runtime/monitor.ts):
 *   exec/<exec id>/process.json   the OCI process conmon hands to runc
 *   exec/<exec id>/{attach,ctl,winsz}   conmon's socket and fifos for this session
 *   exec/<exec id>/exit/<ctr id>  the exit file (conmon names it after -c, hence a dir per exec)
 *   s/<sid>                       conmon's symlink to the exec dir; sid = first 32 hex of the exec id
 *
 * With an attached client the order is conmon's `--exec-attach` handshake: start pipe, wait for
 * the attach pipe's `{"data": 0}` (the socket listens), connect, start pipe again (the runtime
 * child waits for that second byte before it execs runc), so no output is ever missed.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError } from '../errors';
import type { Runc } from './runc';
import { runtimeMessage } from './runc';
import { type ConmonProcess, spawnConmon } from './conmon-process';

export interface ExecLaunch {
  containerId: string;
  containerName: string;
  execId: string;
  /** The OCI `process` object (config.json's, overridden for this exec). */
  process: Record<string, unknown>;
  terminal: boolean;
  stdin: boolean;
  /**
   * Given when a client wants the session's stdio: called with the attach socket's path once
   * it listens and before the process runs; resolve once connected.
   */
  attach?: (socketPath: string) => Promise<void>;
}

export interface ExecSession {
  pid: number;
  /** The exit code; -1 if conmon went away without reporting one. */
  exited: Promise<number>;
}

/**
 * The runtime refused to run the process (no such binary, bad cwd or user). Docker records
 * 127 for a missing program and 126 for others as the exec's exit code.
 */
export class ExecStartError extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(exitCode === 126 && !/permission denied/.test(message) ? 'internal' : 'invalid', message);
  }
}

export class ExecMonitor {
  constructor(
    private readonly paths: { execRoot: string; conmon: string },
    private readonly runc: Runc,
  ) {
    fs.mkdirSync(join(paths.execRoot, 'exec'), { recursive: true, mode: 0o700 });
  }

  private dir(execId: string): string {
    return join(this.paths.execRoot, 'exec', execId);
  }

  async start(o: ExecLaunch): Promise<ExecSession> {
    const dir = this.dir(o.execId);
    fs.mkdirSync(join(dir, 'exit'), { recursive: true, mode: 0o700 });
    const spec = join(dir, 'process.json');
    fs.writeFileSync(spec, JSON.stringify(o.process));
    const sid = socketId(o.execId);
    const args = [
      '--api-version', '1', '-c', o.containerId, '-u', sid, '-n', o.containerName,
      '-r', this.runc.bin, ...this.runc.globalArgs.flatMap((a) => ['--runtime-arg', a]),
      '-b', dir, '-p', join(dir, 'pid'), '-l', 'none', '--exit-dir', join(dir, 'exit'),
      '--socket-dir-path', join(this.paths.execRoot, 's'), '--log-level', 'warning',
      '-e', '--exec-process-spec', spec,
      ...(o.attach ? ['--exec-attach'] : []), ...(o.terminal ? ['-t'] : []), ...(o.stdin ? ['-i'] : []),
    ];
    let conmon: ConmonProcess;
    try {
      conmon = spawnConmon(this.paths.conmon, args, { cwd: dir, tmpDir: join(this.paths.execRoot, 'tmp'), attach: !!o.attach });
    } catch (e) {
      this.cleanup(o.execId);
      throw e;
    }
    const { process: spawned, errors } = conmon;
    const sync = new LineReader(conmon.sync);
    const startPipe = conmon.start;
    // conmon holds the sync pipe until it exits: its end is the time to reap it.
    void sync.closed.then(() => spawned.reap()).then(() => errors.destroy());
    const gone = () => new BerthError('internal', `conmon failed: ${conmon.stderr().trim() || 'no sync message'}`);
    try {
      startPipe.write('0');
      if (o.attach) {
        const attachPipe = new LineReader(conmon.attach!);
        const ready = await attachPipe.next();
        attachPipe.destroy();
        if (ready === null) throw gone();
        const msg = JSON.parse(ready) as { data: number; message?: string };
        if (msg.data < 0) throw new BerthError('internal', `conmon attach failed: ${msg.message ?? ''}`);
        await o.attach(join(this.paths.execRoot, 's', sid, 'attach'));
        startPipe.write('0');
      }
      const first = await sync.next();
      if (first === null) throw gone();
      const msg = JSON.parse(first) as { data: number; message?: string };
      if (msg.data < 0) throw new ExecStartError(execErrorMessage(msg.message ?? 'runtime exec failed'), startExitCode(msg.message ?? ''));
      const exited = sync.next().then((line) => {
        sync.destroy();
        if (line === null) return readExitFile(join(dir, 'exit', o.containerId));
        const code = (JSON.parse(line) as { data: number }).data;
        return Number.isInteger(code) ? code : -1;
      }, () => -1);
      return { pid: msg.data, exited };
    } catch (e) {
      sync.destroy();
      this.cleanup(o.execId);
      throw e;
    } finally {
      startPipe.destroy();
    }
  }

  /** Resizes the session's pty through conmon's control fifo; a finished session ignores it. */
  resize(execId: string, height: number, width: number): void {
    let fd: number;
    try {
      // Non-blocking: ENXIO once conmon is gone, where a plain open would block forever.
      fd = fs.openSync(join(this.dir(execId), 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch {
      return;
    }
    try {
      fs.writeSync(fd, `1 ${height} ${width}\n`);
    } catch {
      // conmon exited between the open and the write.
    } finally {
      fs.closeSync(fd);
    }
  }

  cleanup(execId: string): void {
    fs.rmSync(this.dir(execId), { recursive: true, force: true });
    fs.rmSync(join(this.paths.execRoot, 's', socketId(execId)), { force: true });
  }

  /** Exec sessions do not outlive the daemon's records of them: removes every leftover. */
  sweep(): void {
    for (const name of fs.readdirSync(join(this.paths.execRoot, 'exec'))) this.cleanup(name);
  }
}

function socketId(execId: string): string {
  return execId.slice(0, 32);
}

function readExitFile(path: string): number {
  try {
    const n = Number(fs.readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) ? n : -1;
  } catch {
    return -1;
  }
}

/** Docker's exit codes for a process that never ran: 127 not found, 126 otherwise. */
function startExitCode(raw: string): number {
  return /executable file not found|no such file or directory/.test(raw) ? 127 : 126;
}

function execErrorMessage(raw: string): string {
  return `OCI runtime exec failed: ${runtimeMessage(raw) || raw.trim()}: unknown`;
}

/**
 * Newline-separated messages from a pipe, keeping what follows a newline for the next call:
 * conmon's pid and exit messages can arrive in one read when the process is short-lived.
 */
class LineReader {
  private buf = '';
  private ended = false;
  private waiter: (() => void) | null = null;
  /** Resolves when the stream has ended or been destroyed. */
  readonly closed: Promise<void>;

  constructor(private readonly stream: Readable) {
    this.closed = new Promise((r) => stream.once('close', () => r()));
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      this.buf += s;
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    stream.on('end', end);
    stream.on('error', end);
    stream.on('close', end);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.trim() !== '') return line;
        continue;
      }
      if (this.ended) {
        const rest = this.buf.trim();
        this.buf = '';
        return rest === '' ? null : rest;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  destroy(): void {
    this.ended = true;
    this.stream.destroy();
    this.wake();
  }
}
