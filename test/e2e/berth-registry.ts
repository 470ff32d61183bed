/**
 * `berth registry serve` as a child process for e2e tests: started on a free loopback port
 * (`--addr 127.0.0.1:0`), ready once it prints its "serving" line, stopped by its PID (SIGTERM,
 * SIGKILL if it lingers) with its temp dir deleted. Keeps the tail of its output, whose request
 * lines make failure messages say what the clients asked.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { REPO, sleep } from './harness';

const BERTH = join(REPO, 'bin', 'berth');
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export class BerthRegistry {
  /** 127.0.0.1:<port>, from the "serving" line. */
  host = '';
  scheme = 'http';
  private log = '';
  private readonly exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    /** The temp dir this registry owns (deleted by stop()). */
    readonly dir: string,
    /** Its storage root (the dir itself or inside it). */
    readonly root: string,
  ) {
    this.exited = new Promise((resolve) => proc.on('close', () => resolve()));
    const keep = (c: Buffer) => {
      this.log = (this.log + c.toString()).slice(-64 << 10);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
  }

  /** Serves `root` (inside or equal to `dir`) with `args` added to `registry serve --addr 127.0.0.1:0`. */
  static async start(dir: string, root: string, args: string[]): Promise<BerthRegistry> {
    const proc = spawn(process.execPath, [BERTH, 'registry', 'serve', '--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const reg = new BerthRegistry(proc, dir, root);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const m = /berth registry serving (https?):\/\/(127\.0\.0\.1:\d+) from (\S+)\n/.exec(reg.log);
      if (m) {
        assert.equal(m[3], root);
        [, reg.scheme, reg.host] = m;
        return reg;
      }
      if (proc.exitCode !== null || proc.signalCode !== null) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`berth registry serve exited (${proc.exitCode ?? proc.signalCode}):\n${reg.log}`);
      }
      if (Date.now() > deadline) {
        await reg.stop();
        throw new Error(`berth registry serve printed no "serving" line within ${READY_TIMEOUT_MS} ms:\n${reg.log}`);
      }
      await sleep(25);
    }
  }

  /** SIGTERM, wait for the exit (SIGKILL if it does not come), delete the dir. */
  async stop(): Promise<void> {
    try {
      if (this.proc.exitCode === null && this.proc.signalCode === null) {
        this.proc.kill('SIGTERM');
        if (!(await within(this.exited, STOP_TIMEOUT_MS))) {
          this.proc.kill('SIGKILL');
          await within(this.exited, STOP_TIMEOUT_MS);
          throw new Error(`berth registry serve did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
        }
      }
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The request lines it logged so far ("METHOD /path?query STATUS"). */
  requests(): string[] {
    return [...this.log.matchAll(/"([A-Z]+ \S+)" (\d{3})/g)].map((m) => `${m[1]} ${m[2]}`);
  }

  blobs(): string[] {
    return fs
      .readdirSync(join(this.root, 'blobs', 'sha256'))
      .map((h) => `sha256:${h}`)
      .sort();
  }

  url(path: string): string {
    return `${this.scheme}://${this.host}${path}`;
  }
}

export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}
