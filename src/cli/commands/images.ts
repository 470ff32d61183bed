/**
 * Image commands: import, images, tag, rmi (history and image prune: image-usage.ts).
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { jsonMessages } from '../../client/client';
import { parseReference, ReferenceError } from '../../wire/reference';
import { humanDuration, humanSize } from '../../wire/units';
import { type Command, eachReportingErrors, UsageError } from '../command';
import { renderList, truncateId } from '../format';
import { goTime } from '../time';

interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  Containers: number;
  SharedSize: number;
  Labels: Record<string, string> | null;
}

const importCmd: Command = {
  name: 'import',
  aliases: ['image import'],
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  ],
  args: { min: 1, max: 2 },
  async run({ args, flags, client, io }) {
    const [src, name] = args;
    let repo: string | undefined;
    let tag: string | undefined;
    if (name) {
      try {
        const ref = parseReference(name);
        if (ref.digest) throw new UsageError(`invalid reference format: ${name}: a tag is expected, not a digest`, 1);
      } catch (e) {
        if (e instanceof ReferenceError) throw new UsageError(`invalid reference format: ${e.message}`, 1);
        throw e;
      }
      ({ repo, tag } = splitRepoTag(name));
    }
    const isUrl = /^https?:\/\//.test(src);
    let stream: Readable | undefined;
    if (src === '-') stream = io.stdin as Readable;
    else if (!isUrl) {
      if (!fs.existsSync(src)) throw new Error(`open ${src}: no such file or directory`);
      stream = fs.createReadStream(src);
    }
    const res = await client.dispatch('POST', '/images/create', {
      query: { fromSrc: isUrl ? src : '-', repo, tag, message: flags.string('message') || undefined, changes: flags.list('change') },
      stream,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    for await (const msg of jsonMessages(res)) if (typeof msg.status === 'string') io.stdout.write(`${msg.status}\n`);
    return 0;
  },
};

/** "localhost:5000/x:1" → repo "localhost:5000/x", tag "1" (a port is not a tag). */
export function splitRepoTag(name: string): { repo: string; tag: string | undefined } {
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name, tag: undefined };
}

export const IMAGE_HEADERS = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

const images: Command = {
  name: 'images',
  aliases: ['image ls', 'image list'],
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', description: 'Show digests' },
    { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  args: { max: 1 },
  async run({ args, flags, client, io }) {
    const filters = filterMap(flags.list('filter'));
    if (args[0]) (filters.reference ??= []).push(args[0]);
    const list = await client.json<ImageSummary[]>('GET', '/images/json', {
      query: { all: flags.bool('all') || undefined, filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined },
    });
    const noTrunc = flags.bool('no-trunc');
    const rows = list.flatMap((img) => {
      const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      const base = {
        ID: noTrunc ? img.Id : truncateId(img.Id),
        Digest: '<none>',
        CreatedSince: `${humanDuration(Date.now() - img.Created * 1000)} ago`,
        CreatedAt: goTime(new Date(img.Created * 1000)),
        Size: humanSize(img.Size, 3),
        VirtualSize: humanSize(img.Size, 3),
        SharedSize: img.SharedSize < 0 ? 'N/A' : humanSize(img.SharedSize, 3),
        UniqueSize: 'N/A',
        Containers: img.Containers < 0 ? 'N/A' : String(img.Containers),
      };
      if (tags.length === 0) return [{ ...base, Repository: '<none>', Tag: '<none>' }];
      return tags.map((t) => ({ ...base, ...splitRepoTagForDisplay(t) }));
    });
    if (flags.bool('quiet')) {
      const seen = new Set<string>();
      for (const r of rows) if (!seen.has(r.ID)) { seen.add(r.ID); io.stdout.write(`${r.ID}\n`); }
      return 0;
    }
    const table = flags.bool('digests')
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    io.stdout.write(renderList(flags.string('format') || table, rows, IMAGE_HEADERS, table));
    return 0;
  },
};

function splitRepoTagForDisplay(t: string): { Repository: string; Tag: string } {
  const { repo, tag } = splitRepoTag(t);
  return { Repository: repo, Tag: tag ?? '<none>' };
}

/** --filter key=value (repeatable) → Docker's filters JSON object. */
export function filterMap(specs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of specs) {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
    (out[s.slice(0, i).trim().toLowerCase()] ??= []).push(s.slice(i + 1));
  }
  return out;
}

const tagCmd: Command = {
  name: 'tag',
  aliases: ['image tag'],
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  args: { exact: 2 },
  async run({ args, client }) {
    const [source, target] = args;
    try {
      const ref = parseReference(target);
      if (ref.digest) throw new Error(`refusing to create a tag with a digest reference`);
    } catch (e) {
      if (e instanceof ReferenceError) throw new Error(`invalid reference format: ${e.message}`);
      throw e;
    }
    const { repo, tag } = splitRepoTag(target);
    await client.call('POST', `/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag } });
    return 0;
  },
};

const rmi: Command = {
  name: 'rmi',
  aliases: ['image rm', 'image remove'],
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
  ],
  args: { min: 1 },
  run(ctx) {
    const { flags, client, io } = ctx;
    return eachReportingErrors(ctx, ctx.args, async (name) => {
      const out = await client.json<({ Untagged?: string; Deleted?: string })[]>('DELETE', `/images/${encodeURIComponent(name)}`, {
        query: { force: flags.bool('force') || undefined, noprune: flags.bool('no-prune') || undefined },
      });
      for (const r of out) io.stdout.write(r.Untagged ? `Untagged: ${r.Untagged}\n` : `Deleted: ${r.Deleted}\n`);
    });
  },
};

export const imageCommands: Command[] = [importCmd, images, tagCmd, rmi];
