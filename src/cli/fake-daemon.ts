/**
 * For the CLI's unit tests: a stand-in for berthd on a unix socket that records each request and
 * answers with what the test sets in `reply`, and a way to run a `berth` command against it
 * in-process, capturing its output and exit code.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { run } from './main';

export interface Seen {
  method: string;
  url: string;
  body: unknown;
}
export type Reply = { status: number; body?: unknown } | undefined;

export class FakeDaemon {
  seen: Seen[] = [];
  /** The answer to a request; undefined is a 404. */
  reply: (s: Seen) => Reply = () => undefined;
  private sock = '';
  private server: http.Server | undefined;

  async start(): Promise<void> {
    this.sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-')), 'd.sock');
    this.server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        if (req.method === 'HEAD') {
          res.writeHead(200, { 'Api-Version': '1.47' }).end();
          return;
        }
        const s: Seen = { method: req.method!, url: req.url!.replace(/^\/v[\d.]+/, ''), body: text ? JSON.parse(text) : undefined };
        this.seen.push(s);
        const r = this.reply(s) ?? { status: 404, body: { message: 'page not found' } };
        if (r.body === undefined) res.writeHead(r.status).end();
        else res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(r.body));
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.sock, r));
  }

  stop(): void {
    this.server?.close();
    fs.rmSync(path.dirname(this.sock), { recursive: true, force: true });
  }

  /** Runs `berth argv…` against this daemon with `stdin` as its input. */
  async berth(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
    this.seen = [];
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await run(['-H', `unix://${this.sock}`, ...argv], { stdout, stderr, stdin: Readable.from([stdin]) });
    return { code, out, err };
  }
}

/**
 * FakeDaemon records JSON bodies only; some commands (pull, push, load, build) also need the request headers, raw (tar)
 * bodies and streamed JSON-message answers, so this daemon keeps all three.
 */
export interface StreamRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
export type Answer = { status: number; headers?: Record<string, string>; body?: string | Buffer };

export class StreamDaemon {
  seen: StreamRequest[] = [];
  reply: (r: StreamRequest) => Answer | undefined = () => undefined;
  /** A temp dir of its own (its socket is in it); removed by stop(). */
  dir = '';
  private server: http.Server | undefined;

  get sock(): string {
    return path.join(this.dir, 'd.sock');
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dist-'));
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'HEAD') return void res.writeHead(200, { 'Api-Version': '1.47' }).end();
        const url = req.url!.replace(/^\/v[\d.]+/, '');
        const u = new URL(url, 'http://d');
        const r: StreamRequest = { method: req.method!, url, path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
        this.seen.push(r);
        const a = this.reply(r) ?? { status: 404, headers: { 'Content-Type': 'application/json' }, body: '{"message":"page not found"}' };
        res.writeHead(a.status, a.headers).end(a.body);
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.sock, r));
  }

  stop(): void {
    this.server?.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async berth(argv: string[], o: { stdin?: string | Buffer; stdinTTY?: boolean; stdoutTTY?: boolean } = {}) {
    this.seen = [];
    const stdout = Object.assign(new PassThrough(), o.stdoutTTY ? { isTTY: true, columns: 200 } : {});
    const stderr = new PassThrough();
    const stdin = o.stdinTTY
      ? Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[], setRawMode(this: { rawModes: boolean[] }, m: boolean) { this.rawModes.push(m); return this; } })
      : Readable.from([o.stdin ?? '']);
    if (o.stdinTTY) (stdin as PassThrough).end(o.stdin ?? '');
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await run(['-H', `unix://${this.sock}`, ...argv], { stdout, stderr, stdin });
    return { code, out, err, stdin };
  }
}

export const jsonLines = (msgs: object[]): Answer => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: msgs.map((m) => JSON.stringify(m) + '\r\n').join('') });
export const json = (status: number, body: unknown): Answer => ({ status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
