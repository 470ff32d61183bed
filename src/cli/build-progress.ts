/**
 * A BuildKit-like view of the classic build stream, for terminals. The daemon speaks the
 * classic builder's lines ("Step 2/8 : RUN …", " ---> Using cache", " ---> 3f2a…"); the parser
 * turns them into steps with a state and a start and end time, and the view draws one line per
 * step, a running step's last output lines under it, rewritten in place (as progress.ts does for
 * pulls: the cursor goes back up over the previous frame, each line is cleared and redrawn).
 */

export type StepState = 'running' | 'done' | 'error' | 'canceled';

export interface BuildStep {
  /** "[2/8] RUN make" or "[internal] load build context". */
  label: string;
  cached: boolean;
  state: StepState;
  started: number;
  ended?: number;
  /** The step's output, only the last lines (LOG_LINES). */
  logs: string[];
  /** Sub-lines drawn as " => => text": transferring context, writing image, naming to. */
  details: string[];
  /** The RUN container (" ---> Running in <id>"), and whether it was removed: the step's end is next. */
  container?: string;
  removed?: boolean;
}

const LOG_LINES = 6;

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const IMAGE_ID = /^ ---> ([0-9a-f]{12,64})$/;
const RUNNING = /^ ---> Running in ([0-9a-f]+)$/;
const REMOVING = /^Removing intermediate container ([0-9a-f]+)$/;

/**
 * Steps from the classic lines. berthd builds independent stages at once, so their lines can
 * interleave and a new "Step" does not end the one before it. Each stage's lines come in order,
 * so the oldest step still open is the one a line is for: "Running in" goes to the oldest RUN
 * without a container, " ---> <id>" ends a RUN whose container was just removed, else the
 * oldest step without a container. Output goes to the latest RUN still running (two RUNs
 * printing at once cannot be told apart).
 */
export class ClassicStreamParser {
  readonly steps: BuildStep[] = [];
  readonly warnings: string[] = [];
  readonly tags: string[] = [];
  /** M of "Step N/M"; 0 until the first step. */
  total = 0;
  imageId: string | undefined;
  private partial = '';
  private current: BuildStep | undefined;
  private exporting: BuildStep | undefined;
  /** Where output before the first step goes (a base image being pulled). */
  private preamble: BuildStep | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A step the CLI itself does (sending the context): not from the stream. */
  internal(label: string): BuildStep {
    const s: BuildStep = { label: `[internal] ${label}`, cached: false, state: 'running', started: this.now(), logs: [], details: [] };
    this.steps.push(s);
    return s;
  }

  end(s: BuildStep, state: StepState = 'done'): void {
    if (s.state === 'running') {
      s.state = state;
      s.ended = this.now();
    }
  }

  /** A {"stream": …} text; may hold several lines or part of one. */
  feed(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const raw of lines) {
      // A progress bar redrawn with \r keeps only its last state.
      const line = raw.slice(raw.lastIndexOf('\r') + 1);
      this.line(line);
    }
  }

  aux(aux: unknown): void {
    const id = (aux as { ID?: unknown } | null)?.ID;
    if (typeof id !== 'string') return;
    this.imageId = id;
    for (const s of this.buildSteps()) this.end(s);
    this.exporting = { label: 'exporting to image', cached: false, state: 'running', started: this.now(), logs: [], details: [`writing image ${id}`] };
    this.steps.push(this.exporting);
  }

  /**
   * The stream ended. On a failure, the step that failed is the running RUN (or, with none,
   * the latest step); other steps still running were cut short.
   */
  finish(failed: boolean): void {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
    const running = this.steps.filter((s) => s.state === 'running');
    if (!failed) return running.forEach((s) => this.end(s));
    const culprit = this.runningRun() ?? this.current ?? running.find((s) => s.label.startsWith('[internal]'));
    for (const s of running) this.end(s, s === culprit ? 'error' : 'canceled');
  }

  /** Steps finished, for the "(done/total)" counter. */
  get done(): number {
    return this.buildSteps().filter((s) => s.state === 'done').length;
  }

  private buildSteps(): BuildStep[] {
    return this.steps.filter((s) => s.label.startsWith('[') && !s.label.startsWith('[internal]'));
  }

  private runningRun(): BuildStep | undefined {
    return this.steps.findLast((s) => s.state === 'running' && s.container !== undefined && !s.removed);
  }

  private line(line: string): void {
    const step = STEP.exec(line);
    if (step) {
      if (this.preamble) this.end(this.preamble);
      this.total = Number(step[2]);
      this.current = { label: `[${step[1]}/${step[2]}] ${step[3]}`, cached: false, state: 'running', started: this.now(), logs: [], details: [] };
      this.steps.push(this.current);
      return;
    }
    const open = this.steps.filter((s) => s.state === 'running' && !s.label.startsWith('[internal]'));
    if (line === ' ---> Using cache') {
      const s = open.find((x) => x.container === undefined && !x.cached) ?? this.current;
      if (s) s.cached = true;
      return;
    }
    const running = RUNNING.exec(line);
    if (running) {
      const s = open.find((x) => x.container === undefined && /^\[\d+\/\d+\] RUN\b/i.test(x.label)) ?? this.current;
      if (s) s.container = running[1];
      return;
    }
    const removing = REMOVING.exec(line);
    if (removing) {
      const s = this.steps.find((x) => x.container === removing[1]);
      if (s) s.removed = true;
      return;
    }
    if (IMAGE_ID.test(line)) {
      const s = open.find((x) => x.removed) ?? open.find((x) => x.container === undefined) ?? open[0];
      if (s) this.end(s);
      return;
    }
    if (line.startsWith(' ---> ') || line.startsWith('Successfully built ')) return;
    const tagged = /^Successfully tagged (.+)$/.exec(line);
    if (tagged) {
      this.tags.push(tagged[1]);
      this.exporting?.details.push(`naming to ${qualified(tagged[1])}`);
      return;
    }
    if (line.startsWith('[Warning] ')) {
      this.warnings.push(line);
      return;
    }
    if (line === '' && !this.current) return;
    const target = this.runningRun() ?? this.current ?? (this.preamble ??= this.internal('preparing'));
    target.logs.push(line);
    if (target.logs.length > LOG_LINES) target.logs.shift();
  }
}

/** docker.io/library/x:latest for "x:latest", as BuildKit names its tags. */
export function qualified(name: string): string {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return name;
  return `docker.io/${slash < 0 ? 'library/' : ''}${name}`;
}

export interface ViewOptions {
  width: number;
  /** Rows of the terminal: a frame never grows taller, so the cursor can always go back up. */
  height: number;
  started: number;
  now: number;
  finished: boolean;
}

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;

/** One line, cut to the width, its duration right-aligned as BuildKit draws it. */
function row(text: string, right: string, width: number): string {
  // The last column stays empty: a character there makes some terminals wrap.
  const room = Math.max(10, width - right.length - 2);
  const left = text.length > room ? text.slice(0, room - 1) + '…' : text.padEnd(room);
  return `${left} ${right}`;
}

/** The lines of one frame of the view. */
export function viewLines(p: ClassicStreamParser, o: ViewOptions): string[] {
  const header = `[+] Building ${seconds(o.now - o.started)} (${p.done}/${p.total})${o.finished ? ' FINISHED' : ''}`;
  const lines: string[] = [];
  for (const s of p.steps) {
    const prefix = s.state === 'error' ? 'ERROR ' : s.state === 'canceled' ? 'CANCELED ' : s.cached ? 'CACHED ' : '';
    lines.push(row(` => ${prefix}${s.label}`, seconds((s.ended ?? o.now) - s.started), o.width));
    for (const d of s.details) lines.push(row(` => => ${d}`, s.ended !== undefined || s.state !== 'running' ? seconds(0) : '', o.width));
    if (s.state !== 'done') for (const l of s.logs) lines.push(` => => # ${l}`.slice(0, Math.max(1, o.width - 1)));
  }
  const room = o.finished ? Infinity : Math.max(1, o.height - 2);
  return [header, ...(lines.length > room ? lines.slice(lines.length - room) : lines)];
}

interface Out {
  write(s: string): unknown;
}

/**
 * Draws frames in place on a terminal: each frame moves the cursor up over the previous one,
 * rewrites its lines and clears what the previous frame had below them.
 */
export class InPlaceView {
  private drawn = 0;

  constructor(private readonly out: Out) {}

  draw(lines: string[]): void {
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A\r` : '';
    for (const l of lines) s += `\x1b[2K${l}\n`;
    s += '\x1b[J';
    this.out.write(s);
    this.drawn = lines.length;
  }
}
