/**
 * Registry credentials in the docker CLI's config file, shared with docker itself:
 *
 *   $DOCKER_CONFIG/config.json        (default ~/.docker/config.json, mode 0600)
 *   {
 *     "auths": {
 *       "https://index.docker.io/v1/": { "auth": base64("user:password") },   Docker Hub's key
 *       "registry.example:5000":       { "auth": base64("user:"), "identitytoken": "…" }
 *     },
 *     …every other key belongs to docker and is written back untouched
 *   }
 *
 * and the X-Registry-Auth header built from them: base64url (RFC 4648 §5, with padding, as Go's
 * base64.URLEncoding) of the AuthConfig JSON, "{}" when there are no credentials.
 * Credential helpers (credsStore, credHelpers) are not consulted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_DOMAIN } from '../wire/reference';

/** Docker Hub's key in `auths` (the v1 index address docker has always used). */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

/** Other keys docker-compatible tools have stored Hub credentials under. */
const HUB_ALIASES = ['index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** The fields of docker's registry.AuthConfig, in its JSON order; empty ones are omitted. */
export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'config.json');
}

interface StoredAuth {
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
  [other: string]: unknown;
}

/** The config file as read, edited in place, and written back with docker's tab indentation. */
export class DockerConfigFile {
  private constructor(
    readonly filename: string,
    private data: Record<string, unknown>,
  ) {}

  /** A missing file is an empty config; a malformed one is an error (writing would lose it). */
  static load(filename = configFilePath()): DockerConfigFile {
    let text: string;
    try {
      text = fs.readFileSync(filename, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new DockerConfigFile(filename, {});
      throw new Error(`loading config file: ${(e as Error).message}`);
    }
    let data: unknown;
    try {
      data = text.trim() === '' ? {} : JSON.parse(text);
    } catch (e) {
      throw new Error(`parsing config file (${filename}): ${(e as Error).message}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error(`parsing config file (${filename}): not a JSON object`);
    return new DockerConfigFile(filename, data as Record<string, unknown>);
  }

  private auths(): Record<string, StoredAuth> {
    const a = this.data.auths;
    if (!a || typeof a !== 'object') this.data.auths = {};
    return this.data.auths as Record<string, StoredAuth>;
  }

  keys(): string[] {
    return Object.keys(this.auths());
  }

  /**
   * The credentials stored under `key`, as docker's file store finds them: the exact key, else
   * a key that names the same host (a legacy "https://host/v1/" entry), else nothing.
   */
  get(key: string): AuthConfig | undefined {
    const auths = this.auths();
    let found = key in auths ? key : Object.keys(auths).find((k) => convertToHostname(k) === key);
    if (found === undefined && key === INDEX_SERVER) found = HUB_ALIASES.find((k) => k in auths);
    if (found === undefined) return undefined;
    const entry = auths[found]!;
    const out: AuthConfig = {};
    if (entry.auth) {
      const { username, password } = decodeAuth(entry.auth);
      out.username = username;
      out.password = password;
    }
    out.serveraddress = found;
    if (entry.identitytoken) out.identitytoken = entry.identitytoken;
    if (entry.registrytoken) out.registrytoken = entry.registrytoken;
    return out;
  }

  /** Stores credentials under `key`; false when the same ones were there already (nothing written). */
  set(key: string, a: AuthConfig): boolean {
    const entry: StoredAuth = {};
    if (a.username || a.password) entry.auth = Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64');
    if (a.identitytoken) entry.identitytoken = a.identitytoken;
    if (a.registrytoken) entry.registrytoken = a.registrytoken;
    const auths = this.auths();
    if (key in auths && JSON.stringify(auths[key]) === JSON.stringify(entry)) return false;
    auths[key] = entry;
    this.save();
    return true;
  }

  /** Removes `key`'s entry; writes only if there was one. */
  erase(key: string): void {
    const auths = this.auths();
    if (!(key in auths)) return;
    delete auths[key];
    this.save();
  }

  /** Temp file then rename, keeping an existing file's mode as docker does (0600 for a new one). */
  private save(): void {
    fs.mkdirSync(path.dirname(this.filename), { recursive: true, mode: 0o700 });
    let target = this.filename;
    try {
      target = fs.realpathSync(this.filename); // a symlinked config.json stays a symlink
    } catch {
      // no file yet
    }
    const dir = path.dirname(target);
    let mode = 0o600;
    try {
      mode = fs.statSync(target).mode & 0o7777;
    } catch {
      // new file
    }
    const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}`);
    try {
      fs.writeFileSync(temp, JSON.stringify(this.data, null, '\t'), { mode: 0o600 });
      fs.chmodSync(temp, mode);
      fs.renameSync(temp, target);
    } catch (e) {
      fs.rmSync(temp, { force: true });
      throw e;
    }
  }
}

function decodeAuth(auth: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error('Invalid auth configuration file');
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/^\0+|\0+$/g, '') };
}

/** docker's ConvertToHostname: "https://host:5000/v2/" → "host:5000"; "host/path" → "host". */
export function convertToHostname(maybeUrl: string): string {
  if (maybeUrl.includes('://')) {
    try {
      const u = new URL(maybeUrl);
      if (u.hostname) return u.port ? `${u.hostname}:${u.port}` : u.hostname;
    } catch {
      // fall through to the plain cut
    }
  }
  return maybeUrl.split('/')[0]!;
}

/** The `auths` key for an image's registry domain: Hub's v1 address, else host[:port]. */
export function authKeyForDomain(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** X-Registry-Auth: base64url of the AuthConfig JSON; "e30=" ("{}") for none. */
export function encodeRegistryAuth(a: AuthConfig | undefined): string {
  const ordered: AuthConfig = {};
  for (const k of ['username', 'password', 'serveraddress', 'identitytoken', 'registrytoken'] as const) if (a?.[k]) ordered[k] = a[k];
  return Buffer.from(JSON.stringify(ordered)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * The X-Registry-Auth value for pulling or pushing from `domain`. A config file that cannot be
 * read means no credentials, with docker's warning.
 */
export function registryAuthFor(domain: string, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): string {
  let config: DockerConfigFile;
  try {
    config = DockerConfigFile.load(configFilePath(env));
  } catch (e) {
    warn(`WARNING: Error ${(e as Error).message}`);
    return encodeRegistryAuth(undefined);
  }
  let auth: AuthConfig | undefined;
  try {
    auth = config.get(authKeyForDomain(domain));
  } catch (e) {
    warn(`WARNING: Error parsing config file (${config.filename}): ${(e as Error).message}`);
  }
  return encodeRegistryAuth(auth);
}
