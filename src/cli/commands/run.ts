/**
 * run and create, which share their flags, and the attached-run sequence the docker CLI uses:
 * create → attach (hijacked) → wait (next-exit, or removed with --rm) → start → copy output →
 * exit with the container's code.
 */
import { ApiError, type ApiClient, readAll } from '../../client/client';
import { parseReference, ReferenceError, familiarName, withDefaultTag } from '../../wire/reference';
import { type Command, type CommandContext, daemonErrorText, type Io, UsageError } from '../command';
import { FlagError, type FlagSpec, type ParsedFlags } from '../flags';
import { parseMounts, volumeBinds } from '../mount-spec';
import { proxySignals } from '../signal-proxy';
import { followTerminalSize, isTerminal, NOT_A_TTY, rawMode, runSession } from '../tty';
import { pullImage } from './distribution';
import { healthcheckBody, POLICY_FLAGS, restartBody } from './run-policy';
import { NETWORK_FLAGS, networkFields } from './run-network';
import { CREATE_RESOURCE_FLAGS, createHostFields, readKeyValueFile } from './run-resources';

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'group-add', type: 'list', description: 'Add additional groups to join' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'read-only', type: 'bool', description: "Mount the container's root filesystem as read only" },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'stop-signal', type: 'string', description: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', description: 'Timeout (in seconds) to stop a container' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'attach', short: 'a', type: 'list', description: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'volume', short: 'v', type: 'list', description: 'Bind mount a volume' },
  { name: 'mount', type: 'list', valueName: 'mount', description: 'Attach a filesystem mount to the container' },
  { name: 'volumes-from', type: 'list', description: 'Mount volumes from the specified container(s)' },
  { name: 'volume-driver', type: 'string', description: 'Optional volume driver for the container' },
  { name: 'pull', type: 'string', description: 'Pull image before running ("always", "missing", "never")', default: 'missing' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the pull output' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  ...POLICY_FLAGS,
  ...CREATE_RESOURCE_FLAGS,
  ...NETWORK_FLAGS,
];

const RUN_FLAGS: FlagSpec[] = [
  ...CREATE_FLAGS,
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'sig-proxy', type: 'bool', description: 'Proxy received signals to the process', default: true },
  { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
];

/** -e KEY=VALUE, or -e KEY to pass the client's own value (dropped when unset, as Docker does). */
function envList(values: string[]): string[] {
  return values.flatMap((e) => {
    if (e.includes('=')) return [e];
    const v = process.env[e];
    return v === undefined ? [] : [`${e}=${v}`];
  });
}

function labelMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of values) {
    const i = l.indexOf('=');
    if (i < 0) out[l] = '';
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

export function createBody(flags: ParsedFlags, args: string[], attached: boolean) {
  const [image, ...cmd] = args;
  // --mount values are refused while docker parses flags, before anything else is looked at.
  const mounts = parseMounts(flags.list('mount'));
  const { binds, volumes } = volumeBinds(flags.list('volume'));
  const volumesFrom = flags.list('volumes-from');
  const interactive = flags.bool('interactive');
  const streams = attachStreams(flags);
  const net = networkFields(flags);
  return {
    Hostname: flags.string('hostname'),
    Domainname: '',
    User: flags.string('user'),
    AttachStdin: attached && (interactive || streams.includes('stdin')),
    AttachStdout: attached && (streams.length === 0 || streams.includes('stdout')),
    AttachStderr: attached && (streams.length === 0 || streams.includes('stderr')),
    ...(net.exposedPorts ? { ExposedPorts: net.exposedPorts } : {}),
    Tty: flags.bool('tty'),
    OpenStdin: interactive,
    StdinOnce: attached && interactive,
    // Files first, then the flags (which win), as the docker CLI reads them.
    Env: envList([...flags.list('env-file').flatMap((f) => readKeyValueFile(f, (k) => process.env[k])), ...flags.list('env')]),
    Cmd: cmd.length > 0 ? cmd : null,
    Image: image,
    Volumes: volumes,
    WorkingDir: flags.string('workdir'),
    Entrypoint: flags.changed.has('entrypoint') ? [flags.string('entrypoint')] : null,
    OnBuild: null,
    Labels: labelMap([...flags.list('label-file').flatMap((f) => readKeyValueFile(f)), ...flags.list('label')]),
    ...(flags.string('stop-signal') ? { StopSignal: flags.string('stop-signal') } : {}),
    ...(flags.changed.has('stop-timeout') ? { StopTimeout: flags.int('stop-timeout') } : {}),
    ...(healthcheckBody(flags) ? { Healthcheck: healthcheckBody(flags) } : {}),
    HostConfig: {
      Binds: binds.length ? binds : null,
      ...(flags.bool('tty') && process.stdout.isTTY ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {}),
      AutoRemove: flags.bool('rm'),
      VolumeDriver: flags.string('volume-driver'),
      VolumesFrom: volumesFrom.length ? volumesFrom : null,
      ReadonlyRootfs: flags.bool('read-only'),
      GroupAdd: flags.list('group-add').length ? flags.list('group-add') : null,
      NetworkMode: net.networkMode,
      PortBindings: net.portBindings,
      PublishAllPorts: net.publishAll,
      Links: net.links,
      RestartPolicy: restartBody(flags),
      ...createHostFields(flags),
      ...(mounts.length ? { Mounts: mounts } : {}),
    },
    NetworkingConfig: { EndpointsConfig: net.endpoints },
  };
}

/** -a/--attach: the streams named (any case), or none for the default (stdout and stderr). */
export function attachStreams(flags: ParsedFlags): string[] {
  return flags.list('attach').map((v) => {
    const s = v.toLowerCase();
    if (s !== 'stdin' && s !== 'stdout' && s !== 'stderr') {
      throw new UsageError(`invalid argument "${v}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    }
    return s;
  });
}

/** Creates the container; a missing image is reported as Docker reports it before its pull. */
async function createContainer(ctx: CommandContext, attached: boolean): Promise<string> {
  const { flags, args, client, io } = ctx;
  const pull = flags.string('pull');
  if (!['always', 'missing', 'never', ''].includes(pull)) throw new Error(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  // Flag values and specs are checked before the image reference, as docker parses them first.
  const body = createBody(flags, args, attached);
  try {
    parseReference(args[0]);
  } catch (e) {
    if (e instanceof ReferenceError) throw new Error(`invalid reference format: ${e.message.replace(/^invalid reference format: ?/, '') || 'repository name must be lowercase'}`);
  }
  const name = flags.string('name') || undefined;
  const platform = flags.string('platform') || process.env.DOCKER_DEFAULT_PLATFORM || undefined;
  // Pull output goes to stderr: stdout carries only the container id.
  const pullIt = () => pullImage(client, io, args[0], io.stderr, { quiet: flags.bool('quiet'), platform });
  if (pull === 'always') await pullIt();
  const create = () => client.json<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', { query: { name, platform }, body });
  let res;
  try {
    res = await create();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !/No such image/.test(e.message) || pull !== 'missing') throw e;
    let display = args[0];
    try {
      display = familiarName(withDefaultTag(parseReference(args[0])));
    } catch {
      // shown as typed
    }
    if (!flags.bool('quiet')) io.stderr.write(`Unable to find image '${display}' locally\n`);
    await pullIt();
    res = await create();
  }
  for (const w of res.Warnings ?? []) io.stderr.write(`WARNING: ${w}\n`);
  return res.Id;
}

/**
 * A failed create as the docker CLI reports it: a flag value its option type refuses reads as a
 * flag error (pflag's text and help pointer), anything else as "docker: …" with the run hint.
 */
function reportCreateError(ctx: CommandContext, e: unknown): number {
  if (e instanceof FlagError || e instanceof UsageError) {
    ctx.io.stderr.write(`${e.message}\nSee '${ctx.commandPath} --help'.\n`);
    return 125;
  }
  ctx.io.stderr.write(`berth: ${daemonErrorText(e)}\n\nRun '${ctx.commandPath} --help' for more information\n`);
  return 125;
}

/** Docker's exit codes for a container that could not start: 127 not found, 126 not executable. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return 125;
}

export async function attachAndStart(
  client: ApiClient, id: string, io: Io,
  o: { stdin: boolean; autoRemove: boolean; start: boolean; tty?: boolean; detachKeys?: string; stdout?: boolean; stderr?: boolean; sigProxy?: boolean },
): Promise<number> {
  const tty = o.tty ?? false;
  const { socket, contentType } = await client.hijack(`/containers/${id}/attach`, {
    stream: true, stdout: o.stdout ?? true, stderr: o.stderr ?? true, ...(o.stdin ? { stdin: true } : {}), ...(o.detachKeys ? { detachKeys: o.detachKeys } : {}),
  });
  let started!: () => void;
  const restore = tty && o.stdin ? rawMode(io) : () => {};
  const session = runSession(socket, contentType, io, {
    stdin: o.stdin, tty, detachKeys: o.detachKeys ?? '', inputAfter: new Promise<void>((r) => (started = r)),
  }, restore);
  const waitRes = await client.dispatch('POST', `/containers/${id}/wait`, { query: { condition: o.autoRemove ? 'removed' : 'next-exit' } });
  const waitBody = readAll(waitRes);
  if (o.start) {
    try {
      await client.call('POST', `/containers/${id}/start`);
    } catch (e) {
      restore();
      socket.destroy();
      waitRes.destroy();
      io.stderr.write(`berth: ${daemonErrorText(e)}\n`);
      return startFailureCode(e instanceof Error ? e.message : '');
    }
  }
  started();
  const stopProxy = !tty && (o.sigProxy ?? true)
    ? proxySignals((signal) => client.call('POST', `/containers/${id}/kill`, { query: { signal } }).then(() => {}))
    : () => {};
  const stopResize = tty ? followTerminalSize(io, (h, w) => client.call('POST', `/containers/${id}/resize`, { query: { h, w } }).then(() => {})) : () => {};
  const how = await session;
  stopResize();
  stopProxy();
  restore();
  if (how === 'detached') {
    // The container keeps running; as the docker CLI, say nothing.
    waitRes.destroy();
    return 0;
  }
  const result = JSON.parse(await waitBody) as { StatusCode: number; Error?: { Message: string } | null };
  if (result.Error?.Message) io.stderr.write(`berth: ${result.Error.Message}\n`);
  return result.StatusCode;
}

const run: Command = {
  name: 'run',
  aliases: ['container run'],
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  flags: RUN_FLAGS,
  interspersed: false,
  args: { min: 1 },
  async run(ctx) {
    const { flags, client, io } = ctx;
    const detach = flags.bool('detach');
    if (!detach && flags.bool('tty') && flags.bool('interactive') && !isTerminal(io.stdin)) {
      io.stderr.write(`${NOT_A_TTY}\n`);
      return 1;
    }
    let id: string;
    try {
      id = await createContainer(ctx, !detach);
    } catch (e) {
      return reportCreateError(ctx, e);
    }
    if (detach) {
      try {
        await client.call('POST', `/containers/${id}/start`);
      } catch (e) {
        io.stderr.write(`berth: ${daemonErrorText(e)}\n`);
        return startFailureCode(e instanceof Error ? e.message : '');
      }
      io.stdout.write(`${id}\n`);
      return 0;
    }
    const streams = attachStreams(flags);
    return attachAndStart(client, id, io, {
      stdin: flags.bool('interactive') || streams.includes('stdin'), autoRemove: flags.bool('rm'), start: true, tty: flags.bool('tty'),
      detachKeys: flags.string('detach-keys'), stdout: streams.length === 0 || streams.includes('stdout'), stderr: streams.length === 0 || streams.includes('stderr'),
      sigProxy: flags.bool('sig-proxy'),
    });
  },
};

const create: Command = {
  name: 'create',
  aliases: ['container create'],
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  flags: CREATE_FLAGS,
  interspersed: false,
  args: { min: 1 },
  async run(ctx) {
    try {
      ctx.io.stdout.write(`${await createContainer(ctx, false)}\n`);
      return 0;
    } catch (e) {
      return reportCreateError(ctx, e);
    }
  },
};

export const runCommands: Command[] = [run, create];
