/**
 * Reads the log file conmon writes (its "k8s-file" format): one record per line,
 *   <RFC3339Nano with +00:00> <stdout|stderr> <F|P> <bytes>\n
 * F: the chunk ended a line (the \n is the record terminator); P: a partial line, continued by
 * the next record. Records of one stream are joined up to their F, as Docker's logs show lines.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { logFiles } from './log-rotation';

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

// ---------------------------------------------------------------- finding where to start

/** A position in the log's files: the index in `logFiles()` order and a byte offset. */
interface Position {
  file: number;
  offset: number;
}

interface OpenFile {
  path: string;
  ino: number;
  fh: fs.promises.FileHandle;
  size: number;
}

const BLOCK = 64 * 1024;

/** The record header of a line: "<ts> <stream> <tag> ". */
function header(line: Buffer): { ts: string; stream: string; tag: string } | undefined {
  const sp1 = line.indexOf(0x20);
  const sp2 = sp1 < 0 ? -1 : line.indexOf(0x20, sp1 + 1);
  const sp3 = sp2 < 0 ? -1 : line.indexOf(0x20, sp2 + 1);
  if (sp3 < 0) return undefined;
  const stream = line.toString('latin1', sp1 + 1, sp2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  return { ts: line.toString('latin1', 0, sp1), stream, tag: line.toString('latin1', sp2 + 1, sp3) };
}

const secondsOf = (ts: string) => toSeconds(ts.replace(/\+00:00$/, 'Z'));

/** The complete lines of a file from its end backwards (without their newline), with their offsets. */
async function* linesBackward(f: OpenFile): AsyncGenerator<{ line: Buffer; start: number }> {
  let pos = f.size;
  let rest: Buffer = Buffer.alloc(0);
  let first = true;
  while (pos > 0) {
    const len = Math.min(BLOCK, pos);
    pos -= len;
    const block = Buffer.alloc(len);
    await f.fh.read(block, 0, len, pos);
    let buf = rest.length ? Buffer.concat([block, rest]) : block;
    let end = buf.length;
    if (first) {
      // A record being written (no newline yet) is not a line yet.
      const lastNl = buf.lastIndexOf(NL);
      if (lastNl < 0 && pos > 0) {
        rest = buf;
        continue;
      }
      end = lastNl + 1;
      first = false;
    }
    for (;;) {
      const i = end >= 2 ? buf.lastIndexOf(NL, end - 2) : -1;
      if (i < 0) break;
      yield { line: buf.subarray(i + 1, end - 1), start: pos + i + 1 };
      end = i + 1;
    }
    if (pos === 0) {
      if (end > 0) yield { line: buf.subarray(0, end - 1), start: 0 };
      return;
    }
    buf = buf.subarray(0, end);
    rest = Buffer.from(buf);
  }
}

/**
 * Where the last `n` lines begin, reading backwards from the end: a line is a run of P records
 * ended by an F record of the same stream, so after the n-th F the scan goes on until every
 * stream's line has its beginning (an earlier F of that stream, or the start of the log).
 */
async function tailStart(files: OpenFile[], n: number): Promise<Position> {
  let count = 0;
  const pending = new Set<string>();
  for (let fi = files.length - 1; fi >= 0; fi--) {
    for await (const { line, start } of linesBackward(files[fi])) {
      const h = header(line);
      if (!h) continue;
      if (h.tag === 'F') {
        pending.delete(h.stream);
        if (count >= n && pending.size === 0) return { file: fi, offset: start + line.length + 1 };
        if (count < n) {
          count++;
          pending.add(h.stream);
        }
      } else if (!pending.has(h.stream) && count < n) {
        count++; // an unfinished last line: shown as a line when not following
        pending.add(h.stream);
      }
    }
  }
  return { file: 0, offset: 0 };
}

/** The offset of the first line starting at or after `pos`, and its time. */
async function lineAt(f: OpenFile, pos: number): Promise<{ start: number; seconds: number | undefined }> {
  let start = pos;
  if (pos > 0) {
    const buf = Buffer.alloc(BLOCK);
    let at = pos - 1;
    for (;;) {
      const { bytesRead } = await f.fh.read(buf, 0, BLOCK, at);
      if (bytesRead === 0) return { start: f.size, seconds: undefined };
      const i = buf.subarray(0, bytesRead).indexOf(NL);
      if (i >= 0) {
        start = at + i + 1;
        break;
      }
      at += bytesRead;
    }
  }
  const head = Buffer.alloc(64);
  const { bytesRead } = await f.fh.read(head, 0, 64, start);
  const h = header(head.subarray(0, bytesRead));
  return { start, seconds: h ? secondsOf(h.ts) : undefined };
}

/**
 * Where records at or after `since` begin. Records are in time order across the files, so
 * files whose last record is older are skipped, and the first one that reaches `since` is
 * bisected by offset down to one block; the reader's filter drops the few older lines left.
 */
async function sinceStart(files: OpenFile[], since: number): Promise<Position> {
  for (let fi = 0; fi < files.length; fi++) {
    const f = files[fi];
    let last: number | undefined;
    for await (const { line } of linesBackward(f)) {
      const h = header(line);
      if (h) {
        last = secondsOf(h.ts);
        break;
      }
    }
    if (last === undefined || last < since) continue;
    let lo = 0;
    let hi = f.size;
    while (hi - lo > BLOCK) {
      const mid = Math.floor((lo + hi) / 2);
      const at = await lineAt(f, mid);
      if (at.seconds !== undefined && at.seconds < since && at.start < hi) lo = at.start;
      else hi = mid;
    }
    return { file: fi, offset: (await lineAt(f, lo)).start };
  }
  const lastFile = files.length - 1;
  return { file: Math.max(lastFile, 0), offset: lastFile >= 0 ? files[lastFile].size : 0 };
}

// ---------------------------------------------------------------- reading

/** Opens the log's files (oldest first) as one consistent set: a rotation in between is retried. */
async function openFiles(path: string): Promise<OpenFile[]> {
  for (let attempt = 0; ; attempt++) {
    const listed = logFiles(path);
    const opened: OpenFile[] = [];
    let consistent = true;
    for (const l of listed) {
      let fh: fs.promises.FileHandle;
      try {
        fh = await fs.promises.open(l.path, 'r');
      } catch {
        consistent = false;
        continue;
      }
      const st = await fh.stat();
      if (st.ino !== l.ino) consistent = false;
      opened.push({ path: l.path, ino: st.ino, fh, size: st.size });
    }
    if (consistent || attempt >= 3) return opened;
    await Promise.all(opened.map((f) => f.fh.close()));
  }
}

export async function* readContainerLog(path: string, o: LogReadOptions): AsyncGenerator<LogRecord> {
  const parser = new LogParser();
  const keep = (r: LogRecord) => (o.since === undefined || r.seconds >= o.since) && (o.until === undefined || r.seconds <= o.until);
  const pastUntil = (r: LogRecord) => o.until !== undefined && r.seconds > o.until;
  let files = await openFiles(path);
  try {
    let start: Position;
    if (o.tail === 0) start = { file: Math.max(files.length - 1, 0), offset: files.length ? files[files.length - 1].size : 0 };
    else if (o.tail !== undefined && o.tail > 0) start = await tailStart(files, o.tail);
    else if (o.since !== undefined && o.since > 0) start = await sinceStart(files, o.since);
    else start = { file: 0, offset: 0 };

    // Docker's json-file reader takes the last N lines first, then applies since/until.
    let tailRecords: LogRecord[] | undefined = o.tail !== undefined && o.tail > 0 ? [] : undefined;
    let done = false;
    const emit = function* (recs: LogRecord[]): Generator<LogRecord> {
      for (const r of recs) {
        if (pastUntil(r) && !o.follow && !tailRecords) {
          done = true;
          return;
        }
        if (tailRecords) tailRecords.push(r);
        else if (keep(r)) yield r;
      }
    };
    // The live file (the last) stays open for following: its position is kept.
    let livePos = 0;
    for (let fi = start.file; fi < files.length && !done; fi++) {
      let pos = fi === start.file ? start.offset : 0;
      pos = yield* readFrom(files[fi], pos, parser, emit, () => done);
      if (fi === files.length - 1) livePos = pos;
    }
    if (!o.follow) {
      if (!done) yield* emit(parser.flush());
    }
    if (tailRecords) {
      const last = tailRecords.slice(-o.tail!).filter(keep);
      tailRecords = undefined;
      yield* last;
    }
    if (!o.follow || done) return;

    let stopped = false;
    void o.stopped?.then(() => (stopped = true));
    let live = files[files.length - 1] as OpenFile | undefined;
    while (!o.signal?.aborted) {
      await waitForChange(path, o.stopped, o.signal);
      const wasStopped = stopped;
      if (live) livePos = yield* readFrom(live, livePos, parser, emit, () => false);
      // conmon cut the file: finish the old one, then read the cuts after it, then the new file.
      const now = logFiles(path);
      if (now.length && now[now.length - 1].ino !== live?.ino) {
        if (live) yield* readFrom(live, livePos, parser, emit, () => false);
        const next = await openFiles(path);
        const idx = live ? next.findIndex((f) => f.ino === live!.ino) : -1;
        const between = live ? (idx >= 0 ? next.slice(idx + 1, -1) : []) : next.slice(0, -1);
        for (const f of between) yield* readFrom(f, 0, parser, emit, () => false);
        await Promise.all([...files, ...next.slice(0, -1)].map((f) => f.fh.close().catch(() => {})));
        live = next[next.length - 1];
        files = live ? [live] : [];
        livePos = live ? yield* readFrom(live, 0, parser, emit, () => false) : 0;
      }
      if (wasStopped || (o.until !== undefined && Date.now() / 1000 > o.until)) break;
    }
    yield* parser.flush().filter(keep);
  } finally {
    await Promise.all(files.map((f) => f.fh.close().catch(() => {})));
  }
}

/** Reads a file from `pos` to its current end through the parser; returns the new position. */
async function* readFrom(
  f: OpenFile, pos: number, parser: LogParser, emit: (recs: LogRecord[]) => Generator<LogRecord>, stop: () => boolean,
): AsyncGenerator<LogRecord, number> {
  const buf = Buffer.alloc(256 * 1024);
  for (;;) {
    const { bytesRead } = await f.fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return pos;
    pos += bytesRead;
    yield* emit(parser.push(buf.subarray(0, bytesRead)));
    if (stop()) return pos;
  }
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
      // The directory, not the file: conmon's cut replaces the file under its name.
      watcher = fs.watch(dirname(path), done);
      watcher.on('error', done);
    } catch {
      // The poll interval covers it.
    }
    signal?.addEventListener('abort', done);
    void stopped?.then(done);
  });
}
