/**
 * Log rotation for conmon's k8s-file log, with json-file's options (max-size, max-file).
 *
 * conmon does the cut itself: with `--log-size-max N` it starts a new file (it opens
 * `ctr.log.tmp` and renames it over `ctr.log`) just before a write would take the file past N
 * bytes, so no file ever exceeds max-size, however fast the container writes and whether or
 * not berthd is running. On its own that would drop the old file. berthd keeps it: the live
 * file always has a second name, `ctr.log.held` (a hard link), so conmon's rename only takes
 * the name `ctr.log` away; berthd then shifts `held` to `.1`, `.1` to `.2` … and drops what
 * falls past max-file, and links the new live file as `held`.
 *
 * (Why not rename + conmon's "reopen" control message: conmon's size counter is not reset by
 * that message, so its --log-size-max cut would come at arbitrary points and drop a file.)
 *
 * Files, oldest first: ctr.log.<max-file - 1> … ctr.log.1, ctr.log.held (only while it is not
 * the live file: a cut berthd has not shifted yet), ctr.log. While berthd is down a log stays
 * bounded: at most max-file + 1 files of max-size (cuts beyond the first are lost until berthd
 * is back).
 */
import * as fs from 'node:fs';
import { basename, dirname } from 'node:path';
import { invalid } from '../errors';

export interface LogOptions {
  maxSize: number; // bytes; 0 = unbounded
  maxFile: number; // files kept, the live one included
}

/** berth's default is bounded (Docker's json-file grows without limit unless told otherwise). */
export const DEFAULT_LOG_CONFIG: Record<string, string> = { 'max-file': '5', 'max-size': '20m' };

const JSON_FILE_OPTS = new Set(['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']);

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/**
 * A container's LogConfig as Docker stores it: the daemon's defaults merged under the
 * request's options (so inspect shows the options in force), validated with json-file's errors.
 */
export function normalizeLogConfig(raw: unknown): LogConfig {
  const lc = (raw ?? {}) as { Type?: unknown; Config?: unknown };
  const type = typeof lc.Type === 'string' && lc.Type !== '' ? lc.Type : 'json-file';
  const given = (lc.Config && typeof lc.Config === 'object' ? lc.Config : {}) as Record<string, string>;
  if (type !== 'json-file') return { Type: type, Config: given };
  for (const key of Object.keys(given)) if (!JSON_FILE_OPTS.has(key)) throw invalid(`unknown log opt '${key}' for json-file log driver`);
  const config = { ...DEFAULT_LOG_CONFIG, ...given };
  logOptions(config);
  return { Type: type, Config: Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/** max-size/max-file as json-file reads them (go-units sizes, decimal: 10k = 10000 bytes). */
export function logOptions(config: Record<string, string> | undefined): LogOptions {
  const c = config ?? DEFAULT_LOG_CONFIG;
  let maxSize = 0;
  if (c['max-size'] !== undefined) {
    maxSize = fromHumanSize(c['max-size']);
    if (maxSize <= 0) throw invalid('max-size must be a positive number');
  }
  let maxFile = 1;
  if (c['max-file'] !== undefined) {
    const s = c['max-file'];
    if (!/^[+-]?\d+$/.test(s)) throw invalid(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
    maxFile = Number(s);
    if (maxFile < 1) throw invalid('max-file cannot be less than 1');
  }
  return { maxSize, maxFile };
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** go-units FromHumanSize. */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s.trim());
  if (!m) throw invalid(`invalid size: '${s}'`);
  return Math.trunc(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
}

export const heldPath = (logPath: string) => `${logPath}.held`;
const rotatedPath = (logPath: string, n: number) => `${logPath}.${n}`;

const inode = (p: string): number | undefined => {
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
};

/** The log's files, oldest first (see the header), each with its inode. */
export function logFiles(logPath: string): { path: string; ino: number }[] {
  const base = basename(logPath);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dirname(logPath));
  } catch {
    return [];
  }
  const numbered = names
    .map((n) => (n.startsWith(base + '.') ? /^\d+$/.exec(n.slice(base.length + 1))?.[0] : undefined))
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  const out: { path: string; ino: number }[] = [];
  for (const n of numbered) {
    const p = rotatedPath(logPath, n);
    const ino = inode(p);
    if (ino !== undefined) out.push({ path: p, ino });
  }
  const live = inode(logPath);
  const held = inode(heldPath(logPath));
  if (held !== undefined && held !== live) out.push({ path: heldPath(logPath), ino: held });
  if (live !== undefined) out.push({ path: logPath, ino: live });
  return out;
}

/**
 * Shifts a cut conmon made (held is no longer the live file) into the numbered files and links
 * the live file as held. Idempotent; safe to call at any time.
 */
export function reconcileRotation(logPath: string, maxFile: number): void {
  const live = inode(logPath);
  if (live === undefined) return;
  const held = heldPath(logPath);
  const heldIno = inode(held);
  if (heldIno !== undefined && heldIno !== live) {
    const keep = maxFile - 1;
    fs.rmSync(rotatedPath(logPath, Math.max(keep, 1)), { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      if (inode(rotatedPath(logPath, i)) !== undefined) fs.renameSync(rotatedPath(logPath, i), rotatedPath(logPath, i + 1));
    }
    if (keep >= 1) fs.renameSync(held, rotatedPath(logPath, 1));
    else fs.rmSync(held, { force: true });
  }
  if (inode(held) !== live) {
    fs.rmSync(held, { force: true });
    try {
      fs.linkSync(logPath, held);
    } catch {
      // conmon cut again meanwhile: the next event links the newer file.
    }
  }
}

/** How often a keeper checks without an event (inotify can coalesce or miss renames). */
const POLL_MS = 2000;

const keepers = new Map<string, { stop(): void }>();

/**
 * Keeps a running container's rotated files (one keeper per log; a later call replaces it).
 * Stops by itself once `alive()` says the container's monitor is gone.
 */
export function keepRotated(logPath: string, opts: LogOptions, alive: () => boolean, onError: (e: unknown) => void = () => {}): void {
  keepers.get(logPath)?.stop();
  if (opts.maxSize <= 0) return;
  let watcher: fs.FSWatcher | undefined;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    try {
      reconcileRotation(logPath, opts.maxFile);
    } catch (e) {
      onError(e);
    }
  };
  const timer = setInterval(() => {
    run();
    if (!alive()) stop();
  }, POLL_MS);
  timer.unref();
  function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    watcher?.close();
    if (keepers.get(logPath) === handle) keepers.delete(logPath);
  }
  const handle = { stop };
  keepers.set(logPath, handle);
  try {
    // Only 'rename' (a file created or replaced): 'change' fires on every line conmon writes,
    // and a chatty container must not wake the daemon per line.
    watcher = fs.watch(dirname(logPath), (ev, name) => {
      if (ev === 'rename' && name === basename(logPath)) run();
    });
    watcher.on('error', stop); // the container's directory was removed
  } catch {
    // The poll still keeps it.
  }
  run();
}

/** Stops keeping a log (container removed). */
export function stopKeeping(logPath: string): void {
  keepers.get(logPath)?.stop();
}
