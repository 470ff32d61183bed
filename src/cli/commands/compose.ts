/**
 * `berth compose`: Docker Compose's commands over the project loader (compose/loader.ts) and the
 * orchestrator (compose/project.ts), through the API client like every command. The project's
 * flags (-f, -p, --profile, --env-file, --project-directory) come before the subcommand, as in
 * `docker compose -f a.yml up -d`, so this is one command that parses its own subcommands.
 */
import { stringify } from 'yaml';
import { loadProject } from '../../compose/loader';
import type { Project } from '../../compose/model';
import { ComposeProject, type ContainerSummary } from '../../compose/project';
import { Label } from '../../compose/container-spec';
import { type Command, type CommandContext, UsageError } from '../command';
import { FlagError, type FlagSpec, formatHelp, type ParsedFlags, parseFlags } from '../flags';
import { buildDirectory } from './build';
import { containerSubcommands } from './compose-containers';

const PROJECT_FLAGS: FlagSpec[] = [
  { name: 'file', short: 'f', type: 'list', valueName: 'stringArray', description: 'Compose configuration files' },
  { name: 'project-name', short: 'p', type: 'string', description: 'Project name' },
  { name: 'profile', type: 'list', valueName: 'stringArray', description: 'Specify a profile to enable' },
  { name: 'env-file', type: 'list', valueName: 'stringArray', description: 'Specify an alternate environment file' },
  { name: 'project-directory', type: 'string', description: 'Specify an alternate working directory (default: the path of the first specified Compose file)' },
];

/** One `berth compose` subcommand; `interspersed: false` when its trailing arguments are a command. */
export interface ComposeSub {
  usage: string;
  description: string;
  flags: FlagSpec[];
  interspersed?: boolean;
  run(c: { ctx: CommandContext; flags: ParsedFlags; args: string[]; project: () => Project; compose: () => ComposeProject }): Promise<number>;
}

const SUBCOMMANDS: Record<string, ComposeSub> = {
  config: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'Parse, resolve and render compose file in canonical format',
    flags: [
      { name: 'services', type: 'bool', description: 'Print the service names, one per line' },
      { name: 'volumes', type: 'bool', description: 'Print the volume names, one per line' },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only validate the configuration, do not print anything' },
      { name: 'format', type: 'string', default: 'yaml', description: 'Format the output. Values: [yaml | json]' },
    ],
    async run({ ctx, flags, project }) {
      const p = project();
      if (flags.bool('quiet')) return 0;
      if (flags.bool('services')) ctx.io.stdout.write(p.services.map((s) => `${s.name}\n`).join(''));
      else if (flags.bool('volumes')) ctx.io.stdout.write(Object.keys(p.volumes).map((v) => `${v}\n`).join(''));
      else if (flags.string('format') === 'json') ctx.io.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
      else if (flags.string('format') === 'yaml') ctx.io.stdout.write(stringify(p));
      else throw new UsageError(`unsupported format ${JSON.stringify(flags.string('format'))}: yaml or json`, 1);
      return 0;
    },
  },
  up: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'Create and start containers',
    flags: [
      { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: Run containers in the background' },
      { name: 'build', type: 'bool', description: 'Build images before starting containers' },
      { name: 'force-recreate', type: 'bool', description: "Recreate containers even if their configuration and image haven't changed" },
      { name: 'no-recreate', type: 'bool', description: "If containers already exist, don't recreate them" },
      { name: 'remove-orphans', type: 'bool', description: 'Remove containers for services not defined in the Compose file' },
      { name: 'wait', type: 'bool', description: 'Wait for services to be running|healthy. Implies detached mode.' },
      { name: 'wait-timeout', type: 'int', description: 'Maximum duration in seconds to wait for the project to be running|healthy', default: 300 },
      { name: 'scale', type: 'list', valueName: 'scale', description: 'Scale SERVICE to NUM instances (SERVICE=NUM)' },
    ],
    async run({ ctx, flags, args, compose }) {
      if (flags.bool('force-recreate') && flags.bool('no-recreate')) throw new UsageError('--force-recreate and --no-recreate are incompatible', 1);
      const scale: Record<string, number> = {};
      for (const s of flags.list('scale')) {
        const m = /^([^=]+)=(\d+)$/.exec(s);
        if (!m) throw new UsageError(`invalid --scale value ${JSON.stringify(s)}: want SERVICE=NUM`, 1);
        scale[m[1]] = Number(m[2]);
      }
      const engine = compose();
      await engine.up({
        build: flags.bool('build'),
        forceRecreate: flags.bool('force-recreate'),
        noRecreate: flags.bool('no-recreate'),
        removeOrphans: flags.bool('remove-orphans'),
        wait: flags.bool('wait'),
        waitTimeout: flags.int('wait-timeout'),
        scale,
        services: args,
      });
      if (flags.bool('detach') || flags.bool('wait')) return 0;
      return attached(ctx, engine, args);
    },
  },
  down: {
    usage: '[OPTIONS]',
    description: 'Stop and remove containers, networks',
    flags: [
      { name: 'volumes', short: 'v', type: 'bool', description: 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers' },
      { name: 'remove-orphans', type: 'bool', description: 'Remove containers for services not defined in the Compose file' },
      { name: 'rmi', type: 'string', description: 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")' },
    ],
    async run({ flags, compose }) {
      const rmi = flags.string('rmi');
      if (rmi !== '' && rmi !== 'local' && rmi !== 'all') throw new UsageError(`invalid --rmi value ${JSON.stringify(rmi)}: "local" or "all"`, 1);
      await compose().down({ volumes: flags.bool('volumes'), removeOrphans: flags.bool('remove-orphans'), ...(rmi ? { rmi } : {}) });
      return 0;
    },
  },
  ps: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'List containers',
    flags: [
      { name: 'all', short: 'a', type: 'bool', description: 'Show all stopped containers' },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only display IDs' },
      { name: 'services', type: 'bool', description: 'Display services' },
    ],
    async run({ ctx, flags, args, compose }) {
      let list = await compose().containers({ stopped: flags.bool('all') });
      if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
      if (flags.bool('quiet')) ctx.io.stdout.write(list.map((c) => `${c.Id}\n`).join(''));
      else if (flags.bool('services')) ctx.io.stdout.write([...new Set(list.map((c) => c.Labels[Label.service]))].map((s) => `${s}\n`).join(''));
      else ctx.io.stdout.write(psTable(list));
      return 0;
    },
  },
  logs: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'View output from containers',
    flags: [
      { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
      { name: 'no-log-prefix', type: 'bool', description: "Don't print prefix in logs" },
      { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs for each container' },
      { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    ],
    async run({ ctx, flags, args, compose }) {
      let list = await compose().containers({ stopped: true, oneoff: false });
      if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
      await printLogs(ctx, list, { follow: flags.bool('follow'), prefix: !flags.bool('no-log-prefix'), tail: flags.string('tail'), timestamps: flags.bool('timestamps') });
      return 0;
    },
  },
  build: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'Build or rebuild services',
    flags: [
      { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
      { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
    ],
    async run({ ctx, flags, args, project }) {
      const p = project();
      for (const s of p.services) {
        if (!s.build || (args.length > 0 && !args.includes(s.name))) continue;
        await buildDirectory(ctx.client, ctx.io, { ...s.build, tag: s.image ?? `${p.name}-${s.name}`, noCache: flags.bool('no-cache'), pull: flags.bool('pull') });
      }
      return 0;
    },
  },
  ...lifecycle('start', 'Start services', 'start'),
  ...lifecycle('stop', 'Stop services', 'stop'),
  ...lifecycle('restart', 'Restart service containers', 'restart'),
  ...lifecycle('pause', 'Pause services', 'pause'),
  ...lifecycle('unpause', 'Unpause services', 'unpause'),
  ...lifecycle('kill', 'Force stop service containers', 'kill'),
  ...containerSubcommands,
};

function lifecycle(name: string, description: string, action: string): Record<string, ComposeSub> {
  return {
    [name]: {
      usage: '[SERVICE...]',
      description,
      flags: [],
      async run({ ctx, args, compose }) {
        let list = await compose().containers({ stopped: true, oneoff: false });
        if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
        for (const c of list) {
          const n = c.Names[0].slice(1);
          ctx.io.stderr.write(` Container ${n}  ${verb(action)}\n`);
          await ctx.client.call('POST', `/containers/${c.Id}/${action}`);
          ctx.io.stderr.write(` Container ${n}  ${verb(action, true)}\n`);
        }
        return 0;
      },
    },
  };
}

function verb(action: string, done = false): string {
  const forms: Record<string, [string, string]> = { start: ['Starting', 'Started'], stop: ['Stopping', 'Stopped'], restart: ['Restarting', 'Started'], pause: ['Pausing', 'Paused'], unpause: ['Unpausing', 'Unpaused'], kill: ['Killing', 'Killed'] };
  return forms[action][done ? 1 : 0];
}

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

function colour(i: number, text: string): string {
  return process.env.NO_COLOR || !(process.stdout as { isTTY?: boolean }).isTTY ? text : `\x1b[${COLOURS[i % COLOURS.length]}m${text}\x1b[0m`;
}

/** Every container's log, each line prefixed with its name in a colour of its own (on a TTY). */
async function printLogs(ctx: CommandContext, list: ContainerSummary[], o: { follow: boolean; prefix: boolean; tail: string; timestamps: boolean; since?: number }): Promise<void> {
  const width = Math.max(0, ...list.map((c) => c.Names[0].length - 1));
  await Promise.all(
    list.map(async (c, i) => {
      const name = c.Names[0].slice(1);
      const prefix = o.prefix ? `${colour(i, name.padEnd(width))} | ` : '';
      const res = await ctx.client.dispatch('GET', `/containers/${c.Id}/logs`, {
        query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail, timestamps: o.timestamps, ...(o.since !== undefined ? { since: o.since } : {}) },
      });
      await printLog(res, prefix, ctx.io.stdout);
    }),
  );
}

/**
 * `up` without -d: the services' output, prefixed, until every container has stopped; the first
 * Ctrl-C (or SIGTERM) stops them gracefully, as Compose does.
 */
async function attached(ctx: CommandContext, engine: ComposeProject, services: string[]): Promise<number> {
  let list = await engine.containers({ stopped: true, oneoff: false });
  if (services.length > 0) list = list.filter((c) => services.includes(c.Labels[Label.service]));
  ctx.io.stdout.write(`Attaching to ${list.map((c) => c.Names[0].slice(1)).join(', ')}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    ctx.io.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    void Promise.all(list.map((c) => ctx.client.call('POST', `/containers/${c.Id}/stop`).catch(() => 0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await printLogs(ctx, list, { follow: true, prefix: true, tail: 'all', timestamps: false });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (stopping) return 130;
  for (const c of list) {
    const st = (await ctx.client.json<{ State: { ExitCode: number } }>('GET', `/containers/${c.Id}/json`)).State;
    ctx.io.stdout.write(`${c.Names[0].slice(1)} exited with code ${st.ExitCode}\n`);
  }
  return 0;
}

/** The log stream (stdcopy frames, or raw for a TTY container) with a prefix on every line. */
async function printLog(res: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream): Promise<void> {
  let buf = Buffer.alloc(0);
  let partial = '';
  const emit = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) out.write(`${prefix}${l}\n`);
  };
  for await (const chunk of res) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      emit(buf.subarray(8, 8 + len).toString());
      buf = buf.subarray(8 + len);
    }
    if (buf.length > 0 && !(buf[0] === 1 || buf[0] === 2)) {
      emit(buf.toString());
      buf = Buffer.alloc(0);
    }
  }
  if (partial) out.write(`${prefix}${partial}\n`);
}

function psTable(list: ContainerSummary[]): string {
  const rows = list.map((c) => [
    c.Names[0].slice(1),
    c.Image,
    JSON.stringify(c.Command.length > 20 ? `${c.Command.slice(0, 19)}…` : c.Command),
    c.Labels[Label.service],
    c.Status,
    c.Ports.map((p) => (p.PublicPort ? `${p.IP ?? '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`)).join(', '),
  ]);
  const head = ['NAME', 'IMAGE', 'COMMAND', 'SERVICE', 'STATUS', 'PORTS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]))).join('   ').trimEnd() + '\n').join('');
}

const compose: Command = {
  name: 'compose',
  usage: '[OPTIONS] COMMAND',
  description: 'Define and run multi-container applications',
  flags: PROJECT_FLAGS,
  interspersed: false,
  async run(ctx) {
    const [name, ...rest] = ctx.args;
    const sub = name === undefined ? undefined : SUBCOMMANDS[name];
    if (!sub) {
      if (name === undefined) {
        ctx.io.stdout.write(formatHelp('berth compose [OPTIONS] COMMAND', compose.description, PROJECT_FLAGS) + `\nCommands:\n${Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(10)}${s.description}\n`).join('')}`);
        return 0;
      }
      throw new UsageError(`unknown docker command: "compose ${name}"`, 1);
    }
    let flags: ParsedFlags;
    try {
      flags = parseFlags(rest, sub.flags, { interspersed: sub.interspersed ?? true });
    } catch (e) {
      if (e instanceof FlagError) throw new UsageError(e.message, 1);
      throw e;
    }
    if (flags.help) {
      ctx.io.stdout.write(formatHelp(`berth compose ${name} ${sub.usage}`, sub.description, sub.flags));
      return 0;
    }
    let loaded: Project | undefined;
    const project = () =>
      (loaded ??= loadProject({
        files: ctx.flags.list('file'),
        ...(ctx.flags.string('project-name') ? { projectName: ctx.flags.string('project-name') } : {}),
        profiles: ctx.flags.list('profile'),
        envFiles: ctx.flags.list('env-file'),
        ...(ctx.flags.string('project-directory') ? { workingDir: ctx.flags.string('project-directory') } : {}),
      }));
    const say = (line: string) => ctx.io.stderr.write(`${line}\n`);
    const engine = () =>
      new ComposeProject(ctx.client, project(), say, async (s, tag) => {
        await buildDirectory(ctx.client, { ...ctx.io, stdout: ctx.io.stderr }, { ...s.build!, tag });
      });
    return sub.run({ ctx, flags, args: flags.args, project, compose: engine });
  },
};

export const composeCommands: Command[] = [compose];
