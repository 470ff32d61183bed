/**
 * Volume commands: create, ls, inspect, rm, prune. Requests are the ones the docker 28 CLI
 * sends; the swarm-only options (cluster volumes, `volume update`) are left out.
 */
import { humanSize } from '../../wire/units';
import { type Command, daemonErrorText } from '../command';
import { type ParsedFlags } from '../flags';
import { renderList } from '../format';
import { naturalCompare } from '../port-spec';
import { inspectEach } from '../inspect-output';
import { confirm } from './lifecycle';
import { filtersQuery, labelOpt, mapOpt, parsingFlags, trimId } from './network';

/** volume.Volume as the API answers it (GET /volumes, GET /volumes/{name}). */
export interface Volume {
  ClusterVolume?: unknown;
  CreatedAt?: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
  Status?: Record<string, unknown>;
  UsageData?: { RefCount: number; Size: number } | null;
}

/** POST /volumes/create's body: volume.CreateOptions, every field omitempty, in Go's order. */
export function volumeCreateBody(name: string, flags: ParsedFlags) {
  const driverOpts = mapOpt(flags.list('opt'));
  const labels = labelOpt(flags.list('label'));
  return {
    ...(flags.string('driver') ? { Driver: flags.string('driver') } : {}),
    ...(Object.keys(driverOpts).length ? { DriverOpts: driverOpts } : {}),
    ...(Object.keys(labels).length ? { Labels: labels } : {}),
    ...(name ? { Name: name } : {}),
  };
}

const create: Command = {
  name: 'volume create',
  usage: '[OPTIONS] [VOLUME]',
  description: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', description: 'Specify volume driver name' },
    { name: 'label', type: 'list', description: 'Set metadata for a volume' },
    { name: 'name', type: 'string', hidden: true, description: 'Specify volume name' },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', description: 'Set driver specific options' },
  ],
  args: { max: 1 },
  async run({ args, flags, client, io }) {
    let name = flags.string('name');
    if (args.length === 1) {
      if (name !== '') throw new Error('conflicting options: cannot specify a volume-name through both --name and as a positional arg');
      name = args[0]!;
    }
    const body = parsingFlags(() => volumeCreateBody(name, flags));
    const vol = await client.json<Volume>('POST', '/volumes/create', { body });
    io.stdout.write(`${vol.Name}\n`);
    return 0;
  },
};

const LS_HEADERS = {
  ID: 'ID', Name: 'VOLUME NAME', Group: 'GROUP', Driver: 'DRIVER', Scope: 'SCOPE', Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Status: 'STATUS',
  Label: (name: string) => String(name).split('.').at(-1)!.replace(/[-_]/g, ' '),
};

/** A row of `volume ls`: docker's volumeContext fields, in its JSON's (sorted) order. */
export function volumeRow(v: Volume) {
  const labels = v.Labels ?? null;
  const usage = v.UsageData ?? null;
  return {
    // Cluster (swarm) volumes do not exist here.
    Availability: 'N/A',
    Driver: v.Driver,
    Group: 'N/A',
    Labels: labels ? Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(',') : '',
    Links: usage ? String(usage.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: usage ? humanSize(usage.Size) : 'N/A',
    Status: 'N/A',
    Label: (name: string) => labels?.[name] ?? '',
  };
}

/** formatter.NewVolumeFormat: "table" and "raw" are docker's names for built-in layouts. */
function lsFormat(format: string, quiet: boolean): string {
  if (format === '' || format === 'table') return quiet ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}';
  if (format === 'raw') return quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\\ndriver: {{.Driver}}\\n';
  return format;
}

const ls: Command = {
  name: 'volume ls',
  aliases: ['volume list'],
  usage: '[OPTIONS]',
  description: 'List volumes',
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "dangling=true")' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const res = await client.json<{ Volumes: Volume[] | null }>('GET', '/volumes', { query: { filters: filtersQuery(flags.list('filter')) } });
    const list = [...(res.Volumes ?? [])].sort((a, b) => naturalCompare(a.Name, b.Name));
    const format = lsFormat(flags.string('format'), flags.bool('quiet'));
    io.stdout.write(renderList(format, list.map(volumeRow), LS_HEADERS as unknown as Record<string, string>));
    return 0;
  },
};

const sortedMap = <T>(m: Record<string, T>) => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * The volume as docker prints it: decoded into volume.Volume and encoded again, so its fields
 * come in Go's order, missing ones as Go's zero values, maps with sorted keys.
 */
export function volumeView(v: Partial<Volume>): Volume {
  const map = <T>(m: Record<string, T> | null | undefined) => (m ? sortedMap(m) : null);
  return {
    ...(v.ClusterVolume ? { ClusterVolume: v.ClusterVolume } : {}),
    ...(v.CreatedAt ? { CreatedAt: v.CreatedAt } : {}),
    Driver: v.Driver ?? '',
    Labels: map(v.Labels),
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name ?? '',
    Options: map(v.Options),
    Scope: v.Scope ?? '',
    ...(v.Status && Object.keys(v.Status).length ? { Status: sortedMap(v.Status) } : {}),
    ...(v.UsageData ? { UsageData: { RefCount: v.UsageData.RefCount ?? 0, Size: v.UsageData.Size ?? 0 } } : {}),
  };
}

const inspect: Command = {
  name: 'volume inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  args: { min: 1 },
  run: ({ args, flags, client, io }) =>
    inspectEach(io, flags.string('format'), args, async (name) => volumeView(await client.json<Volume>('GET', `/volumes/${encodeURIComponent(trimId('volume', name))}`))),
};

const rm: Command = {
  name: 'volume rm',
  aliases: ['volume remove'],
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of one or more volumes' }],
  args: { min: 1 },
  async run({ args, flags, client, io }) {
    // -f goes to the daemon (which then ignores missing volumes); the errors come after all names.
    const errors: string[] = [];
    for (const name of args) {
      try {
        await client.call('DELETE', `/volumes/${encodeURIComponent(trimId('volume', name))}`, { query: { force: flags.bool('force') ? '1' : undefined } });
        io.stdout.write(`${name}\n`);
      } catch (e) {
        errors.push(daemonErrorText(e));
      }
    }
    for (const e of errors) io.stderr.write(`${e}\n`);
    return errors.length ? 1 : 0;
  },
};

/** The prune filters as docker sends them: --filter values, plus all=true for --all (API ≥ 1.42). */
export function pruneFilters(values: string[], all: boolean): string | undefined {
  const filters = JSON.parse(filtersQuery(values, '--filter') ?? '{}') as Record<string, Record<string, boolean>>;
  if (all) {
    if ('all' in filters) throw new Error('conflicting options: cannot specify both --all and --filter all=1');
    filters.all = { true: true };
  }
  // Go writes map keys sorted.
  const sorted = Object.fromEntries(Object.entries(sortedMap(filters)).map(([k, v]) => [k, sortedMap(v)]));
  return Object.keys(sorted).length ? JSON.stringify(sorted) : undefined;
}

const prune: Command = {
  name: 'volume prune',
  usage: '[OPTIONS]',
  description: 'Remove unused local volumes',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused volumes, not just anonymous ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "label=<label>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const all = flags.bool('all');
    const filters = pruneFilters(flags.list('filter'), all);
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
    // Declining is a cancellation: docker prints nothing more and exits 0.
    if (!flags.bool('force') && !(await confirm(io, warning))) return 0;
    const report = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters } });
    const deleted = report.VolumesDeleted ?? [];
    if (deleted.length > 0) io.stdout.write(`Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    io.stdout.write(`Total reclaimed space: ${humanSize(deleted.length > 0 ? report.SpaceReclaimed : 0)}\n`);
    return 0;
  },
};

export const volumeCommands: Command[] = [create, inspect, ls, prune, rm];
