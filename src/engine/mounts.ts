/**
 * A container's mounts, resolved once at create as Docker resolves them: `-v` entries
 * (HostConfig.Binds: a host path or a volume name), `--mount` (HostConfig.Mounts: bind, volume,
 * tmpfs), `--volumes-from`, and an anonymous volume for every Config.Volumes path (the image's
 * VOLUME, `-v /path`) nothing else covers. The result is what inspect shows as Mounts and what
 * each start turns into OCI mounts (container-bundle.ts).
 */
import * as fs from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { invalid } from '../errors';

/** One mount, in inspect's field names, plus what a start needs that inspect does not show. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** The volume's name (volumes only). */
  Name?: string;
  /** The host path: the bind source or the volume's _data; '' for tmpfs. */
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Do not copy the image's files into a new, empty volume. */
  NoCopy?: boolean;
  /** tmpfs: size in bytes and mode. */
  Tmpfs?: { size?: number; mode?: number };
  /** A volume made for this container (removed with it by `rm -v` and --rm). */
  Anonymous?: boolean;
  /** The local driver's options of the volume (type, device, o): mounted on its _data at use. */
  VolumeOptions?: Record<string, string>;
}

/** What resolving needs from the volume service and the other containers. */
export interface MountContext {
  /** The volume of that name, made if missing; `anonymous` marks one made for a container path. */
  volume(name: string | undefined, opts: { anonymous: boolean; driver?: string; options?: Record<string, string>; labels?: Record<string, string> }): { name: string; dataDir: string; options: Record<string, string> };
  /** Another container's mounts (--volumes-from). */
  mountsOf(ref: string): MountPoint[];
}

interface MountRequest {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function destination(path: string, what: string): string {
  if (!path || !isAbsolute(path)) throw invalid(`invalid mount config for type "${what}": invalid mount path: '${path}' mount path must be absolute`);
  const d = normalize(path);
  if (d === '/') throw invalid(`invalid specification: destination can't be '/'`);
  return d.length > 1 && d.endsWith('/') ? d.slice(0, -1) : d;
}

/** `-v src:dst[:opts]` (HostConfig.Binds): a host path when src is absolute, else a volume name. */
function fromBind(spec: string, ctx: MountContext): MountPoint {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalid(`invalid volume specification: '${spec}'`);
  const [src, dst, mode = ''] = parts as [string, string, string?];
  const opts = mode ? mode.split(',') : [];
  let rw = true;
  let propagation = '';
  let noCopy = false;
  for (const o of opts) {
    if (o === 'ro') rw = false;
    else if (o === 'rw') rw = true;
    else if (o === 'nocopy') noCopy = true;
    else if (PROPAGATIONS.has(o)) propagation = o;
    else if (o === 'z' || o === 'Z' || o === 'consistent' || o === 'cached' || o === 'delegated') continue;
    else throw invalid(`invalid mode: ${mode}`);
  }
  const d = destination(dst, isAbsolute(src) ? 'bind' : 'volume');
  if (isAbsolute(src)) {
    if (noCopy) throw invalid(`invalid mode: ${mode}`);
    // As Docker does for -v (not for --mount): a missing host directory is created.
    fs.mkdirSync(src, { recursive: true, mode: 0o755 });
    return { Type: 'bind', Source: normalize(src), Destination: d, Mode: mode, RW: rw, Propagation: propagation || 'rprivate' };
  }
  if (propagation) throw invalid(`invalid mode: ${mode}`);
  const v = ctx.volume(src, { anonymous: false });
  return { Type: 'volume', Name: v.name, Source: v.dataDir, Destination: d, Driver: 'local', Mode: mode || 'z', RW: rw, Propagation: '', ...(noCopy ? { NoCopy: true } : {}), ...withOptions(v.options) };
}

/** `--mount type=…` (HostConfig.Mounts). */
function fromMount(m: MountRequest, ctx: MountContext): MountPoint {
  const type = m.Type ?? '';
  const rw = m.ReadOnly !== true;
  if (type === 'bind') {
    const src = m.Source ?? '';
    if (!isAbsolute(src)) throw invalid(`invalid mount config for type "bind": invalid mount path: '${src}' mount path must be absolute`);
    if (!fs.existsSync(src)) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${src}`);
    const p = m.BindOptions?.Propagation || 'rprivate';
    if (!PROPAGATIONS.has(p)) throw invalid(`invalid mount config for type "bind": invalid propagation mode: ${p}`);
    return { Type: 'bind', Source: normalize(src), Destination: destination(m.Target ?? '', 'bind'), Mode: '', RW: rw, Propagation: p };
  }
  if (type === 'volume') {
    if (m.BindOptions) throw invalid('invalid mount config for type "volume": BindOptions must not be specified');
    const driver = m.VolumeOptions?.DriverConfig;
    const v = ctx.volume(m.Source || undefined, {
      anonymous: !m.Source, ...(driver?.Name ? { driver: driver.Name } : {}), ...(driver?.Options ? { options: driver.Options } : {}),
      ...(m.VolumeOptions?.Labels ? { labels: m.VolumeOptions.Labels } : {}),
    });
    return {
      Type: 'volume', Name: v.name, Source: v.dataDir, Destination: destination(m.Target ?? '', 'volume'), Driver: 'local', Mode: '', RW: rw, Propagation: '',
      ...(m.VolumeOptions?.NoCopy ? { NoCopy: true } : {}), ...(!m.Source ? { Anonymous: true } : {}), ...withOptions(v.options),
    };
  }
  if (type === 'tmpfs') {
    if (m.Source) throw invalid('invalid mount config for type "tmpfs": Source must not be specified');
    const size = m.TmpfsOptions?.SizeBytes;
    const mode = m.TmpfsOptions?.Mode;
    if (size !== undefined && (!Number.isInteger(size) || size < 0)) throw invalid(`invalid mount config for type "tmpfs": invalid size ${size}`);
    return {
      Type: 'tmpfs', Source: '', Destination: destination(m.Target ?? '', 'tmpfs'), Mode: '', RW: rw, Propagation: '',
      Tmpfs: { ...(size ? { size } : {}), ...(mode !== undefined ? { mode } : {}) },
    };
  }
  throw invalid(`invalid mount config: mount type unknown: "${type}"`);
}

/** Every mount of a new container, checked; anonymous volumes made for uncovered Config.Volumes paths. */
export function resolveMounts(
  hc: { Binds?: string[] | null; Mounts?: MountRequest[] | null; VolumesFrom?: string[] | null },
  volumes: Record<string, object> | null,
  ctx: MountContext,
): MountPoint[] {
  const out: MountPoint[] = [];
  const add = (m: MountPoint) => {
    if (out.some((o) => o.Destination === m.Destination)) throw invalid(`Duplicate mount point: ${m.Destination}`);
    out.push(m);
  };
  for (const b of hc.Binds ?? []) add(fromBind(b, ctx));
  for (const m of hc.Mounts ?? []) add(fromMount(m, ctx));
  for (const ref of hc.VolumesFrom ?? []) {
    const [id, mode] = ref.split(':');
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid mode for volumes-from: ${mode}`);
    for (const m of ctx.mountsOf(id!)) {
      if (m.Type === 'tmpfs' || out.some((o) => o.Destination === m.Destination)) continue;
      const { Anonymous: _a, ...shared } = m;
      void _a;
      out.push({ ...shared, RW: mode === undefined ? m.RW : mode === 'rw' });
    }
  }
  for (const path of Object.keys(volumes ?? {})) {
    const d = destination(path, 'volume');
    if (out.some((o) => o.Destination === d)) continue;
    const v = ctx.volume(undefined, { anonymous: true });
    out.push({ Type: 'volume', Name: v.name, Source: v.dataDir, Destination: d, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
  }
  return out;
}

function withOptions(options: Record<string, string>): { VolumeOptions?: Record<string, string> } {
  return Object.keys(options).length ? { VolumeOptions: options } : {};
}

/** Inspect's view of a mount (the runtime-only fields left out). */
export function inspectMount(m: MountPoint) {
  return {
    Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination, ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode, RW: m.RW, Propagation: m.Propagation,
  };
}
