/**
 * Image history and image prune, as the docker 28 CLI prints them. Kept apart from images.ts,
 * which containers.ts imports: `confirm` comes from lifecycle.ts, which imports containers.ts.
 */
import { type ApiClient } from '../../client/client';
import { humanDuration, humanSize } from '../../wire/units';
import { type Command } from '../command';
import { ellipsis, renderList, truncateId } from '../format';
import { rfc3339Local } from '../time';
import { confirm } from './lifecycle';
import { filtersQuery } from './network';

/** One entry of GET /images/{name}/history (image.HistoryResponseItem). */
export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

const HISTORY_HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

/** docker's historyContext: its fields in the (sorted) order {{json .}} prints them. */
export function historyRow(h: HistoryItem, human: boolean, trunc: boolean, now = Date.now()) {
  const createdAt = rfc3339Local(new Date(h.Created * 1000));
  const createdBy = h.CreatedBy.replace(/\t/g, ' ');
  return {
    Comment: h.Comment,
    CreatedAt: createdAt,
    CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: human ? `${humanDuration(now - h.Created * 1000)} ago` : createdAt,
    ID: trunc ? truncateId(h.Id) : h.Id,
    Size: human ? humanSize(h.Size, 3) : String(h.Size),
  };
}

const history: Command = {
  name: 'history',
  aliases: ['image history'],
  usage: '[OPTIONS] IMAGE',
  description: 'Show the history of an image',
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'human', short: 'H', type: 'bool', default: true, description: 'Print sizes and dates in human readable format' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const list = await client.json<HistoryItem[] | null>('GET', `/images/${encodeURIComponent(args[0]!)}/history`);
    const human = flags.bool('human');
    const rows = (list ?? []).map((h) => historyRow(h, human, !flags.bool('no-trunc')));
    // formatter.NewHistoryFormat: --quiet and -H only choose among the built-in layouts.
    let format = flags.string('format');
    if (format === '' || format === 'table') {
      format = flags.bool('quiet') ? '{{.ID}}'
        : human ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
        : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
    }
    io.stdout.write(renderList(format, rows, HISTORY_HEADERS));
    return 0;
  },
};

/** Filters as Go's filters.Args.ToJSON writes them: {"key":{"value":true}}, keys sorted. */
export function sortedFilters(filters: Record<string, Record<string, boolean>>): string | undefined {
  const keys = Object.keys(filters).sort();
  if (keys.length === 0) return undefined;
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, Object.fromEntries(Object.keys(filters[k]!).sort().map((v) => [v, true]))])));
}

/** image prune's filters: the --filter values plus dangling=true, or dangling=false with --all. */
export function imagePruneFilters(values: string[], all: boolean): string {
  const filters = JSON.parse(filtersQuery(values, '--filter') ?? '{}') as Record<string, Record<string, boolean>>;
  (filters.dangling ??= {})[String(!all)] = true;
  return sortedFilters(filters)!;
}

/** POST /images/prune; returns docker's "Deleted Images:" text ('' when none) and the space reclaimed. */
export async function pruneImages(client: ApiClient, values: string[], all: boolean): Promise<{ output: string; reclaimed: number }> {
  const report = await client.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>('POST', '/images/prune', {
    query: { filters: imagePruneFilters(values, all) },
  });
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length === 0) return { output: '', reclaimed: 0 };
  let output = 'Deleted Images:\n';
  for (const d of deleted) {
    if (d.Untagged) output += `untagged: ${d.Untagged}\n`;
    if (d.Deleted) output += `deleted: ${d.Deleted}\n`;
  }
  return { output, reclaimed: report.SpaceReclaimed };
}

const imagePrune: Command = {
  name: 'image prune',
  usage: '[OPTIONS]',
  description: 'Remove unused images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const all = flags.bool('all');
    imagePruneFilters(flags.list('filter'), all); // bad filters fail before the prompt
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
      : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
    // Declining is a cancellation: docker prints nothing more and exits 0.
    if (!flags.bool('force') && !(await confirm(io, warning))) return 0;
    const { output, reclaimed } = await pruneImages(client, flags.list('filter'), all);
    if (output) io.stdout.write(`${output}\n`);
    io.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};

export const imageUsageCommands: Command[] = [history, imagePrune];
