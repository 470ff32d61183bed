/**
 * Line prompts on the terminal, as docker login asks for a username and a password: the prompt
 * goes to stdout, the answer is one line of stdin, trimmed. A secret is read with the terminal in
 * raw mode so nothing is echoed; raw mode also turns off the terminal's own line editing and
 * ^C, so backspace, ^U, ^C and ^D are handled here.
 */
import type { Readable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import type { Io } from './command';

/** Reads up to and including the next newline; what came after it is put back for the next read. */
function readLine(stdin: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (line: string) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', reject);
      stdin.pause();
      resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const rest = buf.slice(nl + 1);
      done(buf.slice(0, nl));
      if (rest) stdin.unshift(Buffer.from(rest));
    };
    const onEnd = () => done(buf);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', reject);
    stdin.resume();
  });
}

export async function readInput(io: Io, prompt: string): Promise<string> {
  io.stdout.write(prompt);
  return (await readLine(io.stdin as Readable)).trim();
}

/** Like readInput, without echo; the newline the user typed is not echoed either, so print one after. */
export async function readSecret(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin as ReadStream;
  if (typeof stdin.setRawMode !== 'function') return readInput(io, prompt);
  io.stdout.write(prompt);
  stdin.setRawMode(true);
  try {
    return (await readRawLine(stdin)).trim();
  } finally {
    stdin.setRawMode(false);
  }
}

function readRawLine(stdin: ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\x03') {
          // ^C: what the terminal would have done in cooked mode.
          stdin.setRawMode(false);
          process.kill(process.pid, 'SIGINT');
          return finish(new Error('interrupted'));
        }
        if (ch === '\x04' && text === '') return finish();
        if (ch === '\x7f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch === '\x15') text = '';
        else if (ch >= ' ') text += ch;
      }
    };
    const onEnd = () => finish();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  });
}
