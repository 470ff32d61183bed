/**
 * `berth registry serve` and `berth registry gc`: berth's own registry server, run in this
 * process (it needs no daemon), over a storage directory of its own.
 */
import { authorizerFor, ConfigError, loadConfig, type RegistryConfig } from '../../registry/config';
import { collectGarbage } from '../../registry/gc';
import { createRegistryServer } from '../../registry/server';
import { RegistryStorage } from '../../registry/storage';
import { type Command, UsageError } from '../command';
import { humanSize } from '../../wire/units';

const DEFAULT_ROOT = '/var/lib/berth-registry';

function splitAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new UsageError(`invalid argument "${addr}" for "--addr" flag: want HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

const serve: Command = {
  name: 'registry serve',
  usage: '[OPTIONS]',
  description: 'Run an image registry (the OCI distribution spec) over a local directory',
  flags: [
    { name: 'config', type: 'string', valueName: 'file', description: 'Configuration file (YAML): auth, access list, TLS; flags win over it' },
    { name: 'addr', type: 'string', default: '127.0.0.1:5000', valueName: 'host:port', description: 'Address to listen on' },
    { name: 'root', type: 'string', default: DEFAULT_ROOT, valueName: 'dir', description: 'Directory that holds the blobs, manifests and uploads' },
    { name: 'tls-cert', type: 'string', valueName: 'file', description: 'Serve HTTPS with this certificate (PEM)' },
    { name: 'tls-key', type: 'string', valueName: 'file', description: 'Private key of --tls-cert (PEM)' },
  ],
  args: { max: 0 },
  async run({ flags, io }) {
    let cfg: RegistryConfig;
    try {
      cfg = loadConfig(flags.string('config') || undefined, { addr: flags.string('addr'), root: flags.string('root') });
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(`invalid registry configuration: ${e.message}`, 1);
      throw e;
    }
    if (flags.changed.has('addr')) cfg.addr = flags.string('addr');
    if (flags.changed.has('root')) cfg.root = flags.string('root');
    const cert = flags.string('tls-cert');
    const key = flags.string('tls-key');
    if ((cert === '') !== (key === '')) throw new UsageError('--tls-cert and --tls-key go together');
    if (cert) cfg.tls = { cert, key };
    const { host, port } = splitAddr(cfg.addr);
    const store = new RegistryStorage(cfg.root);
    let auth;
    try {
      auth = authorizerFor(cfg);
    } catch (e) {
      throw new UsageError(`invalid registry configuration: ${(e as Error).message}`, 1);
    }
    const server = createRegistryServer({ store, ...(auth ? { auth } : {}), ...(cfg.tls ? { tls: cfg.tls } : {}), log: (line) => io.stderr.write(`${line}\n`) });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    const shown = typeof a === 'object' && a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : cfg.addr;
    io.stdout.write(`berth registry serving ${cfg.tls ? 'https' : 'http'}://${shown} from ${store.root}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};

const gc: Command = {
  name: 'registry gc',
  usage: '[OPTIONS]',
  description: 'Delete the blobs no manifest of the registry refers to (run it while nothing pushes)',
  flags: [
    { name: 'root', type: 'string', default: DEFAULT_ROOT, valueName: 'dir', description: 'The registry directory' },
    { name: 'dry-run', short: 'd', type: 'bool', description: 'Only print what would be deleted' },
  ],
  args: { max: 0 },
  async run({ flags, io }) {
    const store = new RegistryStorage(flags.string('root'));
    const dryRun = flags.bool('dry-run');
    const report = collectGarbage(store, { dryRun, log: (line) => io.stdout.write(`${line}\n`) });
    const bytes = report.deleted.reduce((n, d) => n + d.size, 0);
    io.stdout.write(`${report.marked} blobs marked, ${report.deleted.length} blobs ${dryRun ? 'eligible for deletion' : 'deleted'} (${humanSize(bytes)}), ${report.uploads.length} abandoned uploads ${dryRun ? 'eligible for deletion' : 'deleted'}\n`);
    return 0;
  },
};

export const registryCommands: Command[] = [serve, gc];
