/**
 * The engine: opens the stores, builds the services, and reconciles them with what is on disk
 * and in the runtime. The daemon (src/berthd.ts) owns the process; this owns the state.
 *
 * Data root:                          Exec root:
 *   berth.db       metadata             runc/  ctr/  exits/  s/  tmp/   (see runtime/monitor.ts)
 *   content/       blobs by digest
 *   snapshots/     overlay layers and writable layers (see store/snapshots.ts)
 *   containers/    OCI bundles, etc files, logs
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ContentStore } from '../store/content-store';
import { BlobSources } from '../distribution/blob-sources';
import { Puller } from '../distribution/pull';
import { Pusher } from '../distribution/push';
import { collectGarbage, type GcResult } from './image-gc';
import { Registries } from '../distribution/registry';
import { type Db, openDb } from '../store/db';
import { LayerStore } from '../store/layers';
import { OverlaySnapshotter } from '../store/snapshots';
import { ExitWatcher } from '../runtime/exit-watcher';
import { Monitor } from '../runtime/monitor';
import { Runc } from '../runtime/runc';
import { sealedCopy } from '../runtime/sealed-binary';
import { ContainerService } from './containers';
import { ContainerFs } from './container-fs';
import { EventBus } from './events';
import { ExecService } from './exec';
import { ImageArchive } from './image-archive';
import { ImageService } from './images';
import { NetworkService } from './networks';
import { VolumeService } from './volumes';
import { DnsServer } from './dns-server';
import { Iptables } from '../runtime/iptables';

export interface EngineConfig {
  dataRoot: string;
  execRoot: string;
  runtime: string; // path of the OCI runtime binary
  conmon: string;
  /** Leave containers running when the daemon stops, and adopt them when it starts (berth's default). */
  liveRestore: boolean;
  /** The default bridge's interface (-b/--bridge; 'none': no default bridge network). */
  bridge?: string;
  /** --bip: the default bridge's gateway address and prefix length. */
  bip?: string;
  /** --iptables=false leaves the host's firewall alone (no NAT, no isolation, no published ports). */
  iptables?: boolean;
  /** --dns: the resolvers containers use (default: the host's). */
  dns?: string[];
  /** --default-address-pool: where networks' subnets are picked (Docker's pools by default). */
  addressPools?: string[];
  /** --registry-mirror: tried before Docker Hub for pulls. */
  registryMirrors?: string[];
  /** --insecure-registry: registries reached over plain HTTP or unchecked TLS (loopback always is). */
  insecureRegistries?: string[];
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class Engine {
  readonly events = new EventBus();
  readonly images: ImageService;
  /** Registry endpoints, auth and tokens; pull and push over them. */
  readonly registries: Registries;
  readonly puller: Puller;
  readonly pusher: Pusher;
  /** docker save and docker load. */
  readonly imageArchive: ImageArchive;
  readonly containers: ContainerService;
  /** docker cp, export, diff, commit: a container's filesystem from the outside. */
  readonly containerFs: ContainerFs;
  readonly execs: ExecService;
  readonly networks: NetworkService;
  readonly volumes: VolumeService;
  /** The embedded DNS of user-defined networks, listening on each one's gateway address. */
  readonly dns: DnsServer;
  readonly startedAt = new Date();
  readonly id: string;
  readonly runtimeVersion: string;
  private readonly exits: ExitWatcher;
  /** The runtime and the monitor, for services built beside the container service (exec). */
  readonly runc: Runc;
  readonly monitor: Monitor;

  private constructor(
    readonly config: EngineConfig,
    readonly db: Db,
    readonly content: ContentStore,
    readonly snapshots: OverlaySnapshotter,
    readonly layers: LayerStore,
  ) {
    const version = runtimeVersion(config.runtime);
    const sealed = sealedCopy(config.runtime);
    // Checked by running it: a kernel may refuse to execute memfds (vm.memfd_noexec).
    const runc = new Runc(sealed && version !== 'unknown' && runtimeVersion(sealed) === version ? sealed : config.runtime, join(config.execRoot, 'runc'));
    const monitor = new Monitor({ execRoot: config.execRoot, conmon: config.conmon }, runc);
    this.runc = runc;
    this.monitor = monitor;
    this.id = engineId(config.dataRoot);
    this.images = new ImageService(db, content, layers, this.events);
    this.registries = new Registries({ mirrors: config.registryMirrors ?? [], insecure: config.insecureRegistries ?? [] });
    const sources = new BlobSources(db);
    this.puller = new Puller({ registries: this.registries, images: this.images, layers, content, events: this.events, sources });
    this.pusher = new Pusher({ registries: this.registries, images: this.images, layers, content, events: this.events, sources });
    this.imageArchive = new ImageArchive({ images: this.images, layers, content, db, events: this.events });
    this.networks = new NetworkService({
      db, execRoot: config.execRoot, dataRoot: config.dataRoot, tag: this.id.replace(/-/g, '').slice(0, 8), bridge: config.bridge ?? 'berth0', dns: config.dns ?? [], addressPools: config.addressPools ?? [],
      ...(config.bip ? { bip: config.bip } : {}), ...(config.iptables !== false ? { iptables: new Iptables() } : {}), log: config.log,
    });
    const nets = this.networks;
    const view = nets.dnsView();
    this.dns = new DnsServer({
      resolver: view,
      upstreams: (asker) => view.upstreams(asker).map((address) => ({ address, port: 53 })),
      log: config.log,
    });
    nets.onGateway = async (gateway, up) => {
      if (up) await this.dns.listen(gateway);
      else await this.dns.close(gateway);
    };
    this.volumes = new VolumeService(db, join(config.dataRoot, 'volumes'), this.events);
    this.containers = new ContainerService({
      db, dataRoot: config.dataRoot, images: this.images, layers, snapshots, runc, monitor, events: this.events, networks: this.networks,
      volumes: this.volumes, log: config.log,
    });
    this.volumes.containers = () => this.containers.list();
    this.images.users = (id) => this.containers.usersOf(id);
    this.containerFs = new ContainerFs({ containers: this.containers, images: this.images, layers, snapshots, events: this.events, log: config.log });
    this.execs = new ExecService({ containers: this.containers, events: this.events, runc, execRoot: config.execRoot, conmon: config.conmon, log: config.log });
    // Health probes are execs; a probe past its timeout counts as a failure with Docker's message.
    this.containers.healthProbe = async (id, argv, timeoutMs) => {
      const r = await this.execs.run(id, argv, { timeoutMs });
      if (r.timedOut) return { exitCode: -1, output: `Health check exceeded timeout (${formatSeconds(timeoutMs)})` };
      return { exitCode: r.exitCode, output: r.output };
    };
    this.exits = new ExitWatcher(monitor.exitDir, (id, code) => this.containers.onExit(id, code));
    this.runtimeVersion = version;
  }

  static async open(config: EngineConfig): Promise<Engine> {
    for (const d of [config.dataRoot, config.execRoot]) fs.mkdirSync(d, { recursive: true, mode: 0o710 });
    fs.mkdirSync(join(config.dataRoot, 'containers'), { recursive: true, mode: 0o710 });
    const db = openDb(join(config.dataRoot, 'berth.db'));
    const content = ContentStore.open(join(config.dataRoot, 'content'));
    const snapshots = OverlaySnapshotter.open(join(config.dataRoot, 'snapshots'));
    const layers = new LayerStore(db, content, snapshots);
    const engine = new Engine(config, db, content, snapshots, layers);
    await engine.containers.load();
    await engine.networks.init(engine.containers.list(), (id) => engine.containers.isRunning(id));
    engine.sweep();
    const gc = engine.gc();
    if (gc.layers || gc.blobs) config.log('info', 'removed unreferenced image data', { ...gc });
    for (const name of engine.volumes.store.sweep()) config.log('info', 'removed the directory of a volume that has no record', { name });
    engine.exits.start();
    // In the background, as Docker's restore: the API answers while policy restarts proceed.
    void engine.containers.autoStart();
    return engine;
  }

  /** Removes layers and blobs no image or container uses (image-gc.ts). */
  gc(): GcResult {
    return collectGarbage(this.db, this.content, this.snapshots);
  }

  /** Deletes directories that no database row owns: leftovers of a crash mid-create or mid-remove. */
  private sweep(): void {
    const known = this.containers.knownIds();
    const layerIds = new Set(this.layers.all().map((d) => d.slice(7)));
    const snapRoot = join(this.config.dataRoot, 'snapshots');
    for (const name of fs.readdirSync(snapRoot)) {
      if (!known.has(name) && !layerIds.has(name)) {
        this.config.log('info', 'removing orphaned snapshot', { name });
        try {
          this.snapshots.remove(name);
        } catch (e) {
          this.config.log('warn', 'cannot remove orphaned snapshot', { name, error: String(e) });
        }
      }
    }
    const ctrRoot = join(this.config.dataRoot, 'containers');
    for (const name of fs.readdirSync(ctrRoot)) {
      if (!known.has(name)) fs.rmSync(join(ctrRoot, name), { recursive: true, force: true });
    }
  }

  async shutdown(): Promise<void> {
    await this.containers.stopAll(this.config.liveRestore);
    await this.containers.drain();
    this.networks.close();
    await this.dns.closeAll();
    this.exits.stop();
    this.db.close();
  }

  counts(): { containers: number; running: number; paused: number; stopped: number; images: number } {
    const all = this.containers.list();
    const running = all.filter((c) => c.state.Status === 'running').length;
    const paused = all.filter((c) => c.state.Status === 'paused').length;
    return { containers: all.length, running, paused, stopped: all.length - running - paused, images: this.images.list().length };
  }
}

/** A stable engine id, kept in the data root (Docker shows one in `info`). */
function engineId(dataRoot: string): string {
  const p = join(dataRoot, 'engine-id');
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    const id = crypto.randomUUID();
    fs.writeFileSync(p, id + '\n');
    return id;
  }
}

function runtimeVersion(bin: string): string {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
    return /version\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Go's Duration.String for whole-millisecond values: 30s, 1.5s, 200ms. */
function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

export const hostInfo = () => ({ hostname: os.hostname(), kernel: os.release(), cpus: os.cpus().length, memory: os.totalmem() });
