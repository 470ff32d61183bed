/**
 * version and info, laid out as the docker CLI lays them out.
 */
import { API_VERSION } from '../../wire/api-version';
import { bytesSize } from '../../wire/units';
import { BERTH_VERSION } from '../../version';
import { type Command } from '../command';
import { renderOne } from '../format';

interface VersionInfo {
  Platform?: { Name: string };
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
}

const arch = () => (process.arch === 'x64' ? 'amd64' : process.arch);

const version: Command = {
  name: 'version',
  aliases: ['system version'],
  usage: '[OPTIONS]',
  description: 'Show the berth version information',
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const clientInfo = { Version: BERTH_VERSION, ApiVersion: API_VERSION, GoVersion: `node${process.version}`, Os: 'linux', Arch: arch() };
    let server: VersionInfo | undefined;
    let serverError: unknown;
    try {
      server = await client.json<VersionInfo>('GET', '/version');
    } catch (e) {
      serverError = e;
    }
    const format = flags.string('format');
    if (format) {
      io.stdout.write(renderOne(format, { Client: clientInfo, Server: server ?? null }));
      if (serverError) throw serverError;
      return 0;
    }
    const lines = [
      'Client:',
      ` Version:           ${clientInfo.Version}`,
      ` API version:       ${await client.apiVersion().catch(() => API_VERSION)}`,
      ` Node version:      ${process.version}`,
      ` OS/Arch:           linux/${arch()}`,
    ];
    if (server) {
      lines.push('', `Server: ${server.Platform?.Name ?? ''}`);
      for (const c of server.Components ?? []) {
        lines.push(` ${c.Name}:`, `  Version:          ${c.Version}`);
        const d = c.Details ?? {};
        if (c.Name === 'Engine') {
          lines.push(`  API version:      ${d.ApiVersion} (minimum version ${d.MinAPIVersion})`);
          lines.push(`  Runtime:          ${d.GoVersion}`);
          lines.push(`  OS/Arch:          ${d.Os}/${d.Arch}`);
          lines.push(`  Kernel:           ${d.KernelVersion}`);
        }
      }
    }
    io.stdout.write(lines.join('\n') + '\n');
    if (serverError) throw serverError;
    return 0;
  },
};

const info: Command = {
  name: 'info',
  aliases: ['system info'],
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const i = await client.json<Record<string, unknown>>('GET', '/info');
    const format = flags.string('format');
    if (format) {
      io.stdout.write(renderOne(format, i));
      return 0;
    }
    const lines = [
      'Client:',
      ` Version:    ${BERTH_VERSION}`,
      '',
      'Server:',
      ` Containers: ${i.Containers}`,
      `  Running: ${i.ContainersRunning}`,
      `  Paused: ${i.ContainersPaused}`,
      `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`,
      ` Server Version: ${i.ServerVersion}`,
      ` Storage Driver: ${i.Driver}`,
      ` Logging Driver: ${i.LoggingDriver}`,
      ` Cgroup Driver: ${i.CgroupDriver}`,
      ` Cgroup Version: ${i.CgroupVersion}`,
      ` Runtimes: ${Object.keys((i.Runtimes as object) ?? {}).join(' ')}`,
      ` Default Runtime: ${i.DefaultRuntime}`,
      ` Kernel Version: ${i.KernelVersion}`,
      ` Operating System: ${i.OperatingSystem}`,
      ` OSType: ${i.OSType}`,
      ` Architecture: ${i.Architecture}`,
      ` CPUs: ${i.NCPU}`,
      ` Total Memory: ${bytesSize(Number(i.MemTotal))}`,
      ` Name: ${i.Name}`,
      ` ID: ${i.ID}`,
      ` Berth Root Dir: ${i.DockerRootDir}`,
      ` Debug Mode: ${i.Debug}`,
      ` Live Restore Enabled: ${i.LiveRestoreEnabled}`,
    ];
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

export const systemCommands: Command[] = [version, info];
