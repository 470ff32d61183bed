/**
 * The client side of interactive sessions (run -it, exec -it, attach): the terminal in raw mode
 * for the session and restored whatever ends it, the terminal size sent at the start and on
 * every SIGWINCH, and the copy loop between the terminal and a hijacked connection. With a TTY,
 * the detach keys are watched here, as the docker CLI does, so a detach never reaches the
 * container; the daemon watches for them too, for clients that don't.
 */
import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ReadStream, WriteStream } from 'node:tty';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../wire/detach-keys';
import { Demuxer, StreamId } from '../wire/stdcopy';
import type { Io } from './command';

/** The docker CLI's words when -t -i is asked for without a terminal on stdin. */
export const NOT_A_TTY = 'the input device is not a TTY';

export function isTerminal(s: unknown): boolean {
  return (s as { isTTY?: boolean }).isTTY === true;
}

/** Rows and columns of the terminal on stdout, or null when stdout is not one. */
export function terminalSize(io: Io): [number, number] | null {
  const out = io.stdout as WriteStream;
  if (!isTerminal(out) || !out.rows || !out.columns) return null;
  return [out.rows, out.columns];
}

/**
 * Puts stdin in raw mode until the returned function is called. The mode is also restored if
 * the process exits or is killed by a signal before that.
 */
export function rawMode(io: Io): () => void {
  const stdin = io.stdin as ReadStream;
  if (!isTerminal(stdin) || typeof stdin.setRawMode !== 'function') return () => {};
  stdin.setRawMode(true);
  // libuv's raw mode keeps output processing (\n → \r\n); the program's own pty already did
  // that, so turn it off as Go's MakeRaw does. Node's setRawMode(false) restores the saved mode.
  if ((stdin as unknown as { fd?: number }).fd === 0) spawnSync('stty', ['-opost'], { stdio: [0, 'ignore', 'ignore'], timeout: 2000 });
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      stdin.setRawMode(false);
    } catch {
      // The terminal is gone.
    }
    process.off('exit', restore);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, sig);
  };
  process.on('exit', restore);
  for (const s of SIGNALS) process.once(s, onSignal);
  return restore;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

/** Calls `send` with the terminal's size now and whenever it changes; returns a stop function. */
export function followTerminalSize(io: Io, send: (h: number, w: number) => Promise<void> | void): () => void {
  const out = io.stdout as WriteStream;
  if (!isTerminal(out)) return () => {};
  const push = () => {
    const size = terminalSize(io);
    if (size) void Promise.resolve(send(size[0], size[1])).catch(() => {});
  };
  push();
  out.on('resize', push);
  return () => out.off('resize', push);
}

export interface SessionOptions {
  /** Send our stdin to the connection. */
  stdin: boolean;
  tty: boolean;
  /** Docker's format; '' for the default ctrl-p,ctrl-q. Only watched with a TTY. */
  detachKeys: string;
  /** Input is held until this resolves (a container's stdin exists only once it is started). */
  inputAfter?: Promise<void>;
}

/**
 * Copies a hijacked connection to the terminal (raw with a TTY, demultiplexed otherwise) and,
 * if asked, stdin to the connection. Resolves with 'ended' when the output is over, or with
 * 'detached' when the user typed the detach keys.
 */
export function runSession(socket: Socket, contentType: string, io: Io, o: SessionOptions, onOutputEnd?: () => void): Promise<'ended' | 'detached'> {
  const raw = o.tty || !contentType.includes('multiplexed');
  const demux = new Demuxer();
  const stdin = io.stdin as Readable;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (how: 'ended' | 'detached') => {
      if (settled) return;
      settled = true;
      stdin.off('data', onInput);
      stdin.off('end', onInputEnd);
      stdin.pause();
      if (how === 'detached') socket.destroy();
      resolve(how);
    };
    socket.on('data', (chunk: Buffer) => {
      if (raw) {
        io.stdout.write(chunk);
        return;
      }
      for (const f of demux.push(chunk)) (f.stream === StreamId.Stderr ? io.stderr : io.stdout).write(f.data);
    });
    const ended = () => {
      onOutputEnd?.();
      finish('ended');
    };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', ended);
    let keys: readonly number[] = DEFAULT_DETACH_KEYS;
    if (o.detachKeys) {
      try {
        keys = parseDetachKeys(o.detachKeys);
      } catch {
        // As the docker CLI: a bad sequence falls back to the default (the daemon rejected it already).
      }
    }
    const scanner = o.tty ? new DetachScanner(keys) : null;
    const onInput = (d: Buffer) => {
      if (!scanner) {
        socket.write(d);
        return;
      }
      const { forward, detached } = scanner.push(d);
      if (forward.length > 0) socket.write(forward);
      if (detached) finish('detached');
    };
    const onInputEnd = () => socket.end();
    if (o.stdin) {
      void (o.inputAfter ?? Promise.resolve()).then(() => {
        if (settled) return;
        stdin.on('data', onInput);
        stdin.on('end', onInputEnd);
        stdin.resume();
      });
    }
  });
}
