/**
 * Starting conmon, for a container (monitor.ts) or an exec session (exec-monitor.ts): its
 * stdio and the pipes of its protocol, as OS pipes. fd 3 is the sync pipe (conmon reports the
 * pid, then for execs the exit code), fd 4 the start pipe (conmon waits for a byte there before
 * it runs the runtime), fd 5, for attached execs, the attach pipe (the socket listens).
 */
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../errors';
import { childPipe, spawnProcess, type SpawnedProcess } from './spawn';

export interface ConmonProcess {
  process: SpawnedProcess;
  sync: Readable;
  start: Writable;
  /** Only when asked for (attached execs). */
  attach?: Readable;
  /** conmon's stderr, kept as it comes. */
  errors: Readable;
  /** What conmon has written to stderr so far. */
  stderr(): string;
}

export function spawnConmon(bin: string, args: string[], o: { cwd: string; tmpDir: string; attach?: boolean }): ConmonProcess {
  const pipes = { stderr: childPipe(false), sync: childPipe(false), start: childPipe(true), ...(o.attach ? { attach: childPipe(false) } : {}) };
  let process: SpawnedProcess;
  try {
    process = spawnProcess(bin, args, {
      fds: ['null', 'null', pipes.stderr.theirs, pipes.sync.theirs, pipes.start.theirs, ...(pipes.attach ? [pipes.attach.theirs] : [])],
      cwd: o.cwd,
      env: {
        _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(o.attach ? { _OCI_ATTACHPIPE: '5' } : {}),
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC', TMPDIR: o.tmpDir,
      },
    });
  } catch (e) {
    for (const p of Object.values(pipes)) p.ours.destroy();
    throw new BerthError('internal', `cannot start conmon: ${(e as Error).message}`);
  } finally {
    for (const p of Object.values(pipes)) fs.closeSync(p.theirs);
  }
  let stderr = '';
  const errors = pipes.stderr.ours as Readable;
  errors.setEncoding('utf8');
  errors.on('data', (s: string) => (stderr += s));
  errors.on('error', () => {});
  const start = pipes.start.ours as Writable;
  start.on('error', () => {});
  return {
    process, sync: pipes.sync.ours as Readable, start, errors, stderr: () => stderr,
    ...(pipes.attach ? { attach: pipes.attach.ours as Readable } : {}),
  };
}
