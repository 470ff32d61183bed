/**
 * `berth update`: new resource limits (and restart policy) for containers, running or not.
 */
import { type Command, daemonErrorText } from '../command';
import { parseRestart } from './run-policy';
import { RESOURCE_FLAGS, resourceFields } from './run-resources';

const update: Command = {
  name: 'update',
  aliases: ['container update'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  flags: [
    ...RESOURCE_FLAGS,
    { name: 'restart', type: 'string', description: 'Restart policy to apply when a container exits' },
  ],
  args: { min: 1 },
  async run(ctx) {
    const { flags, client, io, args } = ctx;
    if (flags.changed.size === 0) {
      io.stderr.write('you must provide one or more flags when using this command\n');
      return 1;
    }
    const body = {
      ...resourceFields(flags),
      // Docker sends an empty policy name for "unchanged".
      RestartPolicy: flags.changed.has('restart') ? parseRestart(flags.string('restart')) : { Name: '', MaximumRetryCount: 0 },
    };
    const errors: string[] = [];
    for (const name of args) {
      try {
        const res = await client.json<{ Warnings: string[] | null }>('POST', `/containers/${encodeURIComponent(name)}/update`, { body });
        for (const w of res.Warnings ?? []) io.stderr.write(`${w}\n`);
        io.stdout.write(`${name}\n`);
      } catch (e) {
        errors.push(daemonErrorText(e));
      }
    }
    if (errors.length === 0) return 0;
    io.stderr.write(`${errors.join('\n')}\n`);
    return 1;
  },
};

export const updateCommands: Command[] = [update];
