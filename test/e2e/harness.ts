/**
 * End-to-end harness: a real berthd per test file, on its own temp data root, exec root and
 * socket, driven through the berth CLI, the docker CLI and raw HTTP. Cleanup removes what this
 * daemon made (its containers through the API, then the daemon, then any mount left under its
 * temp dir) and never touches anything else.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';

export const REPO = join(__dirname, '..', '..', '..');
const BERTHD = join(REPO, 'bin', 'berthd');
const BERTH = join(REPO, 'bin', 'berth');
const CACHE = join(REPO, '.cache');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A busybox rootfs tar from Debian's package, built once and cached in .cache/. */
export function busyboxTar(flavour: 'static' | 'dynamic' = 'static'): string {
  const out = join(CACHE, `busybox-${flavour}.tar`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(CACHE, { recursive: true });
    const r = require('node:child_process').spawnSync(join(REPO, 'scripts', 'make-busybox-rootfs.sh'), [out, flavour], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`building the busybox rootfs failed (${r.status})`);
  }
  return out;
}

export class Daemon {
  private proc: ChildProcess | undefined;
  private logChunks: string[] = [];
  private exitCode: Promise<number | null> = Promise.resolve(null);
  /** Extra berthd flags for the next launch (e.g. --live-restore=false). */
  extraArgs: string[] = [];
  /**
   * This daemon's default bridge: its own name, so it never meets the host's berth0. DNS
   * upstreams are on loopback (nothing listens there): a test's query never leaves the machine.
   */
  readonly bridge: string;

  private constructor(readonly dir: string) {
    this.bridge = `bt${createHash('sha256').update(dir).digest('hex').slice(0, 10)}`;
  }

  get socket(): string {
    return join(this.dir, 'berth.sock');
  }
  get host(): string {
    return `unix://${this.socket}`;
  }
  get dataRoot(): string {
    return join(this.dir, 'data');
  }
  get execRoot(): string {
    return join(this.dir, 'exec');
  }

  /** Starts a daemon in a fresh temp dir (or `dir`, to restart on the same state). */
  static async start(dir?: string): Promise<Daemon> {
    const d = new Daemon(dir ?? fs.mkdtempSync(join(os.tmpdir(), 'berth-e2e-')));
    await d.launch();
    return d;
  }

  async launch(): Promise<void> {
    this.logChunks.push(`--- daemon start ${new Date().toISOString()} ---\n`);
    const proc = spawn(BERTHD, ['-H', this.host, '--data-root', this.dataRoot, '--exec-root', this.execRoot, '--log-level', 'debug', '-b', this.bridge, '--dns', '127.0.0.1', ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (c: Buffer) => this.logChunks.push(c.toString()));
    proc.stderr!.on('data', (c: Buffer) => this.logChunks.push(c.toString()));
    this.exitCode = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}:\n${this.log()}`);
      if (await this.pingable()) return;
      await sleep(50);
    }
    throw new Error(`berthd did not answer within 15 s:\n${this.log()}`);
  }

  private pingable(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.request({ socketPath: this.socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
      req.end();
    });
  }

  log(): string {
    return this.logChunks.join('');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc?.exitCode ?? null;
    this.proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exitCode, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`berthd did not exit within ${timeoutMs} ms of ${signal}`);
    }
    return code;
  }

  /** kill -9: the daemon dies without any chance to clean up (a crash). */
  async crash(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exitCode;
  }

  /**
   * Removes every container and network of this daemon, stops it, then what a stopped daemon
   * leaves by design (its default bridge, its iptables rules, by this daemon's own names),
   * unmounts leftovers and deletes the dir.
   */
  async cleanup(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
        const list = await this.api('GET', '/containers/json?all=1');
        if (list.status === 200) {
          for (const c of JSON.parse(list.body) as { Id: string }[]) await this.api('DELETE', `/containers/${c.Id}?force=1`);
        }
        const nets = await this.api('GET', '/networks');
        if (nets.status === 200) {
          for (const n of JSON.parse(nets.body) as { Id: string; Name: string }[]) {
            if (!['bridge', 'host', 'none'].includes(n.Name)) await this.api('DELETE', `/networks/${n.Id}`);
          }
        }
        await this.stop();
      }
    } finally {
      removeNetworkLeftovers(this.bridge, this.ruleTag());
      unmountUnder(this.dir);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The tag of this daemon's iptables rules (berth:<first 8 hex of its engine id>). */
  ruleTag(): string | undefined {
    try {
      return `berth:${fs.readFileSync(join(this.dataRoot, 'engine-id'), 'utf8').trim().replace(/-/g, '').slice(0, 8)}`;
    } catch {
      return undefined;
    }
  }

  /** This daemon's iptables and ip6tables rules, as iptables-save prints them (IPv6 ones after "6 "). */
  rules(): string[] {
    const tag = this.ruleTag();
    if (!tag) return [];
    return ['iptables', 'ip6tables'].flatMap((bin) => ['filter', 'nat', 'raw'].flatMap((t) => execFileSync(`${bin}-save`, ['-t', t]).toString().split('\n')
      .filter((l) => l.includes(`"${tag}`) || l.includes(` ${tag}`)).map((l) => (bin === 'ip6tables' ? `6 ${l}` : l))));
  }

  private exec(bin: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Result> {
    return new Promise((resolve) => {
      const child = execFile(bin, args, {
        env: { ...process.env, ...opts.env },
        encoding: 'buffer',
        maxBuffer: 64 << 20,
        timeout: opts.timeoutMs ?? 60_000,
      }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : (child.exitCode ?? 1)) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin!.end();
    });
  }

  /** Runs the berth CLI against this daemon. */
  berth(args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Result> {
    // Its own docker config dir: `berth login` never writes the host user's credentials.
    return this.exec(BERTH, ['-H', this.host, ...args], { ...opts, env: { ...opts.env, DOCKER_CONFIG: join(this.dir, 'berth-config') } });
  }

  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<Result> {
    return this.exec('docker', args, { ...opts, env: { DOCKER_HOST: this.host, DOCKER_CONFIG: join(this.dir, 'docker-config') } });
  }

  /** The docker CLI, which must succeed: its stdout, or a failed assertion with its stderr. */
  async dockerOk(args: string[]): Promise<string> {
    const r = await this.docker(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** A raw API request; `body` is sent as given (string/Buffer) or as JSON. */
  api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const req = http.request({
        socketPath: this.socket, method, path,
        headers: { ...(payload !== undefined && !Buffer.isBuffer(body) && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}), ...headers },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Imports the busybox rootfs as `name` through the berth CLI. */
  async importBusybox(name = 'busybox', flavour: 'static' | 'dynamic' = 'static'): Promise<string> {
    const r = await this.berth(['import', busyboxTar(flavour), name]);
    if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
    return r.stdout.trim();
  }
}

/** Deletes a stopped daemon's default bridge and its rules (`tag`), by their names only. */
export function removeNetworkLeftovers(bridge: string, tag: string | undefined): void {
  require('node:child_process').spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  if (!tag) return;
  for (const bin of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'raw']) {
      const owned = execFileSync(`${bin}-save`, ['-t', table]).toString().split('\n')
        .filter((l) => l.startsWith('-A ') && (l.includes(`"${tag}`) || l.includes(` ${tag}`)));
      if (owned.length === 0) continue;
      const batch = `*${table}\n${owned.map((l) => `-D${l.slice(2)}`).join('\n')}\nCOMMIT\n`;
      require('node:child_process').spawnSync(`${bin}-restore`, ['--noflush', '-w'], { input: batch });
    }
  }
}

/** Lazily unmounts every mount below `dir`, deepest first (a failed test may leave one). */
export function unmountUnder(dir: string): void {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(dir + '/'));
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    require('node:child_process').spawnSync('umount', ['-l', m]);
  }
}

/**
 * test() that, when the test fails, prints the end of the daemon's log with the failure: the
 * daemon's side of the story is usually the part that explains it.
 */
export function daemonTest(daemon: () => Daemon | undefined) {
  return (name: string, fn: (t: TestContext) => Promise<void> | void, opts: { timeout?: number } = {}) =>
    test(name, { timeout: opts.timeout ?? 120_000 }, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        const log = daemon()?.log() ?? '';
        t.diagnostic(`berthd log (last 60 lines):\n${log.split('\n').slice(-60).join('\n')}`);
        throw e;
      }
    });
}

/**
 * The usual set-up of an e2e file: one daemon for the file (with the busybox image if asked),
 * handed to `use` before the tests run and cleaned up after them. Returns the file's test().
 */
export function useDaemon(opts: { busybox?: boolean }, use: (d: Daemon) => void): ReturnType<typeof daemonTest> {
  let daemon: Daemon | undefined;
  before(async () => {
    daemon = await Daemon.start();
    if (opts.busybox) await daemon.importBusybox();
    use(daemon);
  });
  after(async () => {
    await daemon?.cleanup();
  });
  return daemonTest(() => daemon);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value, at most `timeoutMs`. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A TCP port on 127.0.0.1 free a moment ago (the kernel picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:<port><path>: its status and body as text. */
export function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error(`GET ${path} timed out`));
      });
  });
}
