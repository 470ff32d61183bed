/**
 * A container's filesystem from the CLI: cp, export, diff, commit. As the docker CLI does, `cp`
 * packs and unpacks tars on this side (GNU tar) and sends the daemon only "extract this tar into
 * that directory" or "give me a tar of that path"; the rename rules (copy to a new name, a
 * directory's contents with "/.", -L) are Docker's archive.PrepareArchiveCopy.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { ApiError, type ApiClient } from '../../client/client';
import { humanSize } from '../../wire/units';
import { type Command, UsageError } from '../command';
import { splitRepoTag } from './images';

interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const isDir = (mode: number) => mode >= MODE_DIR;
const isSymlink = (mode: number) => Math.floor(mode / MODE_SYMLINK) % 2 === 1;

function decodeStat(header: string | string[] | undefined): PathStat {
  const raw = Array.isArray(header) ? header[0] : header;
  if (!raw) throw new Error('unable to get resource stat from response');
  return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as PathStat;
}

async function statPath(client: ApiClient, container: string, path: string): Promise<PathStat> {
  const res = await client.dispatch('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path } });
  res.resume();
  return decodeStat(res.headers['x-docker-container-path-stat']);
}

/** Docker's SplitPathDirEntry: "/a/b/" → ["/a", "b"]; "/a/b/." → ["/a/b", "."]. */
function splitDirEntry(path: string): [string, string] {
  if (path === '.' || path.endsWith('/.')) {
    const rest = path.slice(0, -2);
    return [path === '.' ? '.' : rest === '' ? '/' : posix.normalize(rest), '.'];
  }
  const cleaned = posix.normalize(path).replace(/(.)\/+$/, '$1');
  return [posix.dirname(cleaned), posix.basename(cleaned) || '/'];
}

const assertsDirectory = (p: string) => p.endsWith('/') || p.endsWith('/.');

/** Escapes for a GNU tar --transform (basic regex, "/" as delimiter). */
const bre = (s: string) => s.replace(/[\\.*[\]^$]/g, '\\$&');
const replacement = (s: string) => s.replace(/[\\&]/g, '\\$&');
const rebase = (from: string, to: string) => `--transform=s/^${bre(from)}\\(\\/\\|$\\)/${replacement(to)}\\1/S`;

function runTar(args: string[], io: { stdin?: Readable }): { proc: ReturnType<typeof spawn>; done: Promise<void> } {
  const proc = spawn('tar', args, { stdio: [io.stdin ? 'pipe' : 'ignore', io.stdin ? 'ignore' : 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
  if (io.stdin) {
    proc.stdin!.on('error', () => {});
    io.stdin.pipe(proc.stdin!);
  }
  const done = new Promise<void>((ok, fail) => {
    proc.on('error', fail);
    proc.on('close', (code) => (code === 0 ? ok() : fail(new Error(stderr.trim() || `tar exited ${code}`))));
  });
  return { proc, done };
}

/** `container:path` or a local path (absolute paths are always local, as in Docker). */
function splitCpArg(arg: string): { container?: string; path: string } {
  if (isAbsolute(arg)) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const cp: Command = {
  name: 'cp',
  aliases: ['container cp'],
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  flags: [
    { name: 'archive', short: 'a', type: 'bool', description: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', description: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
  args: { exact: 2 },
  async run({ args, flags, client, io }) {
    const src = splitCpArg(args[0]);
    const dst = splitCpArg(args[1]);
    if (src.container !== undefined && dst.container !== undefined) throw new UsageError('copying between containers is not supported', 1);
    if (src.container === undefined && dst.container === undefined) throw new UsageError('must specify at least one container source', 1);
    if (src.container === '' || dst.container === '') throw new UsageError('invalid container name', 1);
    const quiet = flags.bool('quiet') || !(io.stderr as NodeJS.WriteStream).isTTY;
    if (src.container !== undefined) return copyFromContainer(client, io, src.container, src.path, dst.path, flags.bool('follow-link'), quiet);
    return copyToContainer(client, io, src.path, dst.container!, dst.path, { followLink: flags.bool('follow-link'), copyUIDGID: flags.bool('archive'), quiet });
  },
};

async function copyFromContainer(
  client: ApiClient, io: Parameters<Command['run']>[0]['io'], container: string, srcPathIn: string, dstPathIn: string, followLink: boolean, quiet: boolean,
): Promise<number> {
  let srcPath = srcPathIn;
  const dstPath = dstPathIn === '-' ? '-' : resolve(dstPathIn);
  if (dstPath !== '-' && !fs.existsSync(dirname(dstPath.replace(/\/+$/, '')) || '/')) {
    throw new UsageError(`invalid output path: directory "${dirname(dstPath)}" does not exist`, 1);
  }
  let rebaseName = '';
  if (followLink) {
    const st = await statPath(client, container, srcPath).catch(() => undefined);
    if (st && isSymlink(st.mode)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitDirEntry(srcPath)[0], target);
      // GetRebaseName: keep the trailing "/" or "/." the user gave, name the result after the link.
      if (srcPath.endsWith('/.') && !target.endsWith('/.')) target += '/.';
      else if (srcPath.endsWith('/') && !target.endsWith('/')) target += '/';
      const linkBase = splitDirEntry(srcPath)[1];
      const targetBase = splitDirEntry(target)[1];
      if (linkBase !== targetBase) rebaseName = linkBase;
      srcPath = target;
    }
  }
  const res = await client.dispatch('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: srcPath } });
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  if (dstPath === '-') {
    for await (const chunk of res) if (!io.stdout.write(chunk as Buffer)) await new Promise((r) => io.stdout.once('drain', r));
    return 0;
  }
  const srcIsDir = isDir(stat.mode);
  const dstInfo = destinationInfo(dstPath);
  const [dstDir, dstBase] = splitDirEntry(dstInfo.path);
  const archiveBase = splitDirEntry(srcPath)[1];
  let extractDir: string;
  let newBase: string | undefined;
  if (dstInfo.exists && dstInfo.isDir) {
    extractDir = dstInfo.path;
    if (rebaseName) newBase = rebaseName;
  } else if (dstInfo.exists && srcIsDir) {
    throw new Error('cannot copy directory');
  } else if (!dstInfo.exists && !srcIsDir && assertsDirectory(dstInfo.path)) {
    throw new Error('no such directory');
  } else {
    extractDir = dstDir;
    newBase = dstBase;
  }
  const tarArgs = ['-x', '--no-same-owner', '-p', '-f', '-', '-C', extractDir];
  if (newBase !== undefined && newBase !== archiveBase) tarArgs.push(rebase(archiveBase, newBase));
  const tar = runTar(tarArgs, { stdin: res });
  await tar.done;
  if (!quiet) io.stderr.write(`Successfully copied ${humanSize(stat.size, 3)} to ${dstPath}\n`);
  return 0;
}

/** Docker's CopyInfoDestinationPath for a local path: symlinks at the end are followed. */
function destinationInfo(path: string): { path: string; exists: boolean; isDir: boolean } {
  let p = path;
  for (let n = 0; n <= 10; n++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      const parent = splitDirEntry(p)[0];
      const pst = fs.statSync(parent);
      if (!pst.isDirectory()) throw new Error('not a directory');
      return { path: p, exists: false, isDir: false };
    }
    if (!st.isSymbolicLink()) return { path: p, exists: true, isDir: st.isDirectory() };
    const target = fs.readlinkSync(p);
    p = isAbsolute(target) ? target : join(splitDirEntry(p)[0], target);
  }
  throw new Error(`too many symlinks in ${path}`);
}

async function copyToContainer(
  client: ApiClient, io: Parameters<Command['run']>[0]['io'], srcPathIn: string, container: string, dstPathIn: string,
  o: { followLink: boolean; copyUIDGID: boolean; quiet: boolean },
): Promise<number> {
  // The destination as the container sees it; a symlink there is followed (inside the container).
  let dstPath = dstPathIn;
  let dstStat: PathStat | undefined;
  try {
    dstStat = await statPath(client, container, dstPath);
    if (isSymlink(dstStat.mode)) {
      let target = dstStat.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitDirEntry(dstPath)[0], target);
      dstPath = target;
      dstStat = await statPath(client, container, dstPath).catch(() => undefined);
    }
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    dstStat = undefined;
  }
  const dstExists = dstStat !== undefined;
  const dstIsDir = dstStat !== undefined && isDir(dstStat.mode);
  const query = (path: string) => ({ path, noOverwriteDirNonDir: 'true', ...(o.copyUIDGID ? { copyUIDGID: 'true' } : {}) });
  const put = (path: string, stream: Readable) =>
    client.call('PUT', `/containers/${encodeURIComponent(container)}/archive`, { query: query(path), stream, headers: { 'Content-Type': 'application/x-tar' } });

  if (srcPathIn === '-') {
    if (!dstIsDir) throw new Error(`destination "${container}:${dstPathIn}" must be a directory`);
    await put(dstPath, io.stdin as Readable);
    return 0;
  }
  let srcPath = resolve(srcPathIn) + (srcPathIn.endsWith('/.') ? '/.' : srcPathIn.endsWith('/') ? '/' : '');
  let rebaseName = '';
  if (o.followLink) {
    const [dir, base] = splitDirEntry(srcPath);
    let real: string;
    try {
      real = fs.realpathSync(join(dir, base));
    } catch {
      throw new Error(`lstat ${srcPath}: no such file or directory`);
    }
    if (real !== join(dir, base)) {
      rebaseName = base;
      srcPath = real;
    }
  }
  const [srcDir, srcBase] = splitDirEntry(srcPath);
  let srcSt: fs.Stats;
  try {
    srcSt = fs.lstatSync(srcPath);
  } catch {
    throw new Error(`lstat ${srcPath}: no such file or directory`);
  }
  const srcIsDir = srcSt.isDirectory();
  const [dstDir, dstBase] = splitDirEntry(dstPath);
  let extractDir: string;
  let newBase = rebaseName || srcBase;
  if (dstExists && dstIsDir) {
    extractDir = dstPath;
  } else if (dstExists && srcIsDir) {
    throw new Error('cannot copy directory');
  } else if (!dstExists && !srcIsDir && assertsDirectory(dstPath)) {
    throw new Error('no such directory');
  } else {
    extractDir = dstDir;
    newBase = dstBase;
  }
  const tarArgs = ['--numeric-owner', '-c', '-f', '-', '-C', srcDir];
  if (newBase !== srcBase && srcBase !== '.') tarArgs.push(rebase(srcBase, newBase));
  else if (srcBase === '.' && newBase !== '.') tarArgs.push(`--transform=s/^\\.\\(\\/\\|$\\)/${replacement(newBase)}\\1/S`);
  tarArgs.push('--', srcBase);
  const tar = runTar(tarArgs, {});
  await Promise.all([put(extractDir, tar.proc.stdout as Readable), tar.done]);
  if (!o.quiet) io.stderr.write(`Successfully copied ${humanSize(srcIsDir ? 0 : srcSt.size, 3)} to ${container}:${dstPathIn}\n`);
  return 0;
}

const exportCmd: Command = {
  name: 'export',
  aliases: ['container export'],
  usage: '[OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const out = flags.string('output');
    if (!out && (io.stdout as NodeJS.WriteStream).isTTY) {
      throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    }
    if (out && !fs.existsSync(dirname(resolve(out)))) throw new Error(`failed to export container: invalid output path: directory "${dirname(resolve(out))}" does not exist`);
    const res = await client.dispatch('GET', `/containers/${encodeURIComponent(args[0])}/export`);
    const sink: NodeJS.WritableStream = out ? fs.createWriteStream(out) : io.stdout;
    let bytes = 0;
    for await (const chunk of res) {
      bytes += (chunk as Buffer).length;
      if (!sink.write(chunk as Buffer)) await new Promise((r) => sink.once('drain', r));
    }
    if (!res.complete) throw new Error('failed to export container: the archive ended early');
    if (out) await new Promise<void>((ok, fail) => (sink as fs.WriteStream).end((e?: Error | null) => (e ? fail(e) : ok())));
    void bytes;
    return 0;
  },
};

const KIND = ['C', 'A', 'D'];

const diff: Command = {
  name: 'diff',
  aliases: ['container diff'],
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  args: { exact: 1 },
  async run({ args, client, io }) {
    const list = await client.json<{ Path: string; Kind: number }[] | null>('GET', `/containers/${encodeURIComponent(args[0])}/changes`);
    for (const c of list ?? []) io.stdout.write(`${KIND[c.Kind] ?? '?'} ${c.Path}\n`);
    return 0;
  },
};

const commit: Command = {
  name: 'commit',
  aliases: ['container commit'],
  usage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  description: "Create a new image from a container's changes",
  flags: [
    { name: 'author', short: 'a', type: 'string', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', description: 'Pause container during commit', default: true },
  ],
  args: { min: 1, max: 2 },
  async run({ args, flags, client, io }) {
    const [container, name] = args;
    const { repo, tag } = name ? splitRepoTag(name) : { repo: undefined, tag: undefined };
    const res = await client.json<{ Id: string }>('POST', '/commit', {
      query: {
        container, repo, tag, comment: flags.string('message') || undefined, author: flags.string('author') || undefined,
        pause: flags.bool('pause'), changes: flags.list('change'),
      },
    });
    io.stdout.write(`${res.Id}\n`);
    return 0;
  },
};

export const containerFsCommands: Command[] = [cp, exportCmd, diff, commit];
