import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { contextMatcher, isOutside, looksLikeArchive, packContext, peek, resolveLocalContext, singleDockerfileTar } from './build-context';

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname?: string;
  data: string;
}

async function entries(tar: Readable): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      const h = e.header;
      out.set(h.name, { type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime.getTime(), linkname: h.linkname || undefined, data: Buffer.concat(chunks).toString() });
    }
  })();
  for await (const c of tar) ex.write(c as Buffer);
  (ex as unknown as NodeJS.WritableStream).end();
  await done;
  return out;
}

const roots: string[] = [];
after(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

/** A temp dir with `files` (path → content; a trailing '/' makes a directory). */
function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ctx-'));
  roots.push(root);
  for (const [p, content] of Object.entries(files)) {
    const abs = path.join(root, p);
    if (p.endsWith('/')) fs.mkdirSync(abs, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, content);
    }
  }
  return root;
}

function pack(dir: string, relDockerfile = 'Dockerfile') {
  let ignore: string | undefined;
  try {
    ignore = fs.readFileSync(path.join(dir, '.dockerignore'), 'utf8');
  } catch {
    ignore = undefined;
  }
  return entries(packContext(dir, { matcher: contextMatcher(ignore, relDockerfile) }));
}

describe('packContext', () => {
  it('leaves out what .dockerignore names, keeps exceptions, and always sends the Dockerfile and .dockerignore', async () => {
    const dir = tree({
      Dockerfile: 'FROM busybox\n',
      '.dockerignore': '*.log\nsecret\nbuild\n!build/keep.txt\nDockerfile\n.dockerignore\n',
      'app.txt': 'app',
      'debug.log': 'log',
      'sub/deep.log': 'not matched: * stops at /',
      secret: 'x',
      'build/keep.txt': 'kept',
      'build/drop.txt': 'dropped',
      'build/inner/other.txt': 'dropped too',
    });
    const got = await pack(dir);
    assert.deepEqual([...got.keys()].sort(), ['.dockerignore', 'Dockerfile', 'app.txt', 'build/keep.txt', 'sub/', 'sub/deep.log']);
    assert.equal(got.get('build/keep.txt')!.data, 'kept');
    assert.equal(got.get('Dockerfile')!.data, 'FROM busybox\n');
  });

  it('skips an ignored directory without looking inside when no exception could bring anything back', async () => {
    const dir = tree({ Dockerfile: 'FROM x\n', '.dockerignore': 'node_modules\n', 'node_modules/a/b.js': '1', 'src/a.js': '2' });
    const read: string[] = [];
    const readdir = fs.promises.readdir;
    fs.promises.readdir = ((p: string, ...rest: never[]) => {
      read.push(path.relative(dir, p));
      return (readdir as (...a: unknown[]) => unknown)(p, ...rest);
    }) as typeof fs.promises.readdir;
    let got;
    try {
      got = await pack(dir);
    } finally {
      fs.promises.readdir = readdir;
    }
    assert.deepEqual([...got.keys()].sort(), ['.dockerignore', 'Dockerfile', 'src/', 'src/a.js']);
    assert.deepEqual(read.sort(), ['', 'src']);
  });

  it('sends an ignored Dockerfile in a subdirectory (the -f one), but nothing else of it', async () => {
    const dir = tree({ 'docker/Dockerfile': 'FROM x\n', 'docker/other': 'no', '.dockerignore': 'docker\n' });
    const got = await pack(dir, 'docker/Dockerfile');
    assert.deepEqual([...got.keys()].sort(), ['.dockerignore', 'docker/Dockerfile']);
  });

  it('keeps names relative, modes, owners, mtimes; directories end with /', async () => {
    const dir = tree({ Dockerfile: 'FROM x\n', 'bin/run.sh': '#!/bin/sh\n' });
    // chown clears setuid: owner first.
    fs.chownSync(path.join(dir, 'bin/run.sh'), 1234, 5678);
    fs.chmodSync(path.join(dir, 'bin/run.sh'), 0o4751);
    fs.utimesSync(path.join(dir, 'bin/run.sh'), new Date(1_600_000_000_000), new Date(1_600_000_000_000));
    const got = await pack(dir);
    const e = got.get('bin/run.sh')!;
    assert.deepEqual({ type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime }, { type: 'file', mode: 0o4751, uid: 1234, gid: 5678, mtime: 1_600_000_000_000 });
    assert.equal(got.get('bin/')!.type, 'directory');
    assert.ok([...got.keys()].every((n) => !n.startsWith('/') && !n.startsWith('./')));
  });

  it('sends symlinks as symlinks and never follows them out of the context', async () => {
    const outside = tree({ 'passwords.txt': 'do not send', 'dir/inner.txt': 'nor this' });
    const dir = tree({ Dockerfile: 'FROM x\n', 'real.txt': 'r' });
    fs.symlinkSync(path.join(outside, 'passwords.txt'), path.join(dir, 'abs-link'));
    fs.symlinkSync(path.join(outside, 'dir'), path.join(dir, 'dir-link'));
    fs.symlinkSync('real.txt', path.join(dir, 'rel-link'));
    const got = await pack(dir);
    assert.deepEqual([...got.keys()].sort(), ['Dockerfile', 'abs-link', 'dir-link', 'real.txt', 'rel-link']);
    assert.deepEqual({ ...got.get('abs-link')!, mtime: 0, mode: 0 }, { type: 'symlink', linkname: path.join(outside, 'passwords.txt'), data: '', uid: 0, gid: 0, mtime: 0, mode: 0 });
    assert.equal(got.get('dir-link')!.type, 'symlink');
    assert.equal(got.get('rel-link')!.linkname, 'real.txt');
    assert.ok(![...got.values()].some((e) => e.data.includes('do not send') || e.data.includes('nor this')));
  });

  it('sends a second name of a file as a hard link to the first', async () => {
    const dir = tree({ Dockerfile: 'FROM x\n', a: 'same bytes' });
    fs.linkSync(path.join(dir, 'a'), path.join(dir, 'b'));
    const got = await pack(dir);
    assert.equal(got.get('a')!.type, 'file');
    assert.deepEqual([got.get('b')!.type, got.get('b')!.linkname], ['link', 'a']);
  });

  it('adds a Dockerfile from outside under its generated name and lists that name in the .dockerignore sent', async () => {
    const dir = tree({ '.dockerignore': '*.tmp', 'x.tmp': 't', 'a.txt': 'a' });
    const extra = { name: '.dockerfile.0123456789abcdef0123', data: Buffer.from('FROM busybox\n') };
    const got = await entries(packContext(dir, { matcher: contextMatcher('*.tmp', undefined), extra, dockerignore: '*.tmp' }));
    assert.deepEqual([...got.keys()].sort(), ['.dockerfile.0123456789abcdef0123', '.dockerignore', 'a.txt']);
    assert.equal(got.get(extra.name)!.data, 'FROM busybox\n');
    assert.equal(got.get(extra.name)!.mode, 0o600);
    assert.equal(got.get('.dockerignore')!.data, '*.tmp\n.dockerfile.0123456789abcdef0123\n');
    // Without a .dockerignore, Docker writes one naming itself and the Dockerfile.
    const bare = tree({ 'a.txt': 'a' });
    const got2 = await entries(packContext(bare, { matcher: contextMatcher(undefined, undefined), extra }));
    assert.equal(got2.get('.dockerignore')!.data, '.dockerignore\n.dockerfile.0123456789abcdef0123\n');
  });

  it('fails the stream with the error of a walk that cannot go on', async () => {
    const dir = tree({ Dockerfile: 'FROM x\n', 'sub/': '' });
    fs.chmodSync(path.join(dir, 'sub'), 0);
    if (process.getuid?.() === 0) {
      // root reads anything: make the walk fail another way, a directory that vanished.
      fs.chmodSync(path.join(dir, 'sub'), 0o755);
      const s = packContext(path.join(dir, 'missing'), { matcher: contextMatcher(undefined, 'Dockerfile') });
      await assert.rejects(entries(s), /ENOENT/);
      return;
    }
    await assert.rejects(pack(dir), /EACCES/);
  });

  it('refuses a bad .dockerignore pattern as docker does', () => {
    assert.throws(() => contextMatcher('[z-a]\n', 'Dockerfile'), { message: 'error checking context: syntax error in pattern' });
  });
});

describe('resolveLocalContext', () => {
  it('takes -f relative to the current directory and says when the Dockerfile is outside the context', () => {
    const root = tree({ 'ctx/Dockerfile': 'x', 'elsewhere/Build.df': 'y' });
    const ctx = fs.realpathSync(path.join(root, 'ctx'));
    assert.deepEqual(resolveLocalContext('ctx', '', root), { dir: ctx, relDockerfile: 'Dockerfile' });
    const out = resolveLocalContext('ctx', 'elsewhere/Build.df', root);
    assert.equal(out.relDockerfile, '../elsewhere/Build.df');
    assert.ok(isOutside(out.relDockerfile));
    assert.deepEqual(resolveLocalContext('ctx', 'ctx/Dockerfile', root).relDockerfile, 'Dockerfile');
    assert.deepEqual(resolveLocalContext('ctx', '-', root).relDockerfile, '-');
  });

  it('falls back to a lowercase dockerfile and words errors as docker does', () => {
    const root = tree({ 'ctx/dockerfile': 'x', 'file.txt': '' });
    assert.equal(resolveLocalContext('ctx', '', root).relDockerfile, 'dockerfile');
    const real = fs.realpathSync(root);
    assert.throws(() => resolveLocalContext('.', '', root), { message: `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${path.join(real, 'Dockerfile')}: no such file or directory` });
    assert.throws(() => resolveLocalContext('file.txt', '', root), { message: `unable to prepare context: context must be a directory: ${path.join(real, 'file.txt')}` });
  });
});

describe('stdin', () => {
  it('tells a tar or a compressed stream from a Dockerfile', async () => {
    const tar = Buffer.concat(await Readable.from(singleDockerfileTar(Buffer.from('FROM x\n'))).toArray());
    assert.ok(looksLikeArchive(tar.subarray(0, 1024)));
    assert.ok(looksLikeArchive(Buffer.from([0x1f, 0x8b, 8, 0])));
    assert.ok(!looksLikeArchive(Buffer.from('FROM busybox\nRUN echo hi\n')));
    assert.ok(!looksLikeArchive(Buffer.alloc(1024, 'a')));
    const one = await entries(Readable.from([tar]));
    assert.deepEqual([...one.keys()], ['Dockerfile']);
    assert.equal(one.get('Dockerfile')!.data, 'FROM x\n');
  });

  it('peek gives the first bytes and a stream that still has every byte', async () => {
    const parts = [Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ijk')];
    const { head, stream } = await peek(Readable.from(parts), 5);
    assert.equal(head.toString(), 'abcdefgh');
    assert.equal(Buffer.concat(await stream.toArray()).toString(), 'abcdefghijk');
    const short = await peek(Readable.from([Buffer.from('xy')]), 1024);
    assert.equal(short.head.toString(), 'xy');
    assert.equal(Buffer.concat(await short.stream.toArray()).toString(), 'xy');
  });
});
