/**
 * The `berth compose` subcommands about single containers of a project: exec and run (through
 * the exec command and the run path's attach, so they behave as `berth exec` and `berth run`),
 * rm, top, port, images, and pull/push of the services' images.
 */
import { randomBytes } from 'node:crypto';
import { Label, createBody, imageName } from '../../compose/container-spec';
import type { Service } from '../../compose/model';
import type { ContainerSummary } from '../../compose/project';
import { jsonMessages } from '../../client/client';
import { parseReference } from '../../wire/reference';
import { UsageError } from '../command';
import { registryAuthFor } from '../credentials';
import { parseFlags } from '../flags';
import type { ComposeSub } from './compose';
import { execCommands } from './exec';
import { attachAndStart } from './run';

const isTty = (s: object) => (s as { isTTY?: boolean }).isTTY === true;

function service(services: Service[], name: string | undefined): Service {
  const s = services.find((x) => x.name === name);
  if (!s) throw new UsageError(name === undefined ? 'requires a SERVICE argument' : `no such service: ${name}`, 1);
  return s;
}

export const containerSubcommands: Record<string, ComposeSub> = {
  exec: {
    usage: '[OPTIONS] SERVICE COMMAND [ARGS...]',
    description: 'Execute a command in a running container',
    interspersed: false,
    flags: [
      { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: Run command in the background' },
      { name: 'env', short: 'e', type: 'list', valueName: 'stringArray', description: 'Set environment variables' },
      { name: 'index', type: 'int', default: 1, description: 'Index of the container if service has multiple replicas' },
      { name: 'no-TTY', short: 'T', type: 'bool', description: 'Disable pseudo-TTY allocation. By default `compose exec` allocates a TTY' },
      { name: 'privileged', type: 'bool', description: 'Give extended privileges to the process' },
      { name: 'user', short: 'u', type: 'string', description: 'Run the command as this user' },
      { name: 'workdir', short: 'w', type: 'string', description: 'Path to workdir directory for this command' },
    ],
    async run({ ctx, flags, args, project, compose }) {
      const [name, ...cmd] = args;
      const s = service(project().services, name);
      if (cmd.length === 0) throw new UsageError('requires a COMMAND argument', 1);
      const index = flags.int('index');
      const c = (await compose().containers({ service: s.name, oneoff: false })).find((x) => x.Labels[Label.number] === String(index));
      if (!c || c.State !== 'running') throw new Error(`service "${s.name}" is not running container #${index}`);
      const exec = execCommands.find((x) => x.name === 'exec')!;
      const tty = !flags.bool('no-TTY') && isTty(ctx.io.stdin) && isTty(ctx.io.stdout);
      const argv = [
        ...(flags.bool('detach') ? ['-d'] : ['-i']),
        ...(tty ? ['-t'] : []),
        ...flags.list('env').flatMap((e) => ['-e', e]),
        ...(flags.string('user') ? ['-u', flags.string('user')] : []),
        ...(flags.string('workdir') ? ['-w', flags.string('workdir')] : []),
        ...(flags.bool('privileged') ? ['--privileged'] : []),
        c.Id,
        ...cmd,
      ];
      const parsed = parseFlags(argv, exec.flags, { interspersed: false });
      return exec.run({ ...ctx, args: parsed.args, flags: parsed, commandPath: 'berth compose exec' });
    },
  },
  run: {
    usage: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
    description: 'Run a one-off command on a service',
    interspersed: false,
    flags: [
      { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
      { name: 'env', short: 'e', type: 'list', valueName: 'stringArray', description: 'Set environment variables' },
      { name: 'rm', type: 'bool', description: 'Automatically remove the container when it exits' },
      { name: 'name', type: 'string', description: 'Assign a name to the container' },
      { name: 'no-TTY', short: 'T', type: 'bool', description: 'Disable pseudo-TTY allocation (default: auto-detected)' },
      { name: 'no-deps', type: 'bool', description: "Don't start linked services" },
      { name: 'user', short: 'u', type: 'string', description: 'Run as specified username or uid' },
      { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
      { name: 'entrypoint', type: 'string', description: 'Override the entrypoint of the image' },
    ],
    async run({ ctx, flags, args, project, compose }) {
      const p = project();
      const [name, ...cmd] = args;
      const s = service(p.services, name);
      const engine = compose();
      // Dependencies come up first, as with `up`, unless --no-deps.
      const deps = Object.keys(s.dependsOn);
      if (!flags.bool('no-deps') && deps.length > 0) await engine.up({ services: deps });
      const image = imageName(p, s);
      const img = await ctx.client.json<{ Id: string }>('GET', `/images/${encodeURIComponent(image)}/json`);
      const tty = !flags.bool('no-TTY') && !flags.bool('detach') && isTty(ctx.io.stdin) && isTty(ctx.io.stdout);
      const env = { ...s.environment, ...Object.fromEntries(flags.list('env').map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, process.env[e] ?? '']))) };
      const oneoff: Service = {
        ...s,
        environment: env,
        ports: [], // one-off containers publish no ports, as Compose's run without --service-ports
        ...(cmd.length > 0 ? { command: cmd } : {}),
        ...(flags.string('entrypoint') ? { entrypoint: [flags.string('entrypoint')] } : {}),
        ...(flags.string('user') ? { user: flags.string('user') } : {}),
        ...(flags.string('workdir') ? { workingDir: flags.string('workdir') } : {}),
        tty,
        stdinOpen: !flags.bool('detach'),
        containerName: flags.string('name') || `${p.name}-${s.name}-run-${randomBytes(6).toString('hex')}`,
      };
      const body = createBody(p, oneoff, 1, image, img.Id) as { Labels: Record<string, string>; HostConfig: Record<string, unknown>; AttachStdin?: boolean };
      body.Labels[Label.oneoff] = 'True';
      body.HostConfig.AutoRemove = flags.bool('rm');
      if (!flags.bool('detach')) body.AttachStdin = true;
      const created = await ctx.client.json<{ Id: string }>('POST', '/containers/create', { query: { name: oneoff.containerName }, body });
      if (flags.bool('detach')) {
        await ctx.client.call('POST', `/containers/${created.Id}/start`);
        ctx.io.stdout.write(`${oneoff.containerName}\n`);
        return 0;
      }
      return attachAndStart(ctx.client, created.Id, ctx.io, { stdin: true, autoRemove: flags.bool('rm'), start: true, tty });
    },
  },
  rm: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'Removes stopped service containers',
    flags: [
      { name: 'force', short: 'f', type: 'bool', description: "Don't ask to confirm removal" },
      { name: 'stop', short: 's', type: 'bool', description: 'Stop the containers, if required, before removing' },
      { name: 'volumes', short: 'v', type: 'bool', description: 'Remove any anonymous volumes attached to containers' },
    ],
    async run({ ctx, flags, args, compose }) {
      let list = await compose().containers({ stopped: true });
      if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
      if (flags.bool('stop')) for (const c of list.filter((x) => x.State === 'running')) await ctx.client.call('POST', `/containers/${c.Id}/stop`);
      else list = list.filter((c) => c.State !== 'running');
      if (list.length === 0) {
        ctx.io.stderr.write('No stopped containers\n');
        return 0;
      }
      for (const c of list) {
        await ctx.client.call('DELETE', `/containers/${c.Id}`, { query: { v: flags.bool('volumes') } });
        ctx.io.stderr.write(` Container ${c.Names[0].slice(1)}  Removed\n`);
      }
      return 0;
    },
  },
  top: {
    usage: '[SERVICES...]',
    description: 'Display the running processes',
    flags: [],
    async run({ ctx, args, compose }) {
      let list = (await compose().containers({ stopped: false })).filter((c) => c.State === 'running');
      if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
      for (const c of list) {
        const top = await ctx.client.json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.Id}/top`);
        const rows = [top.Titles, ...top.Processes];
        const widths = top.Titles.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
        ctx.io.stdout.write(`${c.Names[0].slice(1)}\n${rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]))).join('   ')).join('\n')}\n\n`);
      }
      return 0;
    },
  },
  port: {
    usage: '[OPTIONS] SERVICE PRIVATE_PORT',
    description: 'Print the public port for a port binding',
    flags: [
      { name: 'index', type: 'int', default: 1, description: 'Index of the container if service has multiple replicas' },
      { name: 'protocol', type: 'string', default: 'tcp', description: 'tcp or udp' },
    ],
    async run({ ctx, flags, args, project, compose }) {
      const s = service(project().services, args[0]);
      if (args.length !== 2) throw new UsageError('requires SERVICE and PRIVATE_PORT', 1);
      const c = (await compose().containers({ service: s.name, oneoff: false })).find((x) => x.Labels[Label.number] === String(flags.int('index')));
      const hit = c?.Ports.find((p) => String(p.PrivatePort) === args[1] && p.Type === flags.string('protocol') && p.PublicPort);
      if (!hit) throw new Error(`no port ${args[1]}/${flags.string('protocol')} for container ${s.name}`);
      ctx.io.stdout.write(`${hit.IP ?? '0.0.0.0'}:${hit.PublicPort}\n`);
      return 0;
    },
  },
  images: {
    usage: '[OPTIONS] [SERVICE...]',
    description: 'List images used by the created containers',
    flags: [{ name: 'quiet', short: 'q', type: 'bool', description: 'Only display IDs' }],
    async run({ ctx, flags, args, compose }) {
      let list: ContainerSummary[] = await compose().containers({ stopped: true });
      if (args.length > 0) list = list.filter((c) => args.includes(c.Labels[Label.service]));
      const rows: string[][] = [];
      for (const c of list) {
        const img = await ctx.client.json<{ Id: string; RepoTags: string[]; Size: number }>('GET', `/images/${encodeURIComponent(c.Image)}/json`);
        const [repo, tag] = (img.RepoTags[0] ?? '<none>:<none>').split(/:(?=[^:/]*$)/);
        rows.push([c.Names[0].slice(1), repo, tag ?? 'latest', img.Id.replace(/^sha256:/, '').slice(0, 12), `${(img.Size / 1e6).toFixed(1)}MB`]);
      }
      if (flags.bool('quiet')) {
        ctx.io.stdout.write([...new Set(rows.map((r) => r[3]))].map((id) => `${id}\n`).join(''));
        return 0;
      }
      const head = ['CONTAINER', 'REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      ctx.io.stdout.write([head, ...rows].map((r) => r.map((v, i) => v.padEnd(widths[i])).join('   ').trimEnd() + '\n').join(''));
      return 0;
    },
  },
  pull: transfer('pull', 'Pull service images'),
  push: transfer('push', 'Push service images'),
};

function transfer(kind: 'pull' | 'push', description: string): ComposeSub {
  return {
    usage: '[OPTIONS] [SERVICE...]',
    description,
    flags: [{ name: 'quiet', short: 'q', type: 'bool', description: 'Pull without printing progress information' }],
    async run({ ctx, flags, args, project }) {
      const p = project();
      for (const s of p.services) {
        if (args.length > 0 && !args.includes(s.name)) continue;
        // Pull what has an image and no build; push what was built or named.
        if (kind === 'pull' && (!s.image || s.build)) continue;
        if (kind === 'push' && !s.image) continue;
        const ref = imageName(p, s);
        const at = ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref.lastIndexOf(':') : -1;
        const [name, tag] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
        if (!flags.bool('quiet')) ctx.io.stderr.write(` ${s.name} ${kind === 'pull' ? 'Pulling' : 'Pushing'}\n`);
        const res =
          kind === 'pull'
            ? await ctx.client.dispatch('POST', '/images/create', { query: { fromImage: name, tag } })
            : await ctx.client.dispatch('POST', `/images/${encodeURIComponent(name)}/push`, {
                query: { tag },
                headers: { 'X-Registry-Auth': registryAuthFor(parseReference(ref).domain, (l) => ctx.io.stderr.write(`${l}\n`)) },
              });
        for await (const m of jsonMessages(res)) if (m.error) throw new Error(String(m.error));
        if (!flags.bool('quiet')) ctx.io.stderr.write(` ${s.name} ${kind === 'pull' ? 'Pulled' : 'Pushed'}\n`);
      }
      return 0;
    },
  };
}
