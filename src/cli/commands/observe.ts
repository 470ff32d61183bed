/**
 * Watching containers: top, stats, events, laid out as the docker CLI lays them out.
 */
import type { Readable } from 'node:stream';
import { ApiError } from '../../client/client';
import { bytesSize, formatFloatF, humanSize } from '../../wire/units';
import { type Command, type CommandContext } from '../command';
import { renderList, tabwrite, truncateId } from '../format';
import { renderTemplate } from '../template';
import { timestampArg } from '../time';
import { filterMap } from './images';

const top: Command = {
  name: 'top',
  aliases: ['container top'],
  usage: 'CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  flags: [],
  interspersed: false,
  args: { min: 1 },
  async run({ client, io, args }) {
    const procs = await client.json<{ Titles: string[]; Processes: string[][] | null }>('GET', `/containers/${encodeURIComponent(args[0])}/top`, {
      query: { ps_args: args.length > 1 ? args.slice(1).join(' ') : undefined },
    });
    const lines = [procs.Titles.join('\t'), ...(procs.Processes ?? []).map((p) => p.join('\t'))];
    io.stdout.write(tabwrite(lines.join('\n') + '\n', 20, 3));
    return 0;
  },
};

// ---------------------------------------------------------------- stats

interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

interface StatsJson {
  name?: string;
  id?: string;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  pids_stats: { current?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

export interface StatsRow {
  Container: string;
  Name: string;
  ID: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

const STATS_HEADERS = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};
const STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** The docker CLI's numbers: CPU % from the two samples, memory without the page cache's inactive files. */
export function statsRow(container: string, v: StatsJson, trunc: boolean): StatsRow {
  const cpuDelta = v.cpu_stats.cpu_usage.total_usage - v.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (v.cpu_stats.system_cpu_usage ?? 0) - (v.precpu_stats.system_cpu_usage ?? 0);
  const online = v.cpu_stats.online_cpus || v.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpu = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
  const m = v.memory_stats;
  const usage = m.usage ?? 0;
  const inactive = m.stats?.total_inactive_file ?? m.stats?.inactive_file;
  const mem = inactive !== undefined && inactive < usage ? usage - inactive : usage;
  const limit = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const e of v.blkio_stats.io_service_bytes_recursive ?? []) {
    if (/^[rR]/.test(e.op)) read += e.value;
    else if (/^[wW]/.test(e.op)) write += e.value;
  }
  const id = v.id ?? '';
  return {
    Container: container,
    Name: v.name && v.name.length > 1 ? v.name.slice(1) : '--',
    ID: trunc ? truncateId(id) : id,
    CPUPerc: `${formatFloatF(cpu, 2)}%`,
    MemUsage: `${bytesSize(mem)} / ${bytesSize(limit)}`,
    MemPerc: `${formatFloatF(limit ? (mem / limit) * 100 : 0, 2)}%`,
    NetIO: `${humanSize(rx, 3)} / ${humanSize(tx, 3)}`,
    BlockIO: `${humanSize(read, 3)} / ${humanSize(write, 3)}`,
    PIDs: String(v.pids_stats.current ?? 0),
  };
}

/** Newline-delimited JSON values from a response. */
async function* jsonLines<T>(res: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}

const stats: Command = {
  name: 'stats',
  aliases: ['container stats'],
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx) {
    const { flags, client, io, args } = ctx;
    const all = flags.bool('all');
    const names = args.length
      ? args
      : (await client.json<{ Id: string }[]>('GET', '/containers/json', { query: { all: all || undefined } })).map((c) => c.Id);
    const trunc = !flags.bool('no-trunc');
    const format = flags.string('format');
    const rows = new Map<string, StatsRow>(names.map((n) => [n, emptyRow(n)]));
    const render = () => renderList(format || STATS_TABLE, names.map((n) => rows.get(n)!), STATS_HEADERS, STATS_TABLE);
    const stream = !flags.bool('no-stream');
    const errors: string[] = [];
    const abort = new AbortController();
    const collecting = new Set<string>();
    const collect = async (name: string) => {
      collecting.add(name);
      try {
        const res = await client.dispatch('GET', `/containers/${encodeURIComponent(name)}/stats`, { query: { stream }, signal: abort.signal });
        for await (const v of jsonLines<StatsJson>(res)) if (rows.has(name)) rows.set(name, statsRow(name, v, trunc));
      } catch (e) {
        if (abort.signal.aborted) return;
        errors.push(e instanceof ApiError ? `Error response from daemon: ${e.message}` : String((e as Error).message ?? e));
        rows.delete(name);
      } finally {
        collecting.delete(name);
      }
    };
    const collectors = names.map(collect);
    if (!stream) {
      await Promise.all(collectors);
      if (errors.length) {
        io.stderr.write(errors.join('\n') + '\n');
        return 1;
      }
      io.stdout.write(render());
      return 0;
    }
    // Without names, as docker does: containers that start join the table, and leave it when
    // they stop (with -a, when they are removed); the command runs until it is interrupted.
    const follow = args.length === 0;
    if (follow) {
      void followContainers(client, abort.signal, (action, id) => {
        if (action === 'start') {
          if (!rows.has(id)) {
            names.push(id);
            rows.set(id, emptyRow(id));
          }
          if (!collecting.has(id)) void collect(id);
        } else if (action === 'destroy' || !all) {
          rows.delete(id);
        }
      });
    }
    return streamStats(ctx, { names, rows, render, errors: follow ? [] : errors, abort, done: follow ? new Promise(() => {}) : Promise.all(collectors) });
  },
};

/** Calls `on` with the start, die and destroy events of containers, from now on. */
async function followContainers(client: CommandContext['client'], signal: AbortSignal, on: (action: 'start' | 'die' | 'destroy', id: string) => void): Promise<void> {
  try {
    const filters = JSON.stringify({ type: ['container'], event: ['start', 'die', 'destroy'] });
    const res = await client.dispatch('GET', '/events', { query: { filters }, signal });
    for await (const ev of jsonLines<EventMessage>(res)) on(ev.Action as 'start' | 'die' | 'destroy', ev.Actor.ID);
  } catch {
    // The daemon went away or the command was stopped: the table stays as it was.
  }
}

function emptyRow(name: string): StatsRow {
  return { Container: name, Name: '--', ID: name, CPUPerc: '0.00%', MemUsage: '0B / 0B', MemPerc: '0.00%', NetIO: '0B / 0B', BlockIO: '0B / 0B', PIDs: '0' };
}

/** Redraws every second: in place on a terminal, as repeated tables otherwise (as docker does). */
async function streamStats(
  { io }: CommandContext,
  s: { names: string[]; rows: Map<string, StatsRow>; render: () => string; errors: string[]; abort: AbortController; done: Promise<unknown> },
): Promise<number> {
  const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
  let finished = false;
  void s.done.then(() => (finished = true));
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    if (s.errors.length && s.rows.size === 0) {
      io.stderr.write(s.errors.join('\n') + '\n');
      return 1;
    }
    const shown = s.names.filter((n) => s.rows.has(n));
    s.names.splice(0, s.names.length, ...shown);
    io.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + s.render());
    if (finished) return 0;
  }
}

// ---------------------------------------------------------------- events

interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  scope?: string;
  time: number;
  timeNano: number;
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in the local zone. */
export function rfc3339NanoFixed(timeNano: number, offsetMinutes = -new Date(Math.floor(timeNano / 1e6)).getTimezoneOffset()): string {
  const ns = BigInt(Math.round(timeNano));
  const local = new Date(Number(ns / 1_000_000n) + offsetMinutes * 60_000);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  const zone = offsetMinutes === 0 ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMinutes) % 60).padStart(2, '0')}`;
  return `${local.toISOString().slice(0, 19)}.${frac}${zone}`;
}

/** The docker CLI's default line: time, type, action, actor, then the attributes sorted. */
export function eventLine(ev: EventMessage): string {
  const when = ev.timeNano ? `${rfc3339NanoFixed(ev.timeNano)} ` : ev.time ? `${rfc3339NanoFixed(ev.time * 1e9)} ` : '';
  const attrs = Object.keys(ev.Actor.Attributes ?? {}).sort().map((k) => `${k}=${ev.Actor.Attributes![k]}`);
  return `${when}${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}\n`;
}

/** The message as a template sees it: Go's field names, and the wire JSON for {{json .}}. */
function templateData(ev: EventMessage): object {
  const data = {
    Status: ev.status ?? '', ID: ev.id ?? '', From: ev.from ?? '', Type: ev.Type, Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: ev.Actor.Attributes ?? {} }, Scope: ev.scope ?? '', Time: ev.time, TimeNano: ev.timeNano,
  };
  Object.defineProperty(data, 'toJSON', { value: () => ev, enumerable: false });
  return data;
}

const events: Command = {
  name: 'events',
  aliases: ['system events'],
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  flags: [
    { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'since', type: 'string', description: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', description: 'Stream events until this timestamp' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const filters = filterMap(flags.list('filter'));
    const since = flags.string('since');
    const until = flags.string('until');
    const res = await client.dispatch('GET', '/events', {
      query: {
        since: since ? timestampArg(since) : undefined,
        until: until ? timestampArg(until, Date.now(), 'until') : undefined,
        filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined,
      },
    });
    const format = flags.string('format');
    const template = format === 'json' ? '{{json .}}' : format;
    for await (const ev of jsonLines<EventMessage>(res)) {
      io.stdout.write(template ? `${renderTemplate(template, templateData(ev))}\n` : eventLine(ev));
    }
    return 0;
  },
};

export const observeCommands: Command[] = [top, stats, events];
