/**
 * berthd: the daemon process. Parses flags, cleans the process up for spawning monitors, opens
 * the engine, serves the API on a root-only unix socket, and stops cleanly on SIGTERM/SIGINT
 * (containers it runs are stopped first: Docker's default without live-restore).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dirname } from 'node:path';
import { containerRoutes } from './api/routes/containers';
import { containerFsRoutes } from './api/routes/container-fs';
import { containerObserveRoutes } from './api/routes/container-observe';
import { execRoutes } from './api/routes/exec';
import { distributionRoutes } from './api/routes/distribution';
import { buildRoutes } from './api/routes/build';
import { Builder } from './builder/builder';
import { imageArchiveRoutes } from './api/routes/image-archive';
import { imageRoutes } from './api/routes/images';
import { systemRoutes } from './api/routes/system';
import { createApiServer } from './api/server';
import { FlagError, type FlagSpec, formatHelp, parseFlags } from './cli/flags';
import { ensureTmpfs } from './runtime/exec-root';
import { Engine } from './engine/engine';
import { createLogger, isLevel } from './log';
import { BERTH_VERSION } from './version';
import { DEFAULT_HOST, unixSocketPath } from './wire/host';
import { networkRoutes } from './api/routes/networks';
import { volumeRoutes } from './api/routes/volumes';
import { systemDfRoutes } from './api/routes/system-df';

const FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', type: 'list', description: 'Daemon socket to listen on', default: [] },
  { name: 'data-root', type: 'string', description: 'Root directory of persistent state', default: '/var/lib/berth' },
  { name: 'exec-root', type: 'string', description: 'Root directory for execution state files', default: '/run/berth' },
  { name: 'pidfile', short: 'p', type: 'string', description: 'Path to use for daemon PID file (default <exec-root>/berthd.pid)' },
  { name: 'log-level', short: 'l', type: 'string', description: 'Set the logging level ("debug"|"info"|"warn"|"error")', default: 'info' },
  { name: 'debug', short: 'D', type: 'bool', description: 'Enable debug mode' },
  { name: 'runtime', type: 'string', description: 'Path of the OCI runtime', default: '/usr/sbin/runc' },
  { name: 'live-restore', type: 'bool', description: 'Keep containers running while the daemon is down (default true)', default: true },
  { name: 'conmon', type: 'string', description: 'Path of the container monitor', default: '/usr/bin/conmon' },
  { name: 'bridge', short: 'b', type: 'string', description: 'Interface of the default bridge network ("none" for no default bridge)', default: 'berth0' },
  { name: 'bip', type: 'string', description: 'IPv4 address and prefix length of the default bridge (e.g. 172.17.0.1/16)' },
  { name: 'default-address-pool', type: 'list', description: 'Default address pools for networks (base=<CIDR>,size=<prefix length>)', default: [] },
  { name: 'dns', type: 'list', description: 'DNS server for containers to use (default: the host\'s resolvers)', default: [] },
  { name: 'iptables', type: 'bool', description: 'Enable addition of iptables rules (default true)', default: true },
  { name: 'registry-mirror', type: 'list', description: 'Preferred Docker registry mirror', default: [] },
  { name: 'insecure-registry', type: 'list', description: 'Enable insecure registry communication', default: [] },
  { name: 'version', short: 'v', type: 'bool', description: 'Print version information and quit' },
];

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(argv, FLAGS);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`${e.message}\nSee 'berthd --help'.\n`);
      process.exit(125);
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(formatHelp('berthd [OPTIONS]', 'A self-sufficient runtime for containers', FLAGS));
    return;
  }
  if (parsed.bool('version')) {
    process.stdout.write(`berthd version ${BERTH_VERSION}\n`);
    return;
  }
  const level = parsed.bool('debug') ? 'debug' : parsed.string('log-level');
  if (!isLevel(level)) {
    process.stderr.write(`unable to parse logging level: ${level}\n`);
    process.exit(1);
  }
  const log = createLogger(level);
  if (parsed.args.length > 0) fail(log, `berthd takes no arguments (got ${parsed.args.join(' ')})`);
  if (process.getuid?.() !== 0) fail(log, 'berthd needs to be started with root privileges');

  const hosts = parsed.list('host');
  if (hosts.length > 1) fail(log, 'berthd listens on one socket; give -H once');
  const socketPath = socketFromHost(hosts[0] ?? DEFAULT_HOST, log);
  closeInheritedFds();
  // The exec root becomes a tmpfs (if it is not one) before anything is written to it.
  const execRoot = parsed.string('exec-root');
  fs.mkdirSync(execRoot, { recursive: true, mode: 0o710 });
  const onTmpfs = ensureTmpfs(execRoot);
  if (typeof onTmpfs === 'object') log('warn', 'exec root stays on its file system: cannot mount a tmpfs', { dir: execRoot, error: onTmpfs.failed });
  else log('debug', 'exec root', { dir: execRoot, tmpfs: onTmpfs });
  const pidfile = parsed.string('pidfile') || `${execRoot}/berthd.pid`;
  claimPidfile(pidfile, log);

  let engine: Engine;
  try {
    engine = await Engine.open({
      dataRoot: parsed.string('data-root'),
      execRoot: parsed.string('exec-root'),
      runtime: parsed.string('runtime'),
      conmon: parsed.string('conmon'),
      liveRestore: parsed.bool('live-restore'),
      bridge: parsed.string('bridge'),
      ...(parsed.string('bip') ? { bip: parsed.string('bip') } : {}),
      iptables: parsed.bool('iptables'),
      dns: parsed.list('dns'),
      addressPools: parsed.list('default-address-pool'),
      registryMirrors: parsed.list('registry-mirror'),
      insecureRegistries: parsed.list('insecure-registry'),
      log,
    });
  } catch (e) {
    fs.rmSync(pidfile, { force: true });
    fail(log, `cannot open the engine: ${(e as Error).message}`);
  }
  const server = createApiServer({
    routes: [...systemRoutes(engine), ...imageRoutes(engine), ...distributionRoutes(engine), ...imageArchiveRoutes(engine), ...containerRoutes(engine), ...execRoutes(engine), ...containerObserveRoutes(engine), ...containerFsRoutes(engine), ...networkRoutes(engine), ...volumeRoutes(engine), ...systemDfRoutes(engine), ...buildRoutes(new Builder(engine))],
    serverHeader: `berth/${BERTH_VERSION} (linux)`,
    log,
  });
  await listenUnix(server, socketPath, log);
  log('info', `API listen on ${socketPath}`, { version: BERTH_VERSION, dataRoot: parsed.string('data-root') });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log('warn', `second ${signal}: exiting without waiting for containers`);
      process.exit(1);
    }
    stopping = true;
    log('info', `processing signal '${signal}'`);
    server.close();
    server.closeAllConnections();
    try {
      await engine.shutdown();
    } catch (e) {
      log('error', 'shutdown failed', { error: String(e) });
    }
    fs.rmSync(socketPath, { force: true });
    fs.rmSync(pidfile, { force: true });
    log('info', 'daemon shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function fail(log: ReturnType<typeof createLogger>, msg: string): never {
  log('error', msg);
  process.exit(1);
}

function socketFromHost(host: string, log: ReturnType<typeof createLogger>): string {
  return unixSocketPath(host) ?? fail(log, `invalid -H ${host}: berthd listens on unix sockets only (unix:///path.sock)`);
}

/**
 * Every child (conmon, and through it the container) inherits fds that lack close-on-exec. A pipe
 * inherited from whoever started the daemon would otherwise stay open for the container's whole
 * life (notes/runtime.md §7). Node's own fds all have O_CLOEXEC (octal 02000000).
 */
function closeInheritedFds(): void {
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd < 3) continue;
    try {
      const flags = /flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0) fs.closeSync(fd);
    } catch {
      // The fd of the readdir itself is gone by now.
    }
  }
}

function claimPidfile(path: string, log: ReturnType<typeof createLogger>): void {
  try {
    const pid = Number(fs.readFileSync(path, 'utf8').trim());
    if (pid > 0 && pid !== process.pid && fs.existsSync(`/proc/${pid}`)) {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('berthd')) fail(log, `pid file found, ensure berthd is not running or delete ${path}`);
    }
  } catch {
    // No pid file: nothing is running.
  }
  fs.mkdirSync(dirname(path), { recursive: true });
  fs.writeFileSync(path, `${process.pid}`);
}

/** Listens with mode 0660 from the first instant (umask during bind), after ruling out a live daemon. */
async function listenUnix(server: import('node:http').Server, path: string, log: ReturnType<typeof createLogger>): Promise<void> {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (fs.existsSync(path)) {
    const live = await new Promise<boolean>((resolve) => {
      const s = net.connect(path, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (live) fail(log, `another daemon is already listening on ${path}`);
    fs.rmSync(path, { force: true });
  }
  const old = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  fs.chmodSync(path, 0o660);
}
