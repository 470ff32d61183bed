/**
 * Container commands: start, ps, logs, stop, kill, rm, wait, inspect, port.
 */
import { ApiError, readAll } from '../../client/client';
import { humanDuration } from '../../wire/units';
import { Demuxer, StreamId } from '../../wire/stdcopy';
import { type Command, eachReportingErrors, UsageError } from '../command';
import { ellipsis, renderList, renderOne, truncateId } from '../format';
import { joinHostPort, naturalCompare, parseUint16, type PortBinding } from '../port-spec';
import { goTime, timestampArg } from '../time';
import { filterMap } from './images';
import { attachAndStart } from './run';

interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Labels: Record<string, string> | null;
  Ports: unknown[];
  Mounts: unknown[];
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

const start: Command = {
  name: 'start',
  aliases: ['container start'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  flags: [
    { name: 'attach', short: 'a', type: 'bool', description: "Attach STDOUT/STDERR and forward signals" },
    { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  ],
  args: { min: 1 },
  async run(ctx) {
    const { flags, client, io, args } = ctx;
    if (flags.bool('attach') || flags.bool('interactive')) {
      if (args.length > 1) throw new UsageError('you cannot start and attach multiple containers at once', 1);
      const info = await client.json<{ Id: string; HostConfig: { AutoRemove: boolean } }>('GET', `/containers/${encodeURIComponent(args[0])}/json`);
      return attachAndStart(client, info.Id, io, { stdin: flags.bool('interactive'), autoRemove: info.HostConfig.AutoRemove, start: true });
    }
    return eachReportingErrors(ctx, args, async (name) => {
      await client.call('POST', `/containers/${encodeURIComponent(name)}/start`);
      io.stdout.write(`${name}\n`);
    });
  },
};

const PS_HEADERS = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
  State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS',
};
const PS_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

const ps: Command = {
  name: 'ps',
  aliases: ['container ls', 'container list', 'container ps'],
  usage: '[OPTIONS]',
  description: 'List containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'last', short: 'n', type: 'int', description: 'Show n last created containers (includes all states)', default: -1 },
    { name: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const filters = filterMap(flags.list('filter'));
    const limit = flags.bool('latest') ? 1 : flags.int('last');
    const list = await client.json<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: flags.bool('all') || limit > 0 || undefined,
        limit: limit > 0 ? limit : undefined,
        filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined,
      },
    });
    const trunc = !flags.bool('no-trunc');
    if (flags.bool('quiet')) {
      for (const c of list) io.stdout.write(`${trunc ? c.Id.slice(0, 12) : c.Id}\n`);
      return 0;
    }
    const rows = list.map((c) => ({
      ID: trunc ? c.Id.slice(0, 12) : c.Id,
      Image: trunc && c.Image.startsWith('sha256:') ? truncateId(c.Image) : c.Image,
      Command: JSON.stringify(trunc ? ellipsis(c.Command, 20) : c.Command),
      CreatedAt: goTime(new Date(c.Created * 1000)),
      RunningFor: `${humanDuration(Date.now() - c.Created * 1000)} ago`,
      Ports: '',
      State: c.State,
      Status: c.Status,
      Size: '',
      Names: c.Names.map((n) => n.replace(/^\//, '')).join(','),
      Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
      Mounts: '',
      Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    }));
    io.stdout.write(renderList(flags.string('format') || PS_TABLE, rows, PS_HEADERS, PS_TABLE));
    return 0;
  },
};

const logs: Command = {
  name: 'logs',
  aliases: ['container logs'],
  usage: '[OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  flags: [
    { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
    { name: 'since', type: 'string', description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', description: 'Number of lines to show from the end of the logs', default: 'all' },
    { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    { name: 'until', type: 'string', description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  args: { exact: 1 },
  async run({ flags, client, io, args }) {
    const name = encodeURIComponent(args[0]);
    const info = await client.json<{ Config: { Tty: boolean } }>('GET', `/containers/${name}/json`);
    const res = await client.dispatch('GET', `/containers/${name}/logs`, {
      query: {
        stdout: true, stderr: true, follow: flags.bool('follow') || undefined, timestamps: flags.bool('timestamps') || undefined,
        tail: flags.string('tail'), since: flags.string('since') ? timestampArg(flags.string('since')) : undefined,
        until: flags.string('until') ? timestampArg(flags.string('until'), Date.now(), 'until') : undefined,
      },
    });
    const demux = new Demuxer();
    for await (const chunk of res) {
      if (info.Config.Tty) {
        io.stdout.write(chunk as Buffer);
        continue;
      }
      for (const f of demux.push(chunk as Buffer)) (f.stream === StreamId.Stderr ? io.stderr : io.stdout).write(f.data);
    }
    return 0;
  },
};

/** stop and restart share Docker's flags: the signal, and how long to wait before SIGKILL. */
function stopping(action: 'stop' | 'restart', description: string): Command {
  return {
    name: action,
    aliases: [`container ${action}`],
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description,
    flags: [
      { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
      { name: 'timeout', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
      { name: 'time', type: 'int', description: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true },
    ],
    args: { min: 1 },
    run(ctx) {
      const { flags, client, io } = ctx;
      const t = flags.changed.has('timeout') ? flags.int('timeout') : flags.changed.has('time') ? flags.int('time') : undefined;
      return eachReportingErrors(ctx, ctx.args, async (name) => {
        await client.call('POST', `/containers/${encodeURIComponent(name)}/${action}`, { query: { t, signal: flags.string('signal') || undefined } });
        io.stdout.write(`${name}\n`);
      });
    },
  };
}

const stop = stopping('stop', 'Stop one or more running containers');
export const restart = stopping('restart', 'Restart one or more containers');

const kill: Command = {
  name: 'kill',
  aliases: ['container kill'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  flags: [{ name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' }],
  args: { min: 1 },
  run(ctx) {
    return eachReportingErrors(ctx, ctx.args, async (name) => {
      await ctx.client.call('POST', `/containers/${encodeURIComponent(name)}/kill`, { query: { signal: ctx.flags.string('signal') || undefined } });
      ctx.io.stdout.write(`${name}\n`);
    });
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['container rm', 'container remove'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', description: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', description: 'Remove anonymous volumes associated with the container' },
  ],
  args: { min: 1 },
  run(ctx) {
    return eachReportingErrors(ctx, ctx.args, async (name) => {
      await ctx.client.call('DELETE', `/containers/${encodeURIComponent(name)}`, {
        query: { force: ctx.flags.bool('force') || undefined, v: ctx.flags.bool('volumes') || undefined },
      });
      ctx.io.stdout.write(`${name}\n`);
    });
  },
};

const wait: Command = {
  name: 'wait',
  aliases: ['container wait'],
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  args: { min: 1 },
  run(ctx) {
    return eachReportingErrors(ctx, ctx.args, async (name) => {
      const res = await ctx.client.dispatch('POST', `/containers/${encodeURIComponent(name)}/wait`);
      const body = JSON.parse(await readAll(res)) as { StatusCode: number };
      ctx.io.stdout.write(`${body.StatusCode}\n`);
    });
  },
};

/** inspect: containers first, then images, as the docker CLI looks objects up. */
function inspectCommand(name: string, aliases: string[], kinds: ('container' | 'image')[], description: string): Command {
  return {
    name,
    aliases,
    usage: kinds.length > 1 ? '[OPTIONS] NAME|ID [NAME|ID...]' : `[OPTIONS] ${kinds[0].toUpperCase()} [${kinds[0].toUpperCase()}...]`,
    description,
    flags: [
      { name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' },
      { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes if the type is container' },
      ...(kinds.length > 1 ? [{ name: 'type', type: 'string' as const, description: 'Only inspect objects of the given type' }] : []),
    ],
    args: { min: 1 },
    async run({ flags, client, io, args }) {
      const type = kinds.length > 1 ? flags.string('type') : '';
      if (type && type !== 'container' && type !== 'image') throw new UsageError(`"${type}" is not a valid value for --type`, 1);
      const wanted = type ? [type as 'container' | 'image'] : kinds;
      const found: unknown[] = [];
      let failed = false;
      for (const arg of args) {
        let obj: unknown;
        for (const kind of wanted) {
          try {
            obj = await client.json('GET', `/${kind}s/${encodeURIComponent(arg)}/json`);
            break;
          } catch (e) {
            if (!(e instanceof ApiError) || e.status !== 404) throw e;
          }
        }
        if (obj === undefined) {
          failed = true;
          const what = wanted.length > 1 ? 'object' : wanted[0];
          io.stderr.write(`Error: No such ${what}: ${arg}\n`);
        } else {
          found.push(obj);
        }
      }
      const format = flags.string('format');
      if (format) {
        for (const obj of found) io.stdout.write(renderOne(format, obj));
      } else {
        io.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      }
      return failed ? 1 : 0;
    },
  };
}

/** `port`: the published ports from inspect, each "80/tcp -> 0.0.0.0:8080", sorted naturally. */
const port: Command = {
  name: 'port',
  aliases: ['container port'],
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  flags: [],
  args: { min: 1, max: 2 },
  async run({ client, io, args }) {
    const [name, wanted] = args;
    const info = await client.json<{ NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null } }>('GET', `/containers/${encodeURIComponent(name)}/json`);
    const ports = info.NetworkSettings?.Ports ?? {};
    let out: string[];
    if (wanted !== undefined) {
      const slash = wanted.indexOf('/');
      const number = slash < 0 ? wanted : wanted.slice(0, slash);
      const proto = (slash < 0 ? '' : wanted.slice(slash + 1)) || 'tcp';
      try {
        parseUint16(number);
      } catch (e) {
        throw new Error(`Error: invalid port (${number}): ${(e as Error).message}`);
      }
      const frontends = ports[`${number}/${proto}`] ?? [];
      if (frontends.length === 0) throw new Error(`Error: No public port '${wanted}' published for ${name}`);
      out = frontends.map((f) => joinHostPort(f.HostIp, f.HostPort));
    } else {
      out = Object.entries(ports).flatMap(([from, frontends]) => (frontends ?? []).map((f) => `${from} -> ${joinHostPort(f.HostIp, f.HostPort)}`));
    }
    if (out.length > 0) io.stdout.write(`${out.sort(naturalCompare).join('\n')}\n`);
    return 0;
  },
};

export const containerCommands: Command[] = [
  start, ps, logs, stop, kill, rm, wait, port,
  inspectCommand('inspect', [], ['container', 'image'], 'Return low-level information on berth objects'),
  inspectCommand('container inspect', [], ['container'], 'Display detailed information on one or more containers'),
  inspectCommand('image inspect', [], ['image'], 'Display detailed information on one or more images'),
];
