/**
 * Container lifecycle commands beyond start/stop: restart (shared with stop), pause, unpause, rename, prune.
 */
import { humanSize } from '../../wire/units';
import { type Command, eachReportingErrors, type Io } from '../command';
import { restart } from './containers';
import { filterMap } from './images';

function simple(name: 'pause' | 'unpause', description: string): Command {
  return {
    name,
    aliases: [`container ${name}`],
    usage: 'CONTAINER [CONTAINER...]',
    description,
    flags: [],
    args: { min: 1 },
    run(ctx) {
      return eachReportingErrors(ctx, ctx.args, async (ref) => {
        await ctx.client.call('POST', `/containers/${encodeURIComponent(ref)}/${name}`);
        ctx.io.stdout.write(`${ref}\n`);
      });
    },
  };
}

const rename: Command = {
  name: 'rename',
  aliases: ['container rename'],
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  flags: [],
  args: { min: 2, max: 2 },
  async run({ args, client }) {
    const [ref, name] = args;
    if (!name.trim()) throw new Error('Error: Neither old nor new names may be empty');
    await client.call('POST', `/containers/${encodeURIComponent(ref)}/rename`, { query: { name: name.trim() } });
    return 0;
  },
};

/** Docker's confirmation: anything but y/Y (including no input at all) is a no. */
export async function confirm(io: Io, question: string): Promise<boolean> {
  io.stdout.write(`${question} [y/N] `);
  const stdin = io.stdin;
  if (!stdin) return false;
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.off('error', done);
      stdin.pause();
      resolve(buf);
    };
    const onData = (c: Buffer | string) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    stdin.on('data', onData);
    stdin.on('end', done);
    stdin.on('error', done);
    stdin.resume();
  });
  return line.split('\n')[0]!.trim().toLowerCase() === 'y';
}

const prune: Command = {
  name: 'container prune',
  usage: '[OPTIONS]',
  description: 'Remove all stopped containers',
  flags: [
    { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    if (!flags.bool('force') && !(await confirm(io, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) {
      return 0;
    }
    const filters = filterMap(flags.list('filter'));
    const report = await client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', {
      query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined },
    });
    const deleted = report.ContainersDeleted ?? [];
    if (deleted.length > 0) io.stdout.write(`Deleted Containers:\n${deleted.map((d) => `${d}\n`).join('')}\n`);
    io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

export const lifecycleCommands: Command[] = [restart, simple('pause', 'Pause all processes within one or more containers'), simple('unpause', 'Unpause all processes within one or more containers'), rename, prune];
