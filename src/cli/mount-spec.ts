/**
 * Docker's volume and mount specs as `run`/`create` read them on the client side (docker 28):
 * `-v src:dst[:opts]` and anonymous `-v /dst` (the CLI's volumespec parser, which only checks the
 * colons and decides bind versus volume; options such as `z` or `nocopy` travel on to the
 * daemon as written), and the csv syntax of `--mount` (opts.MountOpt) into mount.Mount as the
 * Engine API takes it. The error texts are Docker's; scripts match on them.
 */
import * as path from 'node:path';
import { ramInBytes } from '../wire/units';
import { csvRecord } from './commands/run-network';
import { FlagError, parseGoBool } from './flags';
import { goQuote } from './template';

export interface VolumeSpec {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
  /** A propagation among the options (bind mounts); the daemon applies it, from Binds. */
  propagation?: string;
  noCopy?: boolean;
}

const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'];

const isLetter = (ch: string | undefined) => ch !== undefined && /^\p{L}$/u.test(ch);

/** A drive letter's colon ("c:") belongs to the path, not between fields. */
const isWindowsDrive = (buffer: string[], ch: string) => ch === ':' && buffer.length === 1 && isLetter(buffer[0]);

/** A source that names a host path (bind) rather than a volume. */
function isFilePath(source: string): boolean {
  if ('./~'.includes(source[0]!)) return true;
  const runes = [...source];
  if (runes.length === 1) return false;
  if (source.startsWith('\\\\')) return true; // Windows named pipes
  return runes[1] === ':' && isLetter(runes[0]);
}

/**
 * volumespec.Parse: "target" (anonymous volume), "source:target" or "source:target:options".
 * Go walks the spec plus a NUL that marks its end, so a NUL inside ends a field too.
 */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const v: VolumeSpec = { type: 'volume', source: '', target: '', readOnly: false };
  const bytes = Buffer.byteLength(spec);
  if (bytes === 0) throw new Error('invalid empty volume spec');
  if (bytes <= 2) return { ...v, target: spec };
  const END = '\0';
  let buffer: string[] = [];
  const populate = (ch: string): void => {
    const text = buffer.join('');
    if (buffer.length === 0) throw new Error('empty section between colons');
    if (v.source === '' && ch === END) v.target = text; // anonymous volume
    else if (v.source === '') v.source = text;
    else if (v.target === '') v.target = text;
    else if (ch === ':') throw new Error('too many colons');
    else {
      for (const option of text.split(',')) {
        if (option === 'ro') v.readOnly = true;
        else if (option === 'rw') v.readOnly = false;
        else if (option === 'nocopy') v.noCopy = true;
        else if (PROPAGATIONS.includes(option)) v.propagation = option;
        // anything else is left to the daemon
      }
    }
  };
  for (const ch of [...spec, END]) {
    if (isWindowsDrive(buffer, ch)) buffer.push(ch);
    else if (ch === ':' || ch === END) {
      try {
        populate(ch);
      } catch (e) {
        throw new Error(`invalid spec: ${spec}: ${(e as Error).message}`);
      }
      buffer = [];
    } else buffer.push(ch);
  }
  v.type = v.source !== '' && isFilePath(v.source) ? 'bind' : 'volume';
  return v;
}

/**
 * What run/create send for `-v`: specs with a source go to HostConfig.Binds (a relative host path
 * starting with "." made absolute), anonymous ones to Config.Volumes keyed by the spec. Repeated
 * specs count once, as docker collects them in a map; docker's Binds follow that map's random
 * order, these keep the command line's.
 */
export function volumeBinds(specs: readonly string[], cwd = process.cwd()): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const anonymous: string[] = [];
  for (const spec of new Set(specs)) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source === '') {
      anonymous.push(spec);
      continue;
    }
    const colon = spec.indexOf(':');
    let bind = spec;
    if (parsed.type === 'bind' && colon >= 0) {
      let host = spec.slice(0, colon);
      if (!path.isAbsolute(host) && host.startsWith('.')) host = path.resolve(cwd, host);
      bind = `${host}:${spec.slice(colon + 1)}`;
    }
    binds.push(bind);
  }
  anonymous.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // Go writes map keys sorted
  return { binds, volumes: Object.fromEntries(anonymous.map((t) => [t, {}])) };
}

export interface BindOptions {
  Propagation?: string;
  NonRecursive?: boolean;
  CreateMountpoint?: boolean;
  ReadOnlyNonRecursive?: boolean;
  ReadOnlyForceRecursive?: boolean;
}

export interface VolumeOptions {
  NoCopy?: boolean;
  Labels?: Record<string, string>;
  Subpath?: string;
  DriverConfig?: { Name?: string; Options?: Record<string, string> };
}

/** mount.Mount as Go's encoding/json writes it: fields in Go's order, empty ones left out. */
export interface Mount {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: BindOptions;
  VolumeOptions?: VolumeOptions;
  ImageOptions?: { Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** Go's omitempty: drops undefined, false, 0, '' and empty maps; keeps the key order. */
function omitEmpty<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === false || v === 0 || v === '') continue;
    if (typeof v === 'object' && v !== null && mapLike.has(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}
/** The objects that are Go maps (omitted when empty), as opposed to structs behind pointers (kept). */
const mapLike = new WeakSet<object>();
const goMap = (): Record<string, string> => {
  const m: Record<string, string> = {};
  mapLike.add(m);
  return m;
};

/** Go's strconv.ParseUint(s, 8, 32), which tmpfs-mode goes through. */
function parseOctalMode(s: string): number | undefined {
  if (!/^[0-7]+$/.test(s)) return undefined;
  const n = parseInt(s, 8);
  return n <= 0xffffffff ? n : undefined;
}

/** opts.MountOpt.Set: one `--mount` value. Errors are the text pflag puts after the flag name. */
export function parseMount(value: string, cwd = process.cwd()): Mount {
  // encoding/csv reads no record at all from an empty value.
  if (value === '') throw new Error('EOF');
  const fields = csvRecord(value);
  let type = 'volume';
  let source = '', target = '', consistency = '';
  let readOnly = false;
  let bind: BindOptions | undefined;
  let vol: { NoCopy: boolean; Labels: Record<string, string>; Subpath: string; DriverConfig: { Name: string; Options?: Record<string, string> } } | undefined;
  let image: { Subpath: string } | undefined;
  let tmpfs: { SizeBytes: number; Mode: number } | undefined;
  const bindOptions = () => (bind ??= {});
  const volumeOptions = () => (vol ??= { NoCopy: false, Labels: goMap(), Subpath: '', DriverConfig: { Name: '' } });
  const tmpfsOptions = () => (tmpfs ??= { SizeBytes: 0, Mode: 0 });
  const setOnMap = (m: Record<string, string>, kv: string) => {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    if (k !== '') m[k] = eq < 0 ? '' : kv.slice(eq + 1);
  };
  const bool = (key: string, val: string, why = `invalid value for ${key}: ${val}`): boolean => {
    const b = parseGoBool(val);
    if (b === undefined) throw new Error(why);
    return b;
  };

  for (const field of fields) {
    const eq = field.indexOf('=');
    // Docker lowercases keys (and some values), never the whole field.
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') readOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        source = !path.isAbsolute(val) && val.startsWith('.') ? path.resolve(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = val;
        break;
      case 'readonly':
      case 'ro':
        readOnly = bool(key, val);
        break;
      case 'consistency':
        consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        // docker also logs that this is deprecated in favour of bind-recursive=disabled
        bindOptions().NonRecursive = bool(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bindOptions().NonRecursive = true;
        else if (val === 'writable') bindOptions().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOptions().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled') throw new Error(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val, `invalid value for volume-nocopy: ${val}`);
        break;
      case 'volume-label':
        setOnMap(volumeOptions().Labels, val);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig.Name = val;
        break;
      case 'volume-opt':
        setOnMap((volumeOptions().DriverConfig.Options ??= goMap()), val);
        break;
      case 'image-subpath':
        (image ??= { Subpath: '' }).Subpath = val;
        break;
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = ramInBytes(val);
        } catch {
          throw new Error(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode': {
        const mode = parseOctalMode(val);
        if (mode === undefined) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = mode;
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }

  if (type === '') throw new Error('type is required');
  if (target === '') throw new Error('target is required');
  const mix = (what: string) => new Error(`cannot mix '${what}-*' options with mount type '${type}'`);
  if (vol && type !== 'volume') throw mix('volume');
  if (image && type !== 'image') throw mix('image');
  if (bind && type !== 'bind') throw mix('bind');
  if (tmpfs && type !== 'tmpfs') throw mix('tmpfs');
  if (bind?.ReadOnlyNonRecursive && !readOnly) throw new Error("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (bind?.ReadOnlyForceRecursive) {
    if (!readOnly) throw new Error("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (bind.Propagation !== 'rprivate') throw new Error("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }

  return omitEmpty<Mount>({
    Type: type,
    Source: source,
    Target: target,
    ReadOnly: readOnly,
    Consistency: consistency,
    BindOptions: bind && omitEmpty({
      Propagation: bind.Propagation, NonRecursive: bind.NonRecursive, CreateMountpoint: bind.CreateMountpoint,
      ReadOnlyNonRecursive: bind.ReadOnlyNonRecursive, ReadOnlyForceRecursive: bind.ReadOnlyForceRecursive,
    }),
    VolumeOptions: vol && omitEmpty({ NoCopy: vol.NoCopy, Labels: vol.Labels, Subpath: vol.Subpath, DriverConfig: omitEmpty(vol.DriverConfig) }),
    ImageOptions: image && omitEmpty(image),
    TmpfsOptions: tmpfs && omitEmpty(tmpfs),
  });
}

/** Every `--mount` value, refused as pflag refuses a bad flag value. */
export function parseMounts(values: readonly string[], cwd = process.cwd()): Mount[] {
  return values.map((value) => {
    try {
      return parseMount(value, cwd);
    } catch (e) {
      throw new FlagError(`invalid argument ${goQuote(value)} for "--mount" flag: ${(e as Error).message}`);
    }
  });
}
