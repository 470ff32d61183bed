/**
 * Structured logs for the daemon, one line per event on stderr, in the logfmt style dockerd uses:
 *   time="2026-11-27T18:00:00.000Z" level=info msg="API listen on /run/berth/berth.sock" id=…
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function value(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[\w./:@-]+$/.test(s) ? s : JSON.stringify(s);
}

export function isLevel(s: string): s is Level {
  return s in ORDER;
}

export function createLogger(min: Level, out: NodeJS.WritableStream = process.stderr): LogFn {
  return (level, msg, fields = {}) => {
    if (ORDER[level] < ORDER[min]) return;
    const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${value(v)}`).join('');
    out.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}${extra}\n`);
  };
}
