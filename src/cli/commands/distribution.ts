/**
 * Image distribution: pull, push, login, logout, save, load, with docker 28's flags, output and
 * errors. Pull and push send the registry credentials from docker's config file in
 * X-Registry-Auth (credentials.ts); their progress is drawn by progress.ts.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { type ApiClient, ApiError } from '../../client/client';
import { fullName, parseReference, type Reference, ReferenceError, repositoryName, withDefaultTag } from '../../wire/reference';
import { type Command, daemonErrorText, type Io } from '../command';
import { type AuthConfig, configFilePath, convertToHostname, DockerConfigFile, INDEX_SERVER, registryAuthFor } from '../credentials';
import { renderJsonStream } from '../progress';
import { readInput, readSecret } from '../prompt';
import { isTerminal } from '../tty';

interface Out {
  write(s: string): unknown;
}

function parseRef(name: string): Reference {
  try {
    return parseReference(name);
  } catch (e) {
    if (e instanceof ReferenceError) throw new Error(e.message);
    throw e;
  }
}

const nameOnly = (r: Reference) => r.tag === undefined && r.digest === undefined;

/** --platform as the OCI platform JSON the API takes for push, save and load ("os[/arch[/variant]]"). */
export function platformJson(spec: string): string {
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new Error(`"${spec}": unknown operating system or architecture: invalid argument`);
  }
  const arch = (a: string | undefined) =>
    ({ x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', x64: 'amd64', ia32: '386' })[a ?? process.arch] ?? a ?? process.arch;
  const [os, architecture, variant] = [parts[0], arch(parts[1]), parts[2]];
  return JSON.stringify({ architecture, os, ...(variant && !(architecture === 'arm64' && variant === 'v8') ? { variant } : {}) });
}

/** docker's tui PrintNote, plain: a header, the lines after the first indented under it. */
function printNote(out: Out, text: string): void {
  const header = ' Info -> ';
  out.write(`\n${header}${text.split('\n').join(`\n${' '.repeat(header.length)}`)}\n`);
}

export interface PullOptions {
  all?: boolean;
  quiet?: boolean;
  platform?: string;
}

/**
 * POST /images/create?fromImage=<repository>&tag=<tag or digest>, drawing the stream on `out`.
 * run and create use it for their pulls, with `out` on stderr.
 */
export async function pullImage(client: ApiClient, io: Io, image: string, out: Out, o: PullOptions = {}): Promise<void> {
  const ref = parseRef(image);
  const res = await client.dispatch('POST', '/images/create', {
    query: {
      fromImage: repositoryName(ref),
      tag: o.all ? undefined : (ref.digest ?? ref.tag ?? 'latest'),
      platform: o.platform ? o.platform.toLowerCase() : undefined,
    },
    headers: { 'X-Registry-Auth': registryAuthFor(ref.domain, (l) => io.stderr.write(`${l}\n`)) },
  });
  await renderJsonStream(res, out, { quiet: o.quiet });
}

const QUIET_FLAG = { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' } as const;
const TRUST_FLAG = { name: 'disable-content-trust', type: 'bool', description: 'Skip image verification', default: true } as const;

const pull: Command = {
  name: 'pull',
  aliases: ['image pull'],
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository' },
    TRUST_FLAG,
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    QUIET_FLAG,
  ],
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const all = flags.bool('all-tags');
    const quiet = flags.bool('quiet');
    let ref = parseRef(args[0]);
    if (all && !nameOnly(ref)) throw new Error("tag can't be used with --all-tags/-a");
    if (!all && nameOnly(ref)) {
      ref = withDefaultTag(ref);
      if (!quiet) io.stdout.write(`Using default tag: ${ref.tag}\n`);
    }
    const platform = flags.string('platform') || process.env.DOCKER_DEFAULT_PLATFORM || undefined;
    await pullImage(client, io, fullName(ref), io.stdout, { all, quiet, platform });
    io.stdout.write(`${fullName(ref)}\n`);
    return 0;
  },
};

/** Notes docker prints after a push for what the daemon reports in aux messages. */
function pushNote(aux: unknown): string | undefined {
  const a = aux as { manifestPushedInsteadOfIndex?: boolean; originalIndex?: { digest?: string }; selectedManifest?: { digest?: string }; contentMissing?: boolean };
  if (a?.manifestPushedInsteadOfIndex) {
    return `Not all multiplatform-content is present and only the available single-platform image was pushed\n${a.originalIndex?.digest ?? ''} -> ${a.selectedManifest?.digest ?? ''}`;
  }
  if (a?.contentMissing) {
    return "You're trying to push a manifest list/index which references multiple platform specific manifests, but not all of them are available locally\n" +
      'or available to the remote repository.\n\nMake sure you have all the referenced content and try again.\n\n' +
      'You can also push only a single platform specific manifest directly by specifying the platform you want to push with the --platform flag.';
  }
  return undefined;
}

const push: Command = {
  name: 'push',
  aliases: ['image push'],
  usage: '[OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
    { ...TRUST_FLAG, description: 'Skip image signing' },
    {
      name: 'platform', type: 'string',
      description: "Push a platform-specific manifest as a single-platform image to the registry.\nImage index won't be pushed, meaning that other manifests, including attestations won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)",
    },
    QUIET_FLAG,
  ],
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const all = flags.bool('all-tags');
    const quiet = flags.bool('quiet');
    let platform: string | undefined;
    if (flags.string('platform')) {
      try {
        platform = platformJson(flags.string('platform'));
      } catch (e) {
        io.stderr.write(`Invalid platform ${flags.string('platform')}`);
        throw e;
      }
      printNote(io.stdout, 'Using --platform pushes only the specified platform manifest of a multi-platform image index.\n' +
        'Other components, like attestations, will not be included.\nTo push the complete multi-platform image, remove the --platform flag.\n');
    }
    let ref = parseRef(args[0]);
    if (all && !nameOnly(ref)) throw new Error("tag can't be used with --all-tags/-a");
    if (!all && nameOnly(ref)) {
      ref = withDefaultTag(ref);
      if (!quiet) io.stdout.write(`Using default tag: ${ref.tag}\n`);
    }
    const auth = registryAuthFor(ref.domain, (l) => io.stderr.write(`${l}\n`));
    if (ref.digest !== undefined) throw new Error('cannot push a digest reference');
    // The repository goes in the path with its slashes, as docker's client sends it.
    const res = await client.dispatch('POST', `/images/${repositoryName(ref)}/push`, {
      query: { tag: all ? undefined : ref.tag, platform },
      body: {},
      headers: { 'X-Registry-Auth': auth },
    });
    const notes: string[] = [];
    try {
      await renderJsonStream(res, io.stdout, { quiet, onAux: (aux) => { const n = pushNote(aux); if (n) notes.push(n); } });
    } finally {
      for (const n of notes) printNote(io.stdout, n);
    }
    if (quiet) io.stdout.write(`${fullName(ref)}\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- login, logout

const REGISTER_SUGGEST = "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";
const PAT_SUGGEST = 'You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT grants better security and is required for organizations using SSO. Learn more at https://docs.docker.com/go/access-tokens/';

async function readAllText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

interface AuthResponse {
  Status?: string;
  IdentityToken?: string;
}

/** Stores what the daemon accepted; warns once when a password lands in the file, as docker does. */
function storeCredentials(io: Io, config: DockerConfigFile, auth: AuthConfig, res: AuthResponse): void {
  const stored = res.IdentityToken ? { ...auth, password: '', identitytoken: res.IdentityToken } : auth;
  if (config.set(stored.serveraddress!, stored) && stored.password) {
    io.stderr.write(`\nWARNING! Your credentials are stored unencrypted in '${config.filename}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
  }
}

/** docker's PromptUserForCredentials: asks for what the flags did not give. */
async function promptCredentials(io: Io, user: string, password: string, defaultUser: string, server: string): Promise<AuthConfig> {
  user = user.trim();
  if (user === '') {
    if (server === INDEX_SERVER) {
      io.stdout.write(`${REGISTER_SUGGEST}\n`);
      if (!/^(0|f|false)$/i.test(process.env.DOCKER_CLI_HINTS ?? '')) io.stdout.write(`${PAT_SUGGEST}\n\n`);
    }
    user = (await readInput(io, defaultUser ? `Username (${defaultUser}): ` : 'Username: ')) || defaultUser;
    if (user === '') throw new Error('Error: Non-null Username Required');
  }
  password = password.trim();
  if (password === '') {
    if (server === INDEX_SERVER) printNote(io.stderr, 'A Personal Access Token (PAT) can be used instead.\nTo create a PAT, visit https://app.docker.com/settings\n\n');
    password = await readSecret(io, 'Password: ');
    io.stdout.write('\n');
    if (password === '') throw new Error('Error: Password Required');
  }
  return { username: user, password, serveraddress: server };
}

const login: Command = {
  name: 'login',
  usage: '[OPTIONS] [SERVER]',
  description: 'Authenticate to a registry',
  flags: [
    { name: 'password', short: 'p', type: 'string', description: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', type: 'bool', description: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', type: 'string', description: 'Username' },
  ],
  args: { max: 1 },
  async run({ args, flags, client, io }) {
    if (flags.changed.has('password-stdin')) {
      if (flags.changed.has('password')) throw new Error('conflicting options: cannot specify both --password and --password-stdin');
      if (!flags.changed.has('username')) throw new Error('the --password-stdin option requires --username to be set');
    }
    const user = flags.string('username');
    let password = flags.string('password');
    if (flags.changed.has('username') && user === '') throw new Error('username is empty');
    if (flags.changed.has('password') && password === '') throw new Error('password is empty');
    if (password) io.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (flags.bool('password-stdin')) password = (await readAllText(io.stdin as Readable)).replace(/\n$/, '').replace(/\r$/, '');

    const given = args[0] ?? '';
    const isDefault = given === '' || given === 'docker.io' || given === INDEX_SERVER;
    const server = isDefault ? INDEX_SERVER : convertToHostname(given);
    const config = DockerConfigFile.load(configFilePath());

    // Without -u/-p, stored credentials are tried first.
    const stored = user === '' && password === '' ? config.get(server) : undefined;
    let res: AuthResponse | undefined;
    if (stored?.username && stored.password) {
      io.stderr.write(`Authenticating with existing credentials... [Username: ${stored.username}]\n`);
      printNote(io.stderr, "To login with a different account, run 'berth logout' followed by 'berth login'");
      io.stderr.write('\n\n');
      const auth = { username: stored.username, password: stored.password, serveraddress: server };
      try {
        res = await client.json<AuthResponse>('POST', '/auth', { body: auth });
        storeCredentials(io, config, auth, res);
      } catch (e) {
        const unauthorized = e instanceof ApiError && e.status === 401;
        io.stderr.write(unauthorized ? 'Stored credentials invalid or expired\n' : `Login did not succeed, error: ${daemonErrorText(e)}\n`);
        res = undefined;
      }
    }
    if (!res) {
      if ((user === '' || password === '') && !isTerminal(io.stdin)) throw new Error('Error: Cannot perform an interactive login from a non TTY device');
      const auth = await promptCredentials(io, user, password, stored?.username ?? '', server);
      res = await client.json<AuthResponse>('POST', '/auth', { body: auth });
      storeCredentials(io, config, auth, res);
    }
    // The daemon's status is docker's "Login Succeeded".
    io.stdout.write(`${res.Status || 'Login Succeeded'}\n`);
    return 0;
  },
};

const logout: Command = {
  name: 'logout',
  usage: '[SERVER]',
  description: 'Log out from a registry',
  flags: [],
  args: { max: 1 },
  async run({ args, io }) {
    const server = args[0] || INDEX_SERVER;
    const host = args[0] ? convertToHostname(server) : server;
    // Older clients stored a registry under its URL; docker removes every spelling.
    const keys = args[0] ? [server, host, `http://${host}`, `https://${host}`] : [server];
    io.stdout.write(`Removing login credentials for ${host}\n`);
    const config = DockerConfigFile.load(configFilePath());
    const errors: string[] = [];
    for (const k of keys) {
      try {
        config.erase(k);
      } catch (e) {
        errors.push(`${k}: ${(e as Error).message}`);
      }
    }
    if (errors.length === keys.length) io.stderr.write(`WARNING: could not erase credentials:\n${errors.join('\n')}\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- save, load

/** docker's atomicwriter checks: the directory must exist, the target must be a regular file if present. */
function checkOutputPath(file: string): void {
  const dir = path.dirname(file);
  if (dir !== '.' && dir !== '..') {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      throw new Error(`invalid output path: stat ${dir}: no such file or directory`);
    }
    if (!st.isDirectory()) throw new Error(`invalid output path: stat ${dir}: not a directory`);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (st.isFile()) return;
  if (st.isDirectory()) throw new Error('cannot write to a directory');
  if (st.isSymbolicLink()) throw new Error('cannot write to a symbolic link directly');
  if (st.isFIFO()) throw new Error('cannot write to a named pipe (FIFO)');
  if (st.isSocket()) throw new Error('cannot write to a socket');
  if (st.isCharacterDevice()) throw new Error('cannot write to a character device file');
  throw new Error('cannot write to a block device file');
}

async function copyTo(body: Readable, out: NodeJS.WritableStream): Promise<void> {
  for await (const chunk of body) {
    if (!out.write(chunk as Buffer)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
}

/** Writes `body` to a temp file beside `file` and renames it into place only once it is all there. */
async function writeAtomically(file: string, body: Readable): Promise<void> {
  const abs = path.resolve(file);
  const temp = path.join(path.dirname(abs), `.tmp-${path.basename(abs)}${randomBytes(4).readUInt32BE()}`);
  const out = fs.createWriteStream(temp, { mode: 0o600 });
  try {
    await copyTo(body, out);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    fs.renameSync(temp, abs);
  } catch (e) {
    out.destroy();
    fs.rmSync(temp, { force: true });
    throw e;
  }
}

const save: Command = {
  name: 'save',
  aliases: ['image save'],
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [
    { name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' },
    { name: 'platform', type: 'string', description: 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
  ],
  args: { min: 1 },
  async run({ args, flags, client, io }) {
    let platform: string | undefined;
    if (flags.string('platform')) {
      try {
        platform = platformJson(flags.string('platform'));
      } catch (e) {
        throw new Error(`invalid platform: ${(e as Error).message}`);
      }
    }
    const output = flags.string('output');
    if (output === '' && isTerminal(io.stdout)) throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    if (output !== '') {
      try {
        checkOutputPath(output);
      } catch (e) {
        throw new Error(`failed to save image: ${(e as Error).message}`);
      }
    }
    const res = await client.dispatch('GET', '/images/get', { query: { names: args, platform } });
    if (output === '') await copyTo(res, io.stdout);
    else await writeAtomically(output, res);
    return 0;
  },
};

/** Go's os.Open error text. */
function openError(file: string, e: NodeJS.ErrnoException): Error {
  const why: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory' };
  return new Error(`open ${file}: ${why[e.code ?? ''] ?? e.message}`);
}

const load: Command = {
  name: 'load',
  aliases: ['image load'],
  usage: '[OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  flags: [
    { name: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' },
    { name: 'platform', type: 'string', description: 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const input = flags.string('input');
    let stream: Readable;
    if (input === '') {
      if (isTerminal(io.stdin)) throw new Error('requested load from stdin, but stdin is empty');
      stream = io.stdin as Readable;
    } else {
      // Opened before the request so a missing file fails without a half-sent body.
      const fd = await fs.promises.open(input, 'r').catch((e: NodeJS.ErrnoException) => { throw openError(input, e); });
      stream = fd.createReadStream();
    }
    let platform: string | undefined;
    if (flags.string('platform')) {
      try {
        platform = platformJson(flags.string('platform'));
      } catch (e) {
        throw new Error(`invalid platform: ${(e as Error).message}`);
      }
    }
    // The daemon's progress bars are only wanted on a terminal; docker asks for quiet otherwise.
    const quiet = flags.bool('quiet') || !isTerminal(io.stdout);
    const res = await client.dispatch('POST', '/images/load', {
      query: { quiet: quiet ? '1' : '0', platform },
      stream,
      headers: { 'Content-Type': 'application/x-tar' },
    }).catch((e: unknown) => {
      if (input !== '') stream.destroy(); // the daemon refused before reading it all
      throw e;
    });
    if (String(res.headers['content-type'] ?? '').startsWith('application/json')) await renderJsonStream(res, io.stdout);
    else await copyTo(res, io.stdout);
    return 0;
  },
};

export const distributionCommands: Command[] = [pull, push, login, logout, save, load];
