/**
 * Docker's JSON-message streams (pull, push, load, import) drawn as docker's jsonmessage package
 * draws them. On a terminal each layer id owns one line, rewritten in place: the cursor lives on
 * the line below the last id line, moves up to the id's line, clears and rewrites it, and moves
 * back down. A message that is not a per-id progress line forgets the ids, so a later operation
 * (pull -a, the next tag) starts fresh lines. Off a terminal, messages carrying a non-empty
 * progress are skipped, so only status changes are printed.
 */
import type { Readable } from 'node:stream';
import { ApiError, jsonMessages } from '../client/client';
import { humanSize } from '../wire/units';
import { isTerminal } from './tty';

export interface ProgressDetail {
  current?: number;
  total?: number;
  /** Unix seconds the operation started; enables the time-left estimate. */
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

export interface JsonMessage {
  status?: string;
  id?: string;
  stream?: string;
  from?: string;
  progress?: string;
  progressDetail?: ProgressDetail | null;
  aux?: unknown;
  error?: string;
  errorDetail?: { code?: number; message?: string } | null;
}

export interface RenderOptions {
  /** Consume the stream (aux, errors) but print nothing: pull -q, run -q. */
  quiet?: boolean;
  /** Called with each message's aux value; such messages are not drawn. */
  onAux?: (aux: unknown) => void;
  /** Defaults: whether `out` is a terminal, its width (200 when unknown, as docker), the clock. */
  tty?: boolean;
  width?: number;
  now?: () => number;
}

interface Out {
  write(s: string): unknown;
}

const CLEAR_LINE = '\x1b[2K';
const up = (n: number) => (n > 0 ? `\x1b[${n}A` : '');
const down = (n: number) => (n > 0 ? `\x1b[${n}B` : '');

/**
 * Draws one stream. An in-band error ends it: the error is thrown as a plain Error, which the
 * CLI prints bare (docker shows these without "Error response from daemon").
 */
export async function renderJsonStream(res: Readable, out: Out, o: RenderOptions = {}): Promise<void> {
  const renderer = new JsonMessageRenderer(out, o);
  try {
    for await (const msg of jsonMessages(res)) renderer.render(msg as JsonMessage);
  } catch (e) {
    // jsonMessages reports an errorDetail line as an ApiError; here it is not a daemon response.
    if (e instanceof ApiError) throw new Error(e.message);
    throw e;
  }
}

export class JsonMessageRenderer {
  /** Each progress id's line, counted from the first id line since the last reset. */
  private ids = new Map<string, number>();
  private readonly tty: boolean;
  private readonly width: number;
  private readonly now: () => number;

  constructor(
    private readonly out: Out,
    private readonly o: RenderOptions = {},
  ) {
    this.tty = o.tty ?? isTerminal(out);
    this.width = o.width ?? ((isTerminal(out) && (out as { columns?: number }).columns) || 200);
    this.now = o.now ?? Date.now;
  }

  render(m: JsonMessage): void {
    if (m.aux !== undefined && m.aux !== null) {
      this.o.onAux?.(m.aux);
      return;
    }
    if (m.errorDetail || m.error) throw new Error(m.errorDetail?.message ?? m.error ?? '');
    if (this.o.quiet) return;
    const detail = m.progressDetail && typeof m.progressDetail === 'object' ? m.progressDetail : undefined;
    const bar = detail ? progressText(detail, this.width, this.now()) : m.progress || '';
    const isProgress = detail !== undefined || !!m.progress;
    if (!this.tty) {
      if (isProgress && bar !== '') return; // no progress bars off a terminal
      this.out.write(this.line(m, m.stream !== undefined && m.stream !== '' ? m.stream : `${m.status ?? ''}\n`));
      return;
    }
    let diff = 0;
    if (m.id && isProgress) {
      let line = this.ids.get(m.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(m.id, line);
        this.out.write('\n');
      }
      diff = this.ids.size - line;
      this.out.write(up(diff));
    } else {
      this.ids.clear();
    }
    if (m.stream) this.out.write(this.line(m, m.stream));
    else if (isProgress) this.out.write(`${CLEAR_LINE}\r${this.line(m, `${m.status ?? ''} ${bar}\r`)}`);
    else this.out.write(this.line(m, `${m.status ?? ''}\n`));
    if (m.id) this.out.write(down(diff));
  }

  private line(m: JsonMessage, text: string): string {
    return (m.id ? `${m.id}: ` : '') + (m.from ? `(from ${m.from}) ` : '') + text;
  }
}

/**
 * docker's JSONProgress.String(): a 50-step bar when the terminal is wider than 110 columns, the
 * byte counts in go-units' human sizes, and the time left when wider than 50 columns.
 */
export function progressText(p: ProgressDetail, width: number, nowMs: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  const percentage = Math.max(0, Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2)));
  const bar = width > 110 ? `[${'='.repeat(percentage)}>${' '.repeat(50 - percentage)}] ` : '';
  let numbers = '';
  if (p.hidecounts) numbers = '';
  else if (!p.units) numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  else numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  let left = '';
  if (width > 50 && current > 0 && (p.start ?? 0) > 0 && percentage < 50) {
    const perEntryNs = Math.trunc(((nowMs - p.start! * 1000) * 1e6) / current);
    left = ` ${goSeconds(Math.round(((total - current) * perEntryNs) / 1e9))}`;
  }
  return bar + numbers + left;
}

/** Go's time.Duration String() for a whole number of seconds: "0s", "42s", "1m40s", "2h0m5s". */
function goSeconds(s: number): string {
  const sign = s < 0 ? '-' : '';
  s = Math.abs(s);
  const h = Math.trunc(s / 3600);
  const m = Math.trunc((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${sign}${h}h${m}m${sec}s`;
  if (m > 0) return `${sign}${m}m${sec}s`;
  return `${sign}${sec}s`;
}
