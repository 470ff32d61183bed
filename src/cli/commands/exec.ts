/**
 * exec and attach: the docker CLI's sequences. exec: inspect the container (so "no such
 * container" wins), create the exec, start it (hijacked, or detached), then read its exit code
 * from exec inspect. attach: wait (so the exit code is not missed), inspect, hijack, and exit
 * with the container's code, or at once when the user detaches.
 */
import * as fs from 'node:fs';
import type { ApiClient } from '../../client/client';
import { proxySignals } from '../signal-proxy';
import { type Command, type CommandContext, daemonErrorText } from '../command';
import type { FlagSpec } from '../flags';
import { followTerminalSize, isTerminal, NOT_A_TTY, rawMode, runSession, terminalSize } from '../tty';

const EXEC_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
  { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to the command' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
];

/** KEY=VALUE as given; a bare KEY takes the client's own value, and is dropped when unset. */
function expandEnv(values: string[]): string[] {
  return values.flatMap((e) => {
    if (e.includes('=')) return [e];
    const v = process.env[e];
    return v === undefined ? [] : [`${e}=${v}`];
  });
}

/** Docker's env files: one KEY=VALUE (or bare KEY) a line; blank lines and # comments skipped. */
export function readEnvFile(path: string): string[] {
  const text = fs.readFileSync(path, 'utf8');
  const lines = text.split(/\r?\n/).map((l) => l.replace(/^\s+/, '')).filter((l) => l !== '' && !l.startsWith('#'));
  for (const l of lines) {
    const key = l.split('=', 1)[0];
    if (key === '') throw new Error(`invalid environment variable: ${l}`);
    if (/\s/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
  }
  return expandEnv(lines);
}

const exec: Command = {
  name: 'exec',
  aliases: ['container exec'],
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  flags: EXEC_FLAGS,
  interspersed: false,
  args: { min: 2 },
  async run(ctx) {
    const { flags, args, client, io } = ctx;
    const [container, ...cmd] = args;
    const detach = flags.bool('detach');
    const tty = flags.bool('tty');
    const stdin = !detach && flags.bool('interactive');
    let env: string[];
    try {
      env = [...flags.list('env-file').flatMap(readEnvFile), ...expandEnv(flags.list('env'))];
    } catch (e) {
      io.stderr.write(`${(e as Error).message}\n`);
      return 1;
    }
    // As the docker CLI: "no such container" first, then the terminal check, then create.
    await client.json('GET', `/containers/${encodeURIComponent(container)}/json`);
    if (!detach && stdin && tty && !isTerminal(io.stdin)) {
      io.stderr.write(`${NOT_A_TTY}\n`);
      return 1;
    }
    const size = tty ? terminalSize(ctx.io) : null;
    const body = {
      User: flags.string('user'),
      Privileged: flags.bool('privileged'),
      Tty: tty,
      ConsoleSize: size,
      AttachStdin: stdin,
      AttachStdout: !detach,
      AttachStderr: !detach,
      DetachKeys: flags.string('detach-keys'),
      Env: env,
      WorkingDir: flags.string('workdir'),
      Cmd: cmd,
    };
    const { Id: id } = await client.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, { body });
    if (detach) {
      await client.call('POST', `/exec/${id}/start`, { body: { Detach: true, Tty: tty, ConsoleSize: size } });
      return 0;
    }
    const { socket, contentType } = await client.hijack(`/exec/${id}/start`, {}, { Detach: false, Tty: tty, ConsoleSize: size });
    const restore = tty && stdin ? rawMode(io) : () => {};
    const stopResize = tty ? followTerminalSize(io, (h, w) => resize(client, `/exec/${id}/resize`, h, w)) : () => {};
    let how;
    try {
      how = await runSession(socket, contentType, io, { stdin, tty, detachKeys: flags.string('detach-keys') }, restore);
    } finally {
      stopResize();
      restore();
    }
    if (how === 'detached') {
      io.stderr.write('read escape sequence\n');
      return 1;
    }
    const info = await client.json<{ ExitCode: number | null }>('GET', `/exec/${id}/json`);
    return info.ExitCode ?? 0;
  },
};

async function resize(client: ApiClient, path: string, h: number, w: number): Promise<void> {
  await client.call('POST', path, { query: { h, w } });
}

interface AttachInfo {
  Id: string;
  State: { Running: boolean; Paused: boolean; Restarting: boolean };
  Config: { Tty: boolean; OpenStdin: boolean };
}

function checkAttachable(info: AttachInfo): string | undefined {
  if (!info.State.Running) return 'cannot attach to a stopped container, start it first';
  if (info.State.Paused) return 'cannot attach to a paused container, unpause it first';
  if (info.State.Restarting) return 'cannot attach to a restarting container, wait until it is running';
  return undefined;
}

const attach: Command = {
  name: 'attach',
  aliases: ['container attach'],
  usage: '[OPTIONS] CONTAINER',
  description: 'Attach local standard input, output, and error streams to a running container',
  flags: [
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', description: 'Proxy all received signals to the process', default: true },
  ],
  args: { exact: 1 },
  async run(ctx: CommandContext) {
    const { flags, args, client, io } = ctx;
    const ref = encodeURIComponent(args[0]);
    // Asked first, so an exit right after the attach is not missed.
    const waitRes = client.dispatch('POST', `/containers/${ref}/wait`);
    waitRes.catch(() => {});
    const info = await client.json<AttachInfo>('GET', `/containers/${ref}/json`);
    const refused = checkAttachable(info);
    if (refused) {
      io.stderr.write(`${refused}\n`);
      return 1;
    }
    const tty = info.Config.Tty;
    const noStdin = flags.bool('no-stdin');
    if (!noStdin && tty && !isTerminal(io.stdin)) {
      io.stderr.write(`${NOT_A_TTY}\n`);
      return 1;
    }
    const stdin = !noStdin && info.Config.OpenStdin;
    const detachKeys = flags.string('detach-keys');
    const { socket, contentType } = await client.hijack(`/containers/${ref}/attach`, {
      stream: true, stdout: true, stderr: true, ...(stdin ? { stdin: true } : {}), ...(detachKeys ? { detachKeys } : {}),
    });
    const restore = tty && stdin ? rawMode(io) : () => {};
    let stopResize = () => {};
    const size = terminalSize(io);
    if (tty && size) {
      // As the docker CLI: a size one larger first, so the program redraws even if the size did not change.
      await resize(client, `/containers/${ref}/resize`, size[0] + 1, size[1] + 1).catch(() => {});
      stopResize = followTerminalSize(io, (h, w) => resize(client, `/containers/${ref}/resize`, h, w));
    }
    const stopProxy = !tty && flags.bool('sig-proxy')
      ? proxySignals((signal) => client.call('POST', `/containers/${ref}/kill`, { query: { signal } }).then(() => {}))
      : () => {};
    let how;
    try {
      how = await runSession(socket, contentType, io, { stdin, tty, detachKeys }, restore);
    } finally {
      stopProxy();
      stopResize();
      restore();
    }
    if (how === 'detached') {
      io.stderr.write('read escape sequence\n');
      return 1;
    }
    try {
      const res = await waitRes;
      const body = JSON.parse(await new Promise<string>((resolve) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => resolve(text));
      })) as { StatusCode: number; Error?: { Message: string } | null };
      if (body.Error?.Message) {
        io.stderr.write(`${body.Error.Message}\n`);
        return 1;
      }
      return body.StatusCode;
    } catch (e) {
      io.stderr.write(`${daemonErrorText(e)}\n`);
      return 1;
    }
  },
};

export const execCommands: Command[] = [exec, attach];
