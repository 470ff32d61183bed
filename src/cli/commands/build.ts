/**
 * `berth build` (docker build with the classic builder's flags, plus --secret and --progress)
 * and `berth builder prune`. The context goes to POST /build as a tar made while it is sent
 * (../build-context.ts); the answer, Docker's classic build stream, is printed as it comes, or
 * on a terminal drawn as a BuildKit-like view (../build-progress.ts). Build secrets travel in
 * the X-Berth-Build-Secrets header, never in the context.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { ApiClient } from '../../client/client';
import { hostArchitecture } from '../../wire/platform';
import { parseReference } from '../../wire/reference';
import { humanSize, ramInBytes } from '../../wire/units';
import { contextMatcher, type ExtraDockerfile, generatedDockerfileName, isOutside, looksLikeArchive, packContext, peek, resolveLocalContext, singleDockerfileTar } from '../build-context';
import { ClassicStreamParser, InPlaceView, viewLines } from '../build-progress';
import { type Command, type Io, UsageError } from '../command';
import type { FlagSpec, ParsedFlags } from '../flags';
import { goQuote } from '../template';
import { isTerminal } from '../tty';
import { platformJson } from './distribution';
import { confirm } from './lifecycle';
import { filtersQuery, labelOpt } from './network';

const flagValueError = (flag: string, value: string, why: string) => new UsageError(`invalid argument ${goQuote(value)} for ${goQuote(flag)} flag: ${why}`);

/** buildkit's limit on one secret (secretsprovider.MaxSecretSize). */
const MAX_SECRET = 500 * 1024;
/** berthd's HTTP server takes 1 MiB of headers in all; the secrets header must fit in that. */
const MAX_SECRETS_HEADER = 1000 * 1024;
const MAX_DOCKERFILE = 16 << 20;

export type ProgressMode = 'auto' | 'plain' | 'tty' | 'quiet';

export interface SecretSpec {
  id: string;
  src?: string;
  env?: string;
}

/** opts.ValidateEnv then ConvertKVStringsToMapWithNil: `K` alone takes $K, or null when unset. */
export function buildArgs(values: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    if (key === '') throw flagValueError('--build-arg', v, `invalid environment variable: ${v}`);
    if (eq >= 0) out[key] = v.slice(eq + 1);
    else out[key] = env[key] ?? null;
  }
  return out;
}

/** buildx's --secret: comma-separated key=value fields (type, id, src|source, env). */
export function parseSecret(spec: string): SecretSpec {
  let type: string | undefined;
  const s: Partial<SecretSpec> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw flagValueError('--secret', spec, `invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    if (key === 'type') {
      if (value !== 'file' && value !== 'env') throw flagValueError('--secret', spec, `unsupported secret type "${value}"`);
      type = value;
    } else if (key === 'id') s.id = value;
    else if (key === 'src' || key === 'source') s.src = value;
    else if (key === 'env') s.env = value;
    else throw flagValueError('--secret', spec, `unexpected key '${key}' in '${field}'`);
  }
  if (type === 'env' && !s.env) {
    s.env = s.src;
    delete s.src;
  }
  // buildkit's file store: the id names the source when nothing else does.
  const id = s.id || (s.src ? path.basename(s.src) : s.env) || '';
  if (id === '') throw flagValueError('--secret', spec, 'secret missing ID');
  if (!s.src && !s.env) return id in process.env ? { id, env: id } : { id, src: id };
  return { id, ...(s.src ? { src: s.src } : {}), ...(s.env ? { env: s.env } : {}) };
}

/** The X-Berth-Build-Secrets value: base64 of {"<id>": "<base64 of the bytes>"}; undefined with no secret. */
export function secretsHeader(specs: SecretSpec[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (specs.length === 0) return undefined;
  const doc: Record<string, string> = {};
  for (const s of specs) {
    let bytes: Buffer | undefined;
    if (s.src !== undefined) {
      let st: fs.Stats;
      try {
        st = fs.statSync(s.src);
      } catch (e) {
        throw new Error(`failed to stat ${s.src}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `stat ${s.src}: no such file or directory` : (e as Error).message}`);
      }
      if (st.size > MAX_SECRET) throw new Error(`secret ${s.id} too big. max size 500KB`);
      bytes = fs.readFileSync(s.src);
    } else if (s.env !== undefined && env[s.env] !== undefined) bytes = Buffer.from(env[s.env]!);
    // A secret with no value is left out: a mount that does not require it simply has no file.
    if (bytes !== undefined) doc[s.id] = bytes.toString('base64');
  }
  const header = Buffer.from(JSON.stringify(doc)).toString('base64');
  if (header.length > MAX_SECRETS_HEADER) throw new Error(`build secrets too large: they travel in a request header, limited to ${MAX_SECRETS_HEADER / 1024} KiB in all (base64)`);
  return header;
}

export function progressMode(value: string): ProgressMode {
  if (value === 'auto' || value === 'plain' || value === 'tty' || value === 'quiet') return value;
  throw flagValueError('--progress', value, 'must be one of auto, plain, tty, quiet');
}

/** This builder builds for the host only: --platform must name it. */
export function checkPlatform(spec: string): void {
  if (spec === '') return;
  const host = `linux/${hostArchitecture()}`;
  for (const one of spec.split(',')) {
    const p = JSON.parse(platformJson(one)) as { os: string; architecture: string; variant?: string };
    if (p.os !== 'linux' || p.architecture !== hostArchitecture() || (p.variant !== undefined && !(p.architecture === 'arm64' && p.variant === 'v8'))) {
      throw new Error(`platform "${one}" is not supported: berth builds images for the host's platform (${host}) only`);
    }
  }
}

/** The query of POST /build for these flags (without the dockerfile, which the context decides). */
export function buildQuery(flags: ParsedFlags, quiet: boolean, env: NodeJS.ProcessEnv = process.env): Record<string, string | string[] | boolean | undefined> {
  const tags = flags.list('tag');
  for (const t of tags) {
    try {
      parseReference(t);
    } catch {
      throw flagValueError('-t, --tag', t, 'invalid reference format');
    }
  }
  const args = buildArgs(flags.list('build-arg'), env);
  const labels = labelOpt(flags.list('label'));
  return {
    t: tags.length > 0 ? tags : undefined,
    buildargs: JSON.stringify(args),
    labels: JSON.stringify(labels),
    target: flags.string('target') || undefined,
    nocache: flags.bool('no-cache') || undefined,
    pull: flags.bool('pull') || undefined,
    rm: flags.bool('rm'),
    forcerm: flags.bool('force-rm') || undefined,
    q: quiet || undefined,
    networkmode: flags.string('network') || 'default',
  };
}

const BUILD_FLAGS: FlagSpec[] = [
  { name: 'build-arg', type: 'list', description: 'Set build-time variables' },
  { name: 'compress', type: 'bool', description: 'Compress the build context using gzip' },
  { name: 'file', short: 'f', type: 'string', description: 'Name of the Dockerfile (Default is "PATH/Dockerfile")', valueName: 'string' },
  { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
  { name: 'iidfile', type: 'string', description: 'Write the image ID to the file' },
  { name: 'label', type: 'list', description: 'Set metadata for an image' },
  { name: 'network', type: 'string', description: 'Set the networking mode for the RUN instructions during build', default: 'default' },
  { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'progress', type: 'string', description: 'Set type of progress output ("auto", "plain", "tty", "quiet")', default: 'auto' },
  { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
  { name: 'rm', type: 'bool', description: 'Remove intermediate containers after a successful build', default: true },
  { name: 'secret', type: 'list', description: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")', valueName: 'stringArray' },
  { name: 'tag', short: 't', type: 'list', description: 'Name and optionally a tag in the "name:tag" format' },
  { name: 'target', type: 'string', description: 'Set the target build stage to build.' },
];

async function readLimited(stream: NodeJS.ReadableStream, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer | string>) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    size += b.length;
    if (size > max) throw new Error(`${what} is larger than ${max} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

interface PreparedContext {
  body: Readable;
  /** The `dockerfile` parameter; undefined leaves the daemon's default (Dockerfile). */
  dockerfile: string | undefined;
}

/** docker's runBuild, the part that decides what the context and the Dockerfile are. */
async function prepareContext(arg: string, file: string, stdin: NodeJS.ReadableStream): Promise<PreparedContext> {
  if (arg === '-') {
    if (file === '-') throw new Error("invalid argument: can't use stdin for both build context and dockerfile");
    const { head, stream } = await peek(stdin, 1024);
    if (looksLikeArchive(head)) return { body: stream, dockerfile: file || undefined };
    return { body: singleDockerfileTar(await readLimited(stream, MAX_DOCKERFILE, 'the Dockerfile')), dockerfile: 'Dockerfile' };
  }
  if (!fs.existsSync(arg)) {
    if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(arg)) throw new Error(`unable to prepare context: remote build contexts (URLs, git) are not supported: ${arg}`);
    throw new Error(`unable to prepare context: path ${goQuote(arg)} not found`);
  }
  const local = resolveLocalContext(arg, file);
  let dockerignore: string | undefined;
  try {
    dockerignore = fs.readFileSync(path.join(local.dir, '.dockerignore'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`error checking context: ${(e as Error).message}`);
  }
  let extra: ExtraDockerfile | undefined;
  if (local.relDockerfile === '-') {
    extra = { name: generatedDockerfileName(), data: await readLimited(stdin, MAX_DOCKERFILE, 'the Dockerfile') };
  } else if (isOutside(local.relDockerfile)) {
    const abs = path.resolve(local.dir, local.relDockerfile);
    try {
      extra = { name: generatedDockerfileName(), data: fs.readFileSync(abs) };
    } catch (e) {
      throw new Error(`unable to open Dockerfile: open ${abs}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  }
  const matcher = contextMatcher(dockerignore, extra ? undefined : local.relDockerfile);
  return { body: packContext(local.dir, { matcher, extra, dockerignore }), dockerfile: extra ? extra.name : local.relDockerfile };
}

/** What another command (compose) builds: a context directory and a Dockerfile in it. */
export interface DirectoryBuild {
  context: string;
  /** Relative to the context. */
  dockerfile: string;
  tag: string;
  args: Record<string, string>;
  target?: string;
  cacheFrom: string[];
  labels: Record<string, string>;
  noCache?: boolean;
  pull?: boolean;
}

/** Builds as `berth build --progress=plain -f CONTEXT/DOCKERFILE -t TAG CONTEXT` does; throws on failure. */
export async function buildDirectory(client: ApiClient, io: Io, b: DirectoryBuild): Promise<string | undefined> {
  const ctx = await prepareContext(b.context, path.resolve(b.context, b.dockerfile), io.stdin);
  const query = {
    t: [b.tag],
    buildargs: JSON.stringify(b.args),
    labels: JSON.stringify(b.labels),
    target: b.target,
    cachefrom: b.cacheFrom.length > 0 ? JSON.stringify(b.cacheFrom) : undefined,
    nocache: b.noCache || undefined,
    pull: b.pull || undefined,
    rm: true,
  };
  const outcome = await runBuild(client, io, ctx, query, {}, 'plain');
  if (outcome.error) throw new Error(outcome.error.message);
  return outcome.id;
}

interface Outcome {
  id: string | undefined;
  error?: { message: string; code: number };
}

/** The stream as the classic CLI prints it: each stream text as it comes. */
async function plainOutput(lines: AsyncIterable<Record<string, unknown>>, io: Io, sent: number): Promise<Outcome> {
  io.stdout.write(`Sending build context to Docker daemon  ${humanSize(sent)}\n`);
  let id: string | undefined;
  for await (const m of lines) {
    if (m.errorDetail || m.error) return { id, error: errorOf(m) };
    if (m.aux) id = auxId(m.aux) ?? id;
    else if (typeof m.stream === 'string') io.stdout.write(m.stream);
  }
  return { id };
}

const auxId = (aux: unknown): string | undefined => {
  const id = (aux as { ID?: unknown } | null)?.ID;
  return typeof id === 'string' ? id : undefined;
};

function errorOf(m: Record<string, unknown>): { message: string; code: number } {
  const d = (m.errorDetail ?? {}) as { message?: string; code?: number };
  return { message: d.message ?? String(m.error ?? ''), code: typeof d.code === 'number' && d.code !== 0 ? d.code : 1 };
}

/** Sends the context and reads the answer, in the output mode asked for. */
async function runBuild(client: ApiClient, io: Io, ctx: PreparedContext, query: Record<string, string | string[] | boolean | undefined>, headers: Record<string, string>, mode: 'quiet' | 'plain' | 'tty'): Promise<Outcome> {
  let sent = 0;
  const counted = Readable.from((async function* () {
    for await (const c of ctx.body) {
      sent += (c as Buffer).length;
      yield c as Buffer;
    }
  })(), { objectMode: false });
  const send = () => client.build(counted, { ...query, dockerfile: ctx.dockerfile }, headers).catch((e: unknown) => {
    counted.destroy();
    ctx.body.destroy();
    throw e;
  });

  if (mode === 'plain') return plainOutput(await send(), io, sent);

  if (mode === 'quiet') {
    // Docker keeps the output and shows it (on stderr) only if the build fails.
    let kept = '';
    let id: string | undefined;
    for await (const m of await send()) {
      if (m.errorDetail || m.error) {
        io.stderr.write(kept);
        return { id, error: errorOf(m) };
      }
      if (m.aux) id = auxId(m.aux) ?? id;
      else if (typeof m.stream === 'string') kept += m.stream;
    }
    return { id: id ?? (/sha256:[0-9a-f]{64}/.exec(kept)?.[0]) };
  }

  const parser = new ClassicStreamParser();
  const view = new InPlaceView(io.stdout);
  const started = Date.now();
  const out = io.stdout as { columns?: number; rows?: number };
  const draw = (finished = false) => view.draw(viewLines(parser, { width: out.columns || 80, height: out.rows || 24, started, now: Date.now(), finished }));
  const load = parser.internal('load build context');
  load.details.push('transferring context: 0B');
  const timer = setInterval(() => {
    if (load.state === 'running') load.details[0] = `transferring context: ${humanSize(sent)}`;
    draw();
  }, 100);
  try {
    draw();
    let lines;
    try {
      lines = await send();
    } catch (e) {
      parser.end(load, 'error');
      throw e;
    } finally {
      load.details[0] = `transferring context: ${humanSize(sent)}`;
    }
    parser.end(load);
    let id: string | undefined;
    for await (const m of lines) {
      if (m.errorDetail || m.error) {
        parser.finish(true);
        return { id, error: errorOf(m) };
      }
      if (m.aux) {
        id = auxId(m.aux) ?? id;
        parser.aux(m.aux);
      } else if (typeof m.stream === 'string') parser.feed(m.stream);
    }
    parser.finish(false);
    return { id };
  } finally {
    clearInterval(timer);
    draw(true);
    for (const w of parser.warnings) io.stdout.write(`${w}\n`);
  }
}

const build: Command = {
  name: 'build',
  aliases: ['image build', 'builder build'],
  usage: '[OPTIONS] PATH | URL | -',
  description: 'Build an image from a Dockerfile',
  flags: BUILD_FLAGS,
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const progress = progressMode(flags.changed.has('progress') ? flags.string('progress') : process.env.BUILDKIT_PROGRESS || 'auto');
    const quiet = flags.bool('quiet') || progress === 'quiet';
    const query = buildQuery(flags, quiet);
    const secrets = flags.list('secret').map(parseSecret);
    checkPlatform(flags.string('platform') || process.env.DOCKER_DEFAULT_PLATFORM || '');
    const iidfile = flags.string('iidfile');
    if (iidfile) {
      try {
        fs.rmSync(iidfile, { force: true });
      } catch (e) {
        throw new Error(`Removing image ID file: ${(e as Error).message}`);
      }
    }
    const header = secretsHeader(secrets);
    const ctx = await prepareContext(args[0], flags.string('file'), io.stdin);
    const tty = progress === 'tty' || (progress === 'auto' && isTerminal(io.stdout));
    const mode = quiet ? 'quiet' : tty ? 'tty' : 'plain';
    const outcome = await runBuild(client, io, ctx, query, header ? { 'X-Berth-Build-Secrets': header } : {}, mode);
    if (outcome.error) {
      io.stderr.write(`${outcome.error.message}\n`);
      return outcome.error.code;
    }
    if (iidfile) {
      if (!outcome.id) throw new Error(`Server did not provide an image ID. Cannot write ${iidfile}`);
      fs.writeFileSync(iidfile, outcome.id, { mode: 0o666 });
    }
    if (quiet && outcome.id) io.stdout.write(`${outcome.id}\n`);
    return 0;
  },
};

const builderPrune: Command = {
  name: 'builder prune',
  usage: '[OPTIONS]',
  description: 'Remove build cache',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused build cache, not just dangling ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=24h")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    { name: 'keep-storage', type: 'string', valueName: 'bytes', description: 'Amount of disk space to keep for cache' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const filters = filtersQuery(flags.list('filter'), '--filter');
    let keep: number | undefined;
    if (flags.string('keep-storage') !== '') {
      try {
        keep = ramInBytes(flags.string('keep-storage'));
      } catch (e) {
        throw flagValueError('--keep-storage', flags.string('keep-storage'), (e as Error).message);
      }
    }
    const all = flags.bool('all');
    const warning = all
      ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
      : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
    if (!flags.bool('force') && !(await confirm(io, warning))) return 0;
    const report = await client.json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/build/prune', {
      query: { filters, all: all || undefined, 'keep-storage': keep },
    });
    const deleted = report.CachesDeleted ?? [];
    if (deleted.length > 0) io.stdout.write(`Deleted build cache objects:\n${deleted.map((d) => `${d}\n`).join('')}\n`);
    io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed ?? 0)}\n`);
    return 0;
  },
};

export const buildCommands: Command[] = [build, builderPrune];
