/**
 * `system df` and `system prune`: disk usage as docker 28 lays it out (its DiskUsageContext:
 * the summary table, or with -v one table per kind), and the prune of everything unused, in
 * docker's order (containers, networks, volumes with --volumes, images). berth has no build
 * cache: its row stays empty and nothing is sent to /build/prune.
 */
import { type ApiClient } from '../../client/client';
import { familiarRepository, parseReference } from '../../wire/reference';
import { humanDuration, humanSize } from '../../wire/units';
import { type Command } from '../command';
import { ellipsis, renderList, truncateId } from '../format';
import { naturalCompare } from '../port-spec';
import { Template } from '../template';
import { goTime } from '../time';
import { IMAGE_HEADERS } from './images';
import { pruneImages, sortedFilters } from './image-usage';
import { confirm } from './lifecycle';
import { filtersQuery } from './network';
import { type Volume, volumeRow } from './volume';

/** GET /system/df (types.DiskUsage), the fields the CLI reads. */
export interface DiskUsage {
  LayersSize: number;
  Images: DfImage[] | null;
  Containers: DfContainer[] | null;
  Volumes: Volume[] | null;
  BuildCache: DfBuildCache[] | null;
}
interface DfImage {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  Containers: number;
}
interface DfContainer {
  Id: string;
  Names: string[] | null;
  Image: string;
  ImageID?: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  Mounts?: { Type?: string; Driver?: string; Name?: string }[] | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
}
interface DfBuildCache {
  ID: string;
  Parents?: string[] | null;
  Type: string;
  Description?: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string | null;
  UsageCount: number;
}

const pct = (part: number, total: number) => (total > 0 ? `${humanSize(part)} (${Math.trunc((part * 100) / total)}%)` : humanSize(part));

/** A row of the summary: docker's diskUsage*Context, fields in the (sorted) order {{json .}} prints. */
function summaryRow(Type: string, total: number, active: number, size: string, reclaimable: string) {
  return { Active: String(active), Reclaimable: reclaimable, Size: size, TotalCount: String(total), Type };
}

const isActiveContainer = (c: DfContainer) => /running|paused|restarting/.test(c.State);

/** The four summary rows: Images, Containers, Local Volumes, Build Cache, as docker computes them. */
export function summaryRows(du: DiskUsage) {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];

  let imagesUsed = 0;
  for (const i of images) if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) imagesUsed += i.Size - i.SharedSize;
  const layers = du.LayersSize ?? 0;

  let ctrSize = 0;
  let ctrReclaimable = 0;
  for (const c of containers) {
    ctrSize += c.SizeRw ?? 0;
    if (!isActiveContainer(c)) ctrReclaimable += c.SizeRw ?? 0;
  }

  let volSize = 0;
  let volReclaimable = 0;
  for (const v of volumes) {
    const size = v.UsageData?.Size ?? -1;
    if (size === -1) continue;
    if ((v.UsageData?.RefCount ?? 0) === 0) volReclaimable += size;
    volSize += size;
  }

  const builderSize = cache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
  const inUse = cache.filter((b) => b.InUse && !b.Shared).reduce((n, b) => n + b.Size, 0);

  return [
    summaryRow('Images', images.length, images.filter((i) => i.Containers > 0).length, humanSize(layers), pct(layers - imagesUsed, layers)),
    summaryRow('Containers', containers.length, containers.filter(isActiveContainer).length, humanSize(ctrSize), pct(ctrReclaimable, ctrSize)),
    summaryRow('Local Volumes', volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, humanSize(volSize), pct(volReclaimable, volSize)),
    summaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, humanSize(builderSize), humanSize(builderSize - inUse)),
  ];
}

const SUMMARY_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_RAW = 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';

const IMAGES_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINERS_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUMES_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const CACHE_TABLE = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

const CONTAINER_HEADERS = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE',
  Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES',
};
const VOLUME_HEADERS = { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS' };
const CACHE_HEADERS = {
  ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
  Description: 'DESCRIPTION', Parent: 'PARENT', InUse: 'IN USE',
};

const since = (ms: number, now: number) => `${humanDuration(now - ms)} ago`;

function isDangling(i: DfImage): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** docker's imageContext for `df -v`: the first tag only; an image whose tag does not parse is left out, as docker does. */
function imageRows(images: DfImage[], trunc: boolean, now: number) {
  const rows = [];
  for (const i of images) {
    let Repository = '<none>';
    let Tag = '<none>';
    const tags = i.RepoTags ?? [];
    if (tags.length > 0 && !isDangling(i)) {
      let ref;
      try {
        ref = parseReference(tags[0]!);
      } catch {
        continue;
      }
      if (ref.tag !== undefined && ref.digest === undefined) {
        Repository = familiarRepository(ref);
        Tag = ref.tag;
      }
    }
    const size = (n: number) => humanSize(n, 3);
    rows.push({
      Containers: i.Containers === -1 ? 'N/A' : String(i.Containers),
      CreatedAt: goTime(new Date(i.Created * 1000)),
      CreatedSince: since(i.Created * 1000, now),
      Digest: '<none>',
      ID: trunc ? truncateId(i.Id) : i.Id,
      Repository,
      SharedSize: i.SharedSize === -1 ? 'N/A' : size(i.SharedSize),
      Size: size(i.Size),
      Tag,
      UniqueSize: i.Size === -1 || i.SharedSize === -1 ? 'N/A' : size(i.Size - i.SharedSize),
      VirtualSize: size(i.Size),
    });
  }
  return rows;
}

/** ContainerContext.Image with truncation: the short id, or the familiar name without a digest. */
function containerImage(c: DfContainer, trunc: boolean): string {
  if (c.Image === '') return '<no image>';
  if (!trunc) return c.Image;
  if (c.ImageID && truncateId(c.ImageID) === truncateId(c.Image)) return truncateId(c.Image);
  try {
    const ref = parseReference(c.Image);
    return familiarRepository(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '');
  } catch {
    return c.Image;
  }
}

/** docker's ContainerContext for `df -v` (SizeRootFs is dropped: no virtual size). */
function containerRows(containers: DfContainer[], trunc: boolean, now: number) {
  return containers.map((c) => {
    let names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (trunc) {
      const plain = names.find((n) => !n.includes('/'));
      if (plain !== undefined) names = [plain];
    }
    const mounts = c.Mounts ?? [];
    return {
      Command: JSON.stringify(trunc ? ellipsis(c.Command, 20) : c.Command),
      CreatedAt: goTime(new Date(c.Created * 1000)),
      ID: trunc ? c.Id.slice(0, 12) : c.Id,
      Image: containerImage(c, trunc),
      Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
      LocalVolumes: String(mounts.filter((m) => m.Type === 'volume' && m.Driver === 'local').length),
      Mounts: mounts.map((m) => (m.Name && trunc ? ellipsis(m.Name, 15) : m.Name ?? '')).filter((n) => n).join(','),
      Names: names.join(','),
      Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
      Ports: '',
      RunningFor: since(c.Created * 1000, now),
      Size: humanSize(c.SizeRw ?? 0, 3),
      State: c.State,
      Status: c.Status,
    };
  });
}

function cacheRows(cache: DfBuildCache[], trunc: boolean, now: number) {
  const sorted = [...cache].sort((a, b) => (a.Shared !== b.Shared ? (a.Shared ? 1 : -1) : Date.parse(b.LastUsedAt ?? '') - Date.parse(a.LastUsedAt ?? '')));
  return sorted.map((b) => ({
    CacheType: b.Type,
    CreatedAt: b.CreatedAt,
    CreatedSince: since(Date.parse(b.CreatedAt), now),
    Description: b.Description ?? '',
    ID: trunc ? b.ID.slice(0, 12) + (b.InUse ? '*' : '') : b.ID,
    InUse: String(b.InUse),
    LastUsedAt: b.LastUsedAt ?? '',
    LastUsedSince: b.LastUsedAt ? since(Date.parse(b.LastUsedAt), now) : '',
    Parent: (b.Parents ?? []).join(', '),
    Shared: String(b.Shared),
    Size: humanSize(b.Size, 3),
    UsageCount: String(b.UsageCount),
  }));
}

/** `system df` output for the given flags (pure, for tests). */
export function renderDiskUsage(du: DiskUsage, format: string, verbose: boolean, now = Date.now()): string {
  if (!verbose) {
    const f = format === '' || format === 'table' ? SUMMARY_TABLE : format === 'raw' ? SUMMARY_RAW : format;
    return renderList(f, summaryRows(du), SUMMARY_HEADERS);
  }
  const trunc = format === '' || format.startsWith('table');
  const sections = {
    Images: imageRows(du.Images ?? [], trunc, now),
    Containers: containerRows(du.Containers ?? [], trunc, now),
    Volumes: (du.Volumes ?? []).map(volumeRow),
    BuildCache: cacheRows(du.BuildCache ?? [], trunc, now),
  };
  if (format === '' || format === 'table') {
    const builderSize = (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
    return (
      'Images space usage:\n\n' + renderList(IMAGES_TABLE, sections.Images, IMAGE_HEADERS) +
      '\nContainers space usage:\n\n' + renderList(CONTAINERS_TABLE, sections.Containers, CONTAINER_HEADERS) +
      '\nLocal Volumes space usage:\n\n' + renderList(VOLUMES_TABLE, sections.Volumes, VOLUME_HEADERS) +
      `\nBuild cache usage: ${humanSize(builderSize)}\n\n` + renderList(CACHE_TABLE, sections.BuildCache, CACHE_HEADERS)
    );
  }
  // Any other format (a "table …" one too) runs once over the four sections, straight to the
  // output: no tabwriter, no newline added (docker's verboseWrite).
  const t = (format.startsWith('table') ? format.slice('table'.length) : format === 'json' ? '{{json .}}' : format)
    .replace(/^ +| +$/g, '')
    .replace(/\\([tn])/g, (_m, c: string) => (c === 't' ? '\t' : '\n'));
  return Template.parse(t).execute(sections);
}

const df: Command = {
  name: 'system df',
  usage: '[OPTIONS]',
  description: 'Show berth disk usage',
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const du = await client.json<DiskUsage>('GET', '/system/df');
    io.stdout.write(renderDiskUsage(du, flags.string('format'), flags.bool('verbose')));
    return 0;
  },
};

/** The filters of one prune call in `system prune`, as filters.Args.ToJSON writes them. */
function filtersOf(values: string[]): string | undefined {
  return sortedFilters(JSON.parse(filtersQuery(values, '--filter') ?? '{}') as Record<string, Record<string, boolean>>);
}

/** docker's confirmation template for `system prune`, rendered. */
export function systemPruneWarning(all: boolean, volumes: boolean, filterValues: string[]): string {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(all ? 'all images without at least one container associated to them' : 'all dangling images');
  const parsed = JSON.parse(filtersQuery(filterValues, '--filter') ?? '{}') as Record<string, Record<string, boolean>>;
  const filters: string[] = [];
  for (const name of ['label', 'label!', 'until']) for (const v of Object.keys(parsed[name] ?? {}).sort()) filters.push(`${name}=${v}`);
  filters.sort(naturalCompare);
  let text = 'WARNING! This will remove:' + warnings.map((w) => `\n  - ${w}`).join('') + '\n';
  if (filters.length > 0) text += '\n  Items to be pruned will be filtered with:' + filters.map((f) => `\n  - ${f}`).join('') + '\n';
  return `${text}\nAre you sure you want to continue?`;
}

async function pruneList(client: ApiClient, path: string, key: string, title: string, filters: string | undefined) {
  const report = await client.json<Record<string, unknown>>('POST', path, { query: { filters } });
  const deleted = (report[key] as string[] | null) ?? [];
  if (deleted.length === 0) return { output: '', reclaimed: 0 };
  return { output: `${title}:\n${deleted.map((d) => `${d}\n`).join('')}`, reclaimed: Number(report.SpaceReclaimed ?? 0) };
}

const systemPrune: Command = {
  name: 'system prune',
  usage: '[OPTIONS]',
  description: 'Remove unused data',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images not just dangling ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', description: 'Prune anonymous volumes' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const values = flags.list('filter');
    const all = flags.bool('all');
    const volumes = flags.bool('volumes');
    const filters = filtersOf(values);
    if (volumes && filters && 'until' in JSON.parse(filters)) throw new Error('ERROR: The "until" filter is not supported with "--volumes"');
    // Declining is a cancellation: docker prints nothing more and exits 0.
    if (!flags.bool('force') && !(await confirm(io, systemPruneWarning(all, volumes, values)))) return 0;
    const steps: (() => Promise<{ output: string; reclaimed: number }>)[] = [
      () => pruneList(client, '/containers/prune', 'ContainersDeleted', 'Deleted Containers', filters),
      () => pruneList(client, '/networks/prune', 'NetworksDeleted', 'Deleted Networks', filters),
    ];
    // Volumes are pruned without --all here: only anonymous ones, as docker does.
    if (volumes) steps.push(() => pruneList(client, '/volumes/prune', 'VolumesDeleted', 'Deleted Volumes', filters));
    steps.push(() => pruneImages(client, values, all));
    let reclaimed = 0;
    for (const step of steps) {
      const r = await step();
      reclaimed += r.reclaimed;
      if (r.output) io.stdout.write(`${r.output}\n`);
    }
    io.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};

export const diskUsageCommands: Command[] = [df, systemPrune];
