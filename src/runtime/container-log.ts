/**
 * Reads the log file conmon writes (its "k8s-file" format): one record per line,
 *   <RFC3339Nano with +00:00> <stdout|stderr> <F|P> <bytes>\n
 * F: the chunk ended a line (the \n is the record terminator); P: a partial line, continued by
 * the next record. Records of one stream are joined up to their F, as Docker's logs show lines.
 */
import * as fs from 'node:fs';

export interface LogRecord {
  /** RFC3339Nano in UTC, as Docker prints with --timestamps. */
  time: string;
  /** Seconds since the epoch, with the fraction (for since/until). */
  seconds: number;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface LogReadOptions {
  tail?: number; // last N lines; undefined = all
  since?: number; // seconds
  until?: number; // seconds
  follow?: boolean;
  /** Resolves when the container has stopped: a follower drains the file and ends. */
  stopped?: Promise<void>;
  signal?: AbortSignal;
}

const NL = 0x0a;

/** Incremental parser: feed bytes, take records. Joins P records per stream. */
export class LogParser {
  private rest: Buffer = Buffer.alloc(0);
  private readonly partial: Record<'stdout' | 'stderr', { first: LogRecord; parts: Buffer[] } | undefined> = { stdout: undefined, stderr: undefined };

  push(chunk: Buffer): LogRecord[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: LogRecord[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NL, start); nl >= 0; nl = buf.indexOf(NL, start)) {
      const rec = this.parseLine(buf.subarray(start, nl));
      if (rec) out.push(rec);
      start = nl + 1;
    }
    this.rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** Partial lines still open at the end of the file (a container that printed no final newline). */
  flush(): LogRecord[] {
    const out: LogRecord[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.partial[s];
      if (p) out.push({ ...p.first, data: Buffer.concat(p.parts) });
      this.partial[s] = undefined;
    }
    return out;
  }

  private parseLine(line: Buffer): LogRecord | undefined {
    // The prefix is ASCII and fixed-format; the content may be any bytes.
    const sp1 = line.indexOf(0x20);
    const sp2 = line.indexOf(0x20, sp1 + 1);
    const sp3 = line.indexOf(0x20, sp2 + 1);
    if (sp1 < 0 || sp2 < 0 || sp3 < 0) return undefined;
    const ts = line.toString('latin1', 0, sp1);
    const stream = line.toString('latin1', sp1 + 1, sp2);
    const tag = line.toString('latin1', sp2 + 1, sp3);
    if (stream !== 'stdout' && stream !== 'stderr') return undefined;
    const content = line.subarray(sp3 + 1);
    const time = ts.replace(/\+00:00$/, 'Z');
    const rec: LogRecord = { time, seconds: toSeconds(time), stream, data: content };
    const open = this.partial[stream];
    if (tag === 'P') {
      if (open) open.parts.push(Buffer.from(content));
      else this.partial[stream] = { first: { ...rec, data: Buffer.alloc(0) }, parts: [Buffer.from(content)] };
      return undefined;
    }
    const nl = Buffer.from([NL]);
    if (open) {
      this.partial[stream] = undefined;
      return { ...open.first, data: Buffer.concat([...open.parts, content, nl]) };
    }
    return { ...rec, data: Buffer.concat([content, nl]) };
  }
}

export function toSeconds(rfc3339: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (!m) return 0;
  const whole = Date.parse(m[1] + (m[3] === 'Z' ? 'Z' : m[3])) / 1000;
  return whole + (m[2] ? Number(`0.${m[2]}`) : 0);
}

export async function* readContainerLog(path: string, o: LogReadOptions): AsyncGenerator<LogRecord> {
  const parser = new LogParser();
  const keep = (r: LogRecord) => (o.since === undefined || r.seconds >= o.since) && (o.until === undefined || r.seconds <= o.until);
  let pos = 0;
  const readMore = async (filter = true): Promise<LogRecord[]> => {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(path, 'r');
    } catch {
      return [];
    }
    try {
      const out: LogRecord[] = [];
      const buf = Buffer.alloc(256 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const recs = parser.push(buf.subarray(0, bytesRead));
        out.push(...(filter ? recs.filter(keep) : recs));
      }
      return out;
    } finally {
      await fh.close();
    }
  };

  // Docker's json-file reader takes the last N lines first, then applies since/until.
  let initial = await readMore(false);
  if (!o.follow) initial.push(...parser.flush());
  if (o.tail !== undefined && o.tail >= 0) initial = o.tail === 0 ? [] : initial.slice(-o.tail);
  yield* initial.filter(keep);
  if (!o.follow) return;

  let stopped = false;
  void o.stopped?.then(() => (stopped = true));
  while (!o.signal?.aborted) {
    await waitForChange(path, o.stopped, o.signal);
    const wasStopped = stopped;
    yield* await readMore();
    if (wasStopped) break;
  }
  yield* parser.flush().filter(keep);
}

/** Resolves on a write to the file, on stop, on abort, or after a short poll interval. */
function waitForChange(path: string, stopped?: Promise<void>, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    try {
      watcher = fs.watch(path, done);
      watcher.on('error', done);
    } catch {
      // The file may not exist yet; the poll interval covers it.
    }
    signal?.addEventListener('abort', done);
    void stopped?.then(done);
  });
}
