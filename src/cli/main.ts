/**
 * `berth`: Docker's command syntax over berth's API client. Global flags come first, then a
 * command (or a management group and its subcommand: `berth container ls`).
 */
import { ApiClient, ConnectError, socketFromHost } from '../client/client';
import { BERTH_VERSION } from '../version';
import { DEFAULT_HOST } from '../wire/host';
import { type Command, daemonErrorText, type Io, UsageError } from './command';
import { containerCommands } from './commands/containers';
import { containerFsCommands } from './commands/container-fs';
import { execCommands } from './commands/exec';
import { lifecycleCommands } from './commands/lifecycle';
import { imageCommands } from './commands/images';
import { imageUsageCommands } from './commands/image-usage';
import { runCommands } from './commands/run';
import { updateCommands } from './commands/update';
import { networkCommands } from './commands/network';
import { observeCommands } from './commands/observe';
import { systemCommands } from './commands/system';
import { diskUsageCommands } from './commands/disk-usage';
import { distributionCommands } from './commands/distribution';
import { volumeCommands } from './commands/volume';
import { buildCommands } from './commands/build';
import { registryCommands } from './commands/registry';
import { composeCommands } from './commands/compose';
import { FlagError, type FlagSpec, formatHelp, parseFlags } from './flags';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', type: 'list', description: 'Daemon socket to connect to' },
  { name: 'debug', short: 'D', type: 'bool', description: 'Enable debug mode' },
  { name: 'log-level', short: 'l', type: 'string', description: 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")', default: 'info' },
  { name: 'version', short: 'v', type: 'bool', description: 'Print version information and quit' },
];

const GROUPS: Record<string, string> = { builder: 'Manage builds', container: 'Manage containers', image: 'Manage images', network: 'Manage networks', registry: 'Run an image registry', system: 'Manage berth', volume: 'Manage volumes' };

const COMMANDS: Command[] = [...runCommands, ...containerCommands, ...execCommands, ...lifecycleCommands, ...imageCommands, ...imageUsageCommands, ...distributionCommands, ...systemCommands, ...diskUsageCommands, ...observeCommands, ...updateCommands, ...containerFsCommands, ...networkCommands, ...volumeCommands, ...buildCommands, ...registryCommands, ...composeCommands];

/** Every path a command answers to: its name and its aliases ("ps", "container ls"). */
function commandTable(): Map<string, Command> {
  const table = new Map<string, Command>();
  for (const c of COMMANDS) for (const p of [c.name, ...(c.aliases ?? [])]) table.set(p, c);
  return table;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<void> {
  // A reader that went away (`berth diff c | head`) ends the command quietly, as Go's CLI does.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const code = await run(argv, io);
  // Let stdout drain before exiting (a pipe may still hold output).
  await new Promise<void>((r) => (io.stdout.write('') ? r() : io.stdout.once('drain', () => r())));
  process.exit(code);
}

export async function run(argv: string[], io: Io): Promise<number> {
  let global;
  try {
    global = parseFlags(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (e) {
    if (e instanceof FlagError) {
      io.stderr.write(`${e.message}\nSee 'berth --help'.\n`);
      return 125;
    }
    throw e;
  }
  if (global.bool('version')) {
    io.stdout.write(`berth version ${BERTH_VERSION}\n`);
    return 0;
  }
  const table = commandTable();
  const [first, second] = global.args;
  if (global.help || first === undefined || first === 'help') {
    io.stdout.write(mainHelp());
    return 0;
  }
  let path = first;
  let rest = global.args.slice(1);
  if (first in GROUPS) {
    if (second === undefined || second === '--help' || second === '-h') {
      io.stdout.write(groupHelp(first, table));
      return 0;
    }
    path = `${first} ${second}`;
    rest = global.args.slice(2);
  }
  const cmd = table.get(path);
  if (!cmd) {
    io.stderr.write(`berth: '${path}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  const commandPath = `berth ${path}`;
  let parsed;
  try {
    parsed = parseFlags(rest, cmd.flags, { interspersed: cmd.interspersed ?? true });
  } catch (e) {
    if (e instanceof FlagError) {
      io.stderr.write(`${e.message}\nSee '${commandPath} --help'.\n`);
      return 125;
    }
    throw e;
  }
  if (parsed.help) {
    io.stdout.write(formatHelp(`berth ${cmd.name} ${cmd.usage}`, cmd.description, cmd.flags, aliasesOf(cmd)));
    return 0;
  }
  const argError = checkArgs(cmd, parsed.args.length, commandPath);
  if (argError) {
    io.stderr.write(argError);
    return 1;
  }
  const hosts = global.list('host');
  const host = hosts[hosts.length - 1] ?? process.env.BERTH_HOST ?? DEFAULT_HOST;
  try {
    const client = new ApiClient(socketFromHost(host), process.env.BERTH_API_VERSION || undefined);
    return await cmd.run({ args: parsed.args, flags: parsed, client, io, commandPath });
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\nSee '${commandPath} --help'.\n`);
      return e.exitCode;
    }
    if (e instanceof ConnectError) {
      io.stderr.write(`${e.message}\n`);
      return 1;
    }
    io.stderr.write(`${daemonErrorText(e)}\n`);
    return 1;
  }
}

function aliasesOf(cmd: Command) {
  const paths = [...(cmd.aliases ?? []), cmd.name].map((p) => `berth ${p}`);
  return paths.length > 1 ? { aliases: paths } : {};
}

function checkArgs(cmd: Command, n: number, commandPath: string): string | undefined {
  const a = cmd.args;
  if (!a) return undefined;
  const plural = (k: number) => (k === 1 ? 'argument' : 'arguments');
  let problem: string | undefined;
  if (a.exact !== undefined && n !== a.exact) problem = `requires exactly ${a.exact} ${plural(a.exact)}`;
  else if (a.min !== undefined && n < a.min) problem = `requires at least ${a.min} ${plural(a.min)}`;
  else if (a.max !== undefined && n > a.max) problem = a.max === 0 ? 'accepts no arguments' : `requires at most ${a.max} ${plural(a.max)}`;
  if (!problem) return undefined;
  return `"${commandPath}" ${problem}.\nSee '${commandPath} --help'.\n\nUsage:  berth ${cmd.name} ${cmd.usage}\n\n${cmd.description}\n`;
}

function mainHelp(): string {
  const rows = COMMANDS.filter((c) => !c.name.includes(' ')).map((c) => `  ${c.name.padEnd(12)}${c.description}`);
  const groups = Object.entries(GROUPS).map(([g, d]) => `  ${g.padEnd(12)}${d}`);
  return (
    '\nUsage:  berth [OPTIONS] COMMAND\n\nA container engine that speaks Docker\n\n' +
    `Commands:\n${rows.join('\n')}\n\nManagement Commands:\n${groups.join('\n')}\n\n` +
    formatHelp('', '', GLOBAL_FLAGS).replace(/^[\s\S]*?Options:/, 'Global Options:').trimEnd() +
    "\n\nRun 'berth COMMAND --help' for more information on a command.\n"
  );
}

function groupHelp(group: string, table: Map<string, Command>): string {
  const subs = [...table.entries()].filter(([p]) => p.startsWith(`${group} `));
  const seen = new Set<Command>();
  const rows: string[] = [];
  for (const [p, c] of subs) {
    if (seen.has(c)) continue;
    seen.add(c);
    rows.push(`  ${p.slice(group.length + 1).padEnd(12)}${c.description}`);
  }
  return `\nUsage:  berth ${group} COMMAND\n\n${GROUPS[group]}\n\nCommands:\n${rows.join('\n')}\n\nRun 'berth ${group} COMMAND --help' for more information on a command.\n`;
}
