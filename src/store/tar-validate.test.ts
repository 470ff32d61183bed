import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import { createTarValidator, normalizeEntryPath, UnsafeTarError, type TarSummary } from './tar-validate';

type H = Parameters<Pack['entry']>[0];
type E = H & { body?: string };

const dir = (name: string): E => ({ name, type: 'directory' });
const file = (name: string, body = ''): E => ({ name, type: 'file', body });
const sym = (name: string, linkname: string): E => ({ name, type: 'symlink', linkname });
const hard = (name: string, linkname: string): E => ({ name, type: 'link', linkname });

async function collect(p: Pack): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function makeTar(entries: E[]): Promise<Buffer> {
  const p = pack();
  const done = collect(p);
  for (const { body, ...h } of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (h.type === 'file') p.entry(h, body ?? '', cb);
      else p.entry(h, cb);
    });
  }
  p.finalize();
  return done;
}

/** Overwrites the typeflag of the header at `offset` and fixes its checksum. */
function patchType(tar: Buffer, offset: number, flag: string): Buffer {
  const out = Buffer.from(tar);
  const h = out.subarray(offset, offset + 512);
  h[156] = flag.charCodeAt(0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return out;
}

async function validate(src: Buffer | Buffer[]): Promise<TarSummary> {
  const v = createTarValidator();
  await pipeline(Readable.from(Array.isArray(src) ? src : [src]), v);
  return v.result;
}

async function rejects(entries: E[], message: string): Promise<UnsafeTarError> {
  const v = createTarValidator();
  const run = pipeline(Readable.from([await makeTar(entries)]), v);
  let caught: unknown;
  await assert.rejects(run, (e) => ((caught = e), true));
  await assert.rejects(v.result, (e) => e === caught);
  assert.ok(caught instanceof UnsafeTarError, `not an UnsafeTarError: ${String(caught)}`);
  assert.equal(caught.message, message);
  return caught;
}

const busybox: E[] = [
  dir('./'),
  dir('./bin/'),
  file('./bin/busybox', 'x'.repeat(1000)),
  sym('./bin/sh', '/bin/busybox'),
  sym('./bin/ls', 'busybox'),
  hard('./bin/ash', './bin/busybox'),
  dir('./etc/'),
  file('./etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
  sym('./etc/mtab', '../proc/mounts'),
  dir('./dev/'),
  { name: './dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: './dev/initctl', type: 'fifo' },
  dir('./tmp/'),
  file('./tmp/.wh..wh..opq'),
  file('./' + 'long/'.repeat(40) + 'name', 'y'),
];

test('busybox-like rootfs passes with the right counts', async () => {
  const s = await validate(await makeTar(busybox));
  assert.deepEqual(s, { entries: busybox.length, bytes: 1000 + 30 + 1 });
});

test('chunk boundaries do not matter (7-byte chunks)', async () => {
  const tar = await makeTar(busybox);
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += 7) chunks.push(tar.subarray(i, i + 7));
  assert.deepEqual(await validate(chunks), { entries: busybox.length, bytes: 1031 });
});

test('normalizeEntryPath', () => {
  assert.equal(normalizeEntryPath('./bin/sh'), 'bin/sh');
  assert.equal(normalizeEntryPath('/etc/passwd'), 'etc/passwd');
  assert.equal(normalizeEntryPath('./'), '');
  assert.equal(normalizeEntryPath('a//b/./c/'), 'a/b/c');
  assert.equal(normalizeEntryPath('a/../b'), 'b');
  assert.equal(normalizeEntryPath('/../x'), null);
  assert.equal(normalizeEntryPath('../x'), null);
  assert.equal(normalizeEntryPath('a/../../b'), null);
  assert.equal(normalizeEntryPath('a\0b'), null);
});

test('../evil is rejected', async () => {
  const e = await rejects([file('../evil')], 'invalid tar entry "../evil": path escapes the root with ".."');
  assert.equal(e.entry, '../evil');
});

test('a/../../evil is rejected, a/../b is allowed', async () => {
  await rejects([dir('a/'), file('a/../../evil')], 'invalid tar entry "a/../../evil": path escapes the root with ".."');
  assert.equal((await validate(await makeTar([dir('a/'), file('a/../b')]))).entries, 2);
});

test('absolute entry name is accepted (made relative)', async () => {
  assert.equal((await validate(await makeTar([dir('/etc/'), file('/etc/passwd', 'x')]))).entries, 2);
});

test('file through an absolute symlink is rejected', async () => {
  const e = await rejects([sym('evil', '/etc'), file('evil/passwd', 'x')],
    'invalid tar entry "evil/passwd": path traverses symlink "evil" (-> /etc)');
  assert.equal(e.entry, 'evil/passwd');
});

test('file through a ../.. symlink is rejected', async () => {
  await rejects([sym('d', '../..'), file('d/x')], 'invalid tar entry "d/x": path traverses symlink "d" (-> ../..)');
});

test('symlink then `..` out of it is still a traversal', async () => {
  await rejects([sym('s', '/etc'), file('s/../x')], 'invalid tar entry "s/../x": path traverses symlink "s" (-> /etc)');
});

test('symlink chain is rejected', async () => {
  await rejects([sym('a', 'b'), sym('b', '/'), file('a/x')], 'invalid tar entry "a/x": path traverses symlink "a" (-> b)');
});

test('deep parent symlink is rejected', async () => {
  await rejects([dir('usr/'), sym('usr/lib', '/lib'), file('./usr/lib/x/y')],
    'invalid tar entry "./usr/lib/x/y": path traverses symlink "usr/lib" (-> /lib)');
});

test('dir replaced by a symlink, then a file through it, is rejected', async () => {
  await rejects([dir('d/'), file('d/ok'), sym('d', '/etc'), file('d/passwd')],
    'invalid tar entry "d/passwd": path traverses symlink "d" (-> /etc)');
});

test('symlink replaced by a file or dir of the same name is accepted', async () => {
  const s = await validate(await makeTar([sym('victim', '/etc/passwd'), file('victim', 'x'),
    sym('d', '/etc'), dir('d/'), file('d/x')]));
  assert.equal(s.entries, 5);
});

test('hard link to ../outside is rejected', async () => {
  await rejects([hard('x', '../outside')], 'invalid tar entry "x": hard link target "../outside" is outside the root');
});

test('hard link with absolute target inside the archive is accepted', async () => {
  assert.equal((await validate(await makeTar([file('a', 'x'), hard('b', '/a')]))).entries, 2);
});

test('hard link through a symlink is rejected', async () => {
  await rejects([dir('etc/'), file('etc/shadow'), sym('s', '/etc'), hard('x', 's/shadow')],
    'invalid tar entry "x": hard link target "s/shadow" traverses symlink "s"');
});

test('hard link to a symlink is fine, but it is a symlink afterwards', async () => {
  assert.equal((await validate(await makeTar([sym('s', '/etc'), hard('t', 's')]))).entries, 2);
  await rejects([sym('s', '/etc'), hard('t', 's'), file('t/passwd')],
    'invalid tar entry "t/passwd": path traverses symlink "t" (-> /etc)');
});

test('hard link to an unknown target or a directory is rejected', async () => {
  await rejects([file('a'), hard('b', 'nope')], 'invalid tar entry "b": hard link target "nope" not found in archive');
  await rejects([dir('d/'), hard('b', 'd')], 'invalid tar entry "b": hard link target "d" is a directory');
});

test('unknown typeflags and sparse files are rejected', async () => {
  const tar = await makeTar([file('a', 'x')]);
  for (const flag of ['S', 'V', 'D']) {
    await assert.rejects(validate(patchType(tar, 0, flag)),
      (e) => e instanceof UnsafeTarError && /^invalid tar entry "a": unsupported entry type/.test(e.message));
  }
  await rejects([{ name: 'GNUSparseFile.0/a', type: 'file', pax: { 'GNU.sparse.name': 'evil/a' } }],
    'invalid tar entry "GNUSparseFile.0/a": unsupported entry type "sparse file"');
});

test('data in a header-only entry is rejected', async () => {
  const tar = patchType(await makeTar([file('a', 'x'.repeat(600))]), 0, '2');
  await assert.rejects(validate(tar), { message: 'invalid tar entry "a": unexpected 600 bytes of data in a symlink entry' });
});

test('NUL in a (PAX) name is rejected', async () => {
  await rejects([{ name: 'a\0b', type: 'file', pax: {} }], 'invalid tar entry "a\0b": name contains a NUL byte');
});

test('root replaced by a non-directory is rejected', async () => {
  await rejects([sym('./', '/')], 'invalid tar entry "./": the root can only be a directory, not a symlink');
});

test('garbage and truncated input are not tars', async () => {
  await assert.rejects(validate(Buffer.alloc(2048, 0x41)), /^Error: invalid tar archive: /);
  await assert.rejects(validate(Buffer.from('hello')), /^Error: invalid tar archive: /);
  const tar = await makeTar([file('a', 'x'.repeat(5000))]);
  await assert.rejects(validate(tar.subarray(0, 3000)), /^Error: invalid tar archive: /);
});

test('empty stream is rejected, zero blocks only is an empty tar', async () => {
  const v = createTarValidator();
  await assert.rejects(pipeline(Readable.from([]), v), { message: 'invalid tar archive: empty' });
  await assert.rejects(v.result, { message: 'invalid tar archive: empty' });
  assert.deepEqual(await validate(Buffer.alloc(10240)), { entries: 0, bytes: 0 });
});

test('a 50 MB entry streams through without buffering', async () => {
  const size = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x5a); // reused: the body is never one big Buffer
  const p = pack();
  const v = createTarValidator();
  const run = pipeline(Readable.from(p), v);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sink = p.entry({ name: 'big.bin', type: 'file', size }, (err) => { if (err) throw err; });
  for (let written = 0; written < size; written += chunk.length) {
    if (!sink.write(chunk)) await new Promise<void>((res) => sink.once('drain', () => res()));
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  sink.end(undefined);
  p.finalize();
  await run;
  assert.deepEqual(await v.result, { entries: 1, bytes: size });
  assert.ok(peak - base < 40 * 1024 * 1024, `rss grew by ${((peak - base) / 1048576).toFixed(1)} MB`);
});
