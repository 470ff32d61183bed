/**
 * What a CLI command is: its usage line, flags, and a run function that talks to the daemon
 * through the API client and returns the process exit code. Exit codes follow Docker's CLI:
 * 0 ok, 1 a daemon error or bad arguments, 125 a bad flag or a failure before a container ran.
 */
import type { ApiClient } from '../client/client';
import type { FlagSpec, ParsedFlags } from './flags';

export interface Io {
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
}

export interface CommandContext {
  args: string[];
  flags: ParsedFlags;
  client: ApiClient;
  io: Io;
  /** The name the user typed, for messages: "berth run" or "berth container run". */
  commandPath: string;
}

export interface Command {
  name: string;
  /** Other paths to the same command, e.g. ['container run'] or ['ps', 'container ls']. */
  aliases?: string[];
  usage: string; // "run [OPTIONS] IMAGE [COMMAND] [ARG...]"
  description: string;
  flags: FlagSpec[];
  /** false for commands whose trailing arguments belong to the container (run, create, exec). */
  interspersed?: boolean;
  args?: { min?: number; max?: number; exact?: number };
  run(ctx: CommandContext): Promise<number>;
}

/** A usage error that the dispatcher prints with the command's help pointer. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 125,
  ) {
    super(message);
  }
}

/** Runs `fn` for each argument; prints each failure as Docker does and reports exit 1 if any failed. */
export async function eachReportingErrors(ctx: CommandContext, items: string[], fn: (item: string) => Promise<void>): Promise<number> {
  let failed = false;
  for (const item of items) {
    try {
      await fn(item);
    } catch (e) {
      failed = true;
      ctx.io.stderr.write(`${daemonErrorText(e)}\n`);
    }
  }
  return failed ? 1 : 0;
}

/** "Error response from daemon: …" for API errors, the message otherwise. */
export function daemonErrorText(e: unknown): string {
  if (e instanceof Error && e.name === 'ApiError') return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
