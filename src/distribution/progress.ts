/**
 * The JSON-message stream Docker clients read during pulls, pushes and loads: one JSON object
 * per line with status, id, progressDetail {current,total} (and a preformatted bar for
 * clients that print `progress` as is), aux results, and errorDetail for a failure.
 */
import { humanSize } from '../wire/units';

export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { message: string };
}

export type ProgressSink = (m: ProgressMessage) => void;

/** Updates for one layer, at most every 100 ms (a client redraws on each one). */
export class LayerProgress {
  private last = 0;

  constructor(
    private readonly sink: ProgressSink,
    readonly id: string,
    private readonly action: string,
    private readonly total: number,
  ) {}

  status(status: string): void {
    this.sink({ status, progressDetail: {}, id: this.id });
  }

  update(current: number): void {
    const now = Date.now();
    if (now - this.last < 100 && current < this.total) return;
    this.last = now;
    this.sink({ status: this.action, progressDetail: { current, total: this.total }, progress: bar(current, this.total), id: this.id });
  }
}

/** Docker's bar: `[=====>        ]  12.3MB/45.6MB`. */
export function bar(current: number, total: number): string {
  const width = 50;
  if (total <= 0) return humanSize(current, 3);
  const filled = Math.min(width, Math.floor((current / total) * width));
  const arrow = filled < width ? '>' : '';
  return `[${'='.repeat(filled)}${arrow}${' '.repeat(Math.max(0, width - filled - arrow.length))}] ${humanSize(current, 3).padStart(8)}/${humanSize(total, 3)}`;
}
