/**
 * Profiles: a service with `profiles` is active only when one of them is selected ("*" selects
 * all); a service without is always active. The services an active service depends on (depends_on,
 * links, volumes_from, network_mode/ipc/pid `service:`) are activated too, so a selection never
 * leaves a dependency behind. A required dependency that is not defined at all is an error.
 */
import { child, errorAt, isMapping } from './meta';

type Obj = Record<string, unknown>;

/** COMPOSE_PROFILES: a comma-separated list. */
export function profilesFromEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

interface Dependency {
  name: string;
  required: boolean;
  /** Where it was named, for the error. */
  parent: unknown;
  key: string | number;
  path: string;
}

/** The services `svc` needs, from every key that names another service. */
export function dependenciesOf(name: string, svc: Obj): Dependency[] {
  const deps: Dependency[] = [];
  const base = `services.${name}`;
  const dependsOn = svc.depends_on;
  if (Array.isArray(dependsOn)) {
    dependsOn.forEach((d, i) => deps.push({ name: String(d), required: true, parent: dependsOn, key: i, path: child(child(base, 'depends_on'), i) }));
  } else if (isMapping(dependsOn)) {
    for (const [d, opts] of Object.entries(dependsOn)) {
      const required = !(isMapping(opts) && (opts.required === false || opts.required === 'false'));
      deps.push({ name: d, required, parent: dependsOn, key: d, path: child(child(base, 'depends_on'), d) });
    }
  }
  if (Array.isArray(svc.links)) {
    const links = svc.links;
    links.forEach((l, i) => deps.push({ name: String(l).split(':')[0], required: true, parent: links, key: i, path: child(child(base, 'links'), i) }));
  }
  if (Array.isArray(svc.volumes_from)) {
    const from = svc.volumes_from;
    from.forEach((v, i) => {
      const s = String(v);
      if (!s.startsWith('container:')) deps.push({ name: s.split(':')[0], required: true, parent: from, key: i, path: child(child(base, 'volumes_from'), i) });
    });
  }
  for (const key of ['network_mode', 'ipc', 'pid']) {
    const v = svc[key];
    if (typeof v === 'string' && v.startsWith('service:')) deps.push({ name: v.slice(8), required: true, parent: svc, key, path: child(base, key) });
  }
  return deps;
}

function selected(svc: Obj, profiles: Set<string>): boolean {
  const own = svc.profiles;
  if (!Array.isArray(own) || own.length === 0) return true;
  return profiles.has('*') || own.some((p) => profiles.has(String(p)));
}

/** The names of the active services, in the order of `services`. */
export function activeServices(services: Obj, profiles: string[]): string[] {
  const wanted = new Set(profiles);
  const active = new Set<string>();
  const queue: string[] = [];
  for (const [name, svc] of Object.entries(services)) {
    if (isMapping(svc) && selected(svc, wanted)) {
      active.add(name);
      queue.push(name);
    }
  }
  // Bounded: each service enters the queue at most once.
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const dep of dependenciesOf(name, services[name] as Obj)) {
      if (!isMapping(services[dep.name])) {
        if (!dep.required) continue;
        throw errorAt(dep.parent, dep.key, dep.path, `service "${name}" depends on undefined service "${dep.name}"`);
      }
      if (!active.has(dep.name)) {
        active.add(dep.name);
        queue.push(dep.name);
      }
    }
  }
  return Object.keys(services).filter((n) => active.has(n));
}
