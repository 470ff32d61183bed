/**
 * A loaded Compose project driven through the Engine API, as Docker Compose drives it: the
 * project's networks and volumes made (labelled as Compose labels them), images built or pulled,
 * and each service converged to its replica count in dependency order. A container whose config
 * hash matches its service is kept (started if stopped); one that does not is replaced, and so
 * are the containers of the services that depend on it. Everything found again later is found by
 * its labels, so `down` and `ps` work on what an earlier run (or Docker Compose) made.
 */
import type { ApiClient } from '../client/client';
import { ApiError, jsonMessages } from '../client/client';
import { COMPOSE_VERSION, configHash, containerName, createBody, endpoint, imageName, Label } from './container-spec';
import type { Project, Service } from './model';

/** Builds a service's image (the CLI's build path: context tar, .dockerignore, POST /build). */
export type ImageBuilder = (service: Service, tag: string) => Promise<void>;

export interface UpOptions {
  build?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** Wait until every container is running, and healthy where it has a healthcheck. */
  wait?: boolean;
  /** Seconds --wait may take. */
  waitTimeout?: number;
  scale?: Record<string, number>;
  /** Only these services (and what they depend on). */
  services?: string[];
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Labels: Record<string, string>;
}

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Health?: { Status: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ComposeProject {
  constructor(
    private readonly client: ApiClient,
    readonly project: Project,
    private readonly say: (line: string) => void,
    private readonly buildImage?: ImageBuilder,
  ) {}

  private filters(extra: Record<string, string[]> = {}): string {
    return JSON.stringify({ label: [`${Label.project}=${this.project.name}`, ...(extra.label ?? [])] });
  }

  /** The project's containers (one-off ones too when `all`), as GET /containers/json lists them. */
  async containers(opts: { stopped?: boolean; service?: string; oneoff?: boolean } = {}): Promise<ContainerSummary[]> {
    const label = [...(opts.service ? [`${Label.service}=${opts.service}`] : []), ...(opts.oneoff === undefined ? [] : [`${Label.oneoff}=${opts.oneoff ? 'True' : 'False'}`])];
    const list = await this.client.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: opts.stopped ?? true, filters: this.filters({ label }) } });
    return list.sort((a, b) => a.Names[0].localeCompare(b.Names[0]));
  }

  async up(o: UpOptions = {}): Promise<void> {
    const services = this.selected(o.services);
    await this.ensureNetworks();
    await this.ensureVolumes();
    const images = new Map<string, string>();
    for (const s of services) images.set(s.name, await this.ensureImage(s, o.build ?? false));
    const orphans = (await this.containers({ oneoff: false })).filter((c) => !this.project.services.some((s) => s.name === c.Labels[Label.service]));
    for (const c of orphans) {
      if (o.removeOrphans) await this.remove(c.Id, c.Names[0].slice(1));
      else this.say(`Found orphan containers (${c.Names[0].slice(1)}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`);
    }
    // A service whose containers are replaced takes its dependents along: they resolved it by name.
    const replaced = new Set<string>();
    for (const s of this.order(services)) {
      await this.waitForDependencies(s);
      const dependencyReplaced = Object.keys(s.dependsOn).some((d) => replaced.has(d) && s.dependsOn[d].restart);
      if (await this.converge(s, images.get(s.name)!, { ...o, forceRecreate: o.forceRecreate || dependencyReplaced }, o.scale?.[s.name])) replaced.add(s.name);
    }
    if (o.wait) await this.waitReady(services, (o.waitTimeout ?? 300) * 1000);
  }

  /** Services named (all by default) with everything they depend on. */
  private selected(names?: string[]): Service[] {
    if (!names || names.length === 0) return this.project.services;
    const byName = new Map(this.project.services.map((s) => [s.name, s]));
    const out = new Set<string>();
    const add = (n: string) => {
      const s = byName.get(n);
      if (!s) throw new Error(`no such service: ${n}`);
      if (out.has(n)) return;
      out.add(n);
      dependencies(s).forEach(add);
    };
    names.forEach(add);
    return this.project.services.filter((s) => out.has(s.name));
  }

  /** Dependencies first; a cycle is an error naming it. */
  private order(services: Service[]): Service[] {
    const byName = new Map(services.map((s) => [s.name, s]));
    const done = new Set<string>();
    const out: Service[] = [];
    const visit = (s: Service, path: string[]) => {
      if (done.has(s.name)) return;
      if (path.includes(s.name)) throw new Error(`dependency cycle detected: ${[...path, s.name].join(' -> ')}`);
      for (const d of dependencies(s)) {
        const dep = byName.get(d);
        if (dep) visit(dep, [...path, s.name]);
      }
      done.add(s.name);
      out.push(s);
    };
    services.forEach((s) => visit(s, []));
    return out;
  }

  private async ensureNetworks(): Promise<void> {
    const used = new Set(this.project.services.flatMap((s) => Object.keys(s.networks)));
    for (const [key, n] of Object.entries(this.project.networks)) {
      if (!used.has(key)) continue;
      if (await this.exists(`/networks/${encodeURIComponent(n.name)}`)) continue;
      if (n.external) throw new Error(`network ${n.name} declared as external, but could not be found`);
      this.say(` Network ${n.name}  Creating`);
      await this.client.json('POST', '/networks/create', {
        body: {
          Name: n.name,
          CheckDuplicate: true,
          ...(n.driver ? { Driver: n.driver } : {}),
          Options: n.driverOpts,
          Internal: n.internal,
          EnableIPv6: n.enableIpv6,
          ...(n.ipam ? { IPAM: { Driver: n.ipam.driver ?? 'default', Config: n.ipam.config.map((c) => ({ ...(c.subnet ? { Subnet: c.subnet } : {}), ...(c.ipRange ? { IPRange: c.ipRange } : {}), ...(c.gateway ? { Gateway: c.gateway } : {}) })) } } : {}),
          Labels: { ...n.labels, [Label.project]: this.project.name, [Label.network]: key, [Label.version]: COMPOSE_VERSION },
        },
      });
      this.say(` Network ${n.name}  Created`);
    }
  }

  private async ensureVolumes(): Promise<void> {
    const used = new Set(this.project.services.flatMap((s) => s.volumes.flatMap((m) => (m.type === 'volume' && m.source ? [m.source] : []))));
    for (const [key, v] of Object.entries(this.project.volumes)) {
      if (!used.has(key)) continue;
      if (await this.exists(`/volumes/${encodeURIComponent(v.name)}`)) continue;
      if (v.external) throw new Error(`external volume "${v.name}" not found`);
      this.say(` Volume "${v.name}"  Creating`);
      await this.client.json('POST', '/volumes/create', {
        body: { Name: v.name, ...(v.driver ? { Driver: v.driver } : {}), DriverOpts: v.driverOpts, Labels: { ...v.labels, [Label.project]: this.project.name, [Label.volume]: key, [Label.version]: COMPOSE_VERSION } },
      });
      this.say(` Volume "${v.name}"  Created`);
    }
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.client.json('GET', path);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }

  /** The image id a service runs, built or pulled when it is missing (or built anyway with --build). */
  private async ensureImage(s: Service, build: boolean): Promise<string> {
    const ref = imageName(this.project, s);
    const id = async () => (await this.client.json<{ Id: string }>('GET', `/images/${encodeURIComponent(ref)}/json`)).Id;
    if (!build || !s.build) {
      try {
        return await id();
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
    }
    if (s.build) {
      if (!this.buildImage) throw new Error(`service ${s.name} needs a build`);
      this.say(` Service ${s.name}  Building`);
      await this.buildImage(s, ref);
      this.say(` Service ${s.name}  Built`);
      return id();
    }
    this.say(` ${s.name} Pulling`);
    const [name, tag] = splitRef(ref);
    const res = await this.client.dispatch('POST', '/images/create', { query: { fromImage: name, tag } });
    for await (const m of jsonMessages(res)) {
      if (m.error) throw new Error(String(m.error));
    }
    this.say(` ${s.name} Pulled`);
    return id();
  }

  /** Brings a service to its replica count; true when any container was replaced or created. */
  private async converge(s: Service, imageId: string, o: UpOptions, scale?: number): Promise<boolean> {
    const want = scale ?? s.replicas;
    const hash = configHash(s, imageId);
    const have = await this.containers({ service: s.name, oneoff: false });
    const byNumber = new Map(have.map((c) => [Number(c.Labels[Label.number]), c]));
    let changed = false;
    for (const [n, c] of byNumber) {
      if (n > want) {
        await this.remove(c.Id, c.Names[0].slice(1));
        byNumber.delete(n);
      }
    }
    for (let n = 1; n <= want; n++) {
      const c = byNumber.get(n);
      const name = containerName(this.project, s, n);
      if (c && (o.noRecreate || (!o.forceRecreate && c.Labels[Label.hash] === hash))) {
        if (c.State !== 'running') {
          this.say(` Container ${name}  Starting`);
          await this.client.call('POST', `/containers/${c.Id}/start`);
          this.say(` Container ${name}  Started`);
        } else {
          this.say(` Container ${name}  Running`);
        }
        continue;
      }
      if (c) await this.remove(c.Id, name, 'Recreate');
      changed = true;
      this.say(` Container ${name}  Creating`);
      const body = createBody(this.project, await this.resolveServiceRefs(s), n, imageName(this.project, s), hash);
      const created = await this.client.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
      for (const key of Object.keys(s.networks).slice(s.networkMode ? 0 : 1)) {
        await this.client.call('POST', `/networks/${encodeURIComponent(this.project.networks[key].name)}/connect`, { body: { Container: created.Id, EndpointConfig: endpoint(s, key) } });
      }
      this.say(` Container ${name}  Created`);
      this.say(` Container ${name}  Starting`);
      await this.client.call('POST', `/containers/${created.Id}/start`);
      this.say(` Container ${name}  Started`);
    }
    return changed;
  }

  /** network_mode, pid and ipc of `service:<name>` name that service's first container, as the API takes it. */
  private async resolveServiceRefs(s: Service): Promise<Service> {
    const resolve = async (v: string | undefined) => {
      if (!v?.startsWith('service:')) return v;
      const target = v.slice('service:'.length);
      const [c] = (await this.containers({ service: target, oneoff: false })).filter((x) => x.State === 'running');
      if (!c) throw new Error(`service "${s.name}" refers to service "${target}", which has no running container`);
      return `container:${c.Id}`;
    };
    const [networkMode, pid, ipc] = await Promise.all([resolve(s.networkMode), resolve(s.pid), resolve(s.ipc)]);
    return { ...s, ...(networkMode ? { networkMode } : {}), ...(pid ? { pid } : {}), ...(ipc ? { ipc } : {}) };
  }

  private async remove(id: string, name: string, verb = 'Stop'): Promise<void> {
    this.say(` Container ${name}  ${verb === 'Recreate' ? 'Recreate' : 'Stopping'}`);
    await this.client.call('POST', `/containers/${id}/stop`).catch(() => 0);
    await this.client.call('DELETE', `/containers/${id}`, { query: { force: true } });
    this.say(` Container ${name}  ${verb === 'Recreate' ? 'Recreated' : 'Removed'}`);
  }

  private async inspect(id: string): Promise<Inspect> {
    return this.client.json<Inspect>('GET', `/containers/${id}/json`);
  }

  /** Holds a service back until what it depends on meets the condition named for it. */
  private async waitForDependencies(s: Service, timeoutMs = 300_000): Promise<void> {
    for (const [dep, d] of Object.entries(s.dependsOn)) {
      if (d.condition === 'service_started') continue;
      const deadline = Date.now() + timeoutMs;
      for (const c of await this.containers({ service: dep, oneoff: false })) {
        const name = c.Names[0].slice(1);
        this.say(` Container ${name}  Waiting`);
        for (;;) {
          const st = (await this.inspect(c.Id)).State;
          if (d.condition === 'service_healthy') {
            if (st.Health?.Status === 'healthy') break;
            if (st.Health?.Status === 'unhealthy') throw new Error(`dependency failed to start: container ${name} is unhealthy`);
            if (!st.Health) throw new Error(`dependency failed to start: container ${name} has no healthcheck configured`);
            if (!st.Running) throw new Error(`dependency failed to start: container ${name} exited (${st.ExitCode})`);
          } else if (!st.Running && st.Status !== 'created') {
            if (st.ExitCode === 0) break;
            throw new Error(`service "${dep}" didn't complete successfully: exit ${st.ExitCode}`);
          }
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}`);
          await sleep(200);
        }
        this.say(` Container ${name}  ${d.condition === 'service_healthy' ? 'Healthy' : 'Exited'}`);
      }
    }
  }

  /** --wait: every container running, and healthy where it has a healthcheck. */
  private async waitReady(services: Service[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const s of services) {
      for (const c of await this.containers({ service: s.name, oneoff: false })) {
        const name = c.Names[0].slice(1);
        for (;;) {
          const st = (await this.inspect(c.Id)).State;
          const completedDep = this.project.services.some((o) => o.dependsOn[s.name]?.condition === 'service_completed_successfully');
          if (st.Running && (!st.Health || st.Health.Status === 'healthy')) break;
          if (!st.Running && completedDep && st.ExitCode === 0) break;
          if (st.Health?.Status === 'unhealthy') throw new Error(`container ${name} is unhealthy`);
          if (!st.Running && st.Status !== 'created' && st.Status !== 'restarting') throw new Error(`container ${name} exited (${st.ExitCode})`);
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} to be ready`);
          await sleep(200);
        }
        this.say(` Container ${name}  Healthy`);
      }
    }
  }

  async down(o: { volumes?: boolean; removeOrphans?: boolean; rmi?: 'local' | 'all' } = {}): Promise<void> {
    const containers = await this.containers();
    const known = new Set(this.project.services.map((s) => s.name));
    // Dependents first, so nothing loses a dependency while it runs; a service's replicas (and
    // orphans, last) all at once.
    const order = this.order(this.project.services).map((s) => s.name).reverse();
    const groups = new Map<string, ContainerSummary[]>();
    for (const c of containers) {
      const s = c.Labels[Label.service];
      if (!known.has(s) && c.Labels[Label.oneoff] !== 'True' && !o.removeOrphans) continue;
      const key = known.has(s) ? s : '';
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    for (const s of [...order, '']) await Promise.all((groups.get(s) ?? []).map((c) => this.remove(c.Id, c.Names[0].slice(1))));
    const networks = await this.client.json<{ Id: string; Name: string }[]>('GET', '/networks', { query: { filters: this.filters() } });
    for (const n of networks) {
      this.say(` Network ${n.Name}  Removing`);
      await this.client.call('DELETE', `/networks/${n.Id}`);
      this.say(` Network ${n.Name}  Removed`);
    }
    if (o.volumes) {
      const vols = await this.client.json<{ Volumes: { Name: string }[] | null }>('GET', '/volumes', { query: { filters: this.filters() } });
      for (const v of vols.Volumes ?? []) {
        this.say(` Volume ${v.Name}  Removing`);
        await this.client.call('DELETE', `/volumes/${encodeURIComponent(v.Name)}`);
        this.say(` Volume ${v.Name}  Removed`);
      }
    }
    if (o.rmi) {
      for (const s of this.project.services) {
        if (o.rmi === 'local' && s.image) continue;
        const ref = imageName(this.project, s);
        try {
          await this.client.call('DELETE', `/images/${encodeURIComponent(ref)}`);
          this.say(` Image ${ref}  Removed`);
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 404)) throw e;
        }
      }
    }
  }
}

/** What a service needs up before it: depends_on, and the services its namespaces join. */
function dependencies(s: Service): string[] {
  const refs = [s.networkMode, s.pid, s.ipc].flatMap((v) => (v?.startsWith('service:') ? [v.slice('service:'.length)] : []));
  return [...new Set([...Object.keys(s.dependsOn), ...refs])];
}

function splitRef(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}
