import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readTar, type TarEntryHeader } from './tar-reader';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A tree with a long name, a symlink, a hard link and UTF-8, archived by GNU tar in `format`. */
function archive(format: 'gnu' | 'posix'): Buffer {
  const d = fs.mkdtempSync(join(os.tmpdir(), 'berth-tar-reader-'));
  dirs.push(d);
  const long = 'l'.repeat(60) + '/' + 'm'.repeat(60);
  fs.mkdirSync(join(d, 'src', long), { recursive: true });
  fs.writeFileSync(join(d, 'src', long, 'f.txt'), 'deep\n');
  fs.writeFileSync(join(d, 'src', 'ünï.txt'), 'x'.repeat(1000));
  fs.symlinkSync('ünï.txt', join(d, 'src', 'link'));
  fs.linkSync(join(d, 'src', 'ünï.txt'), join(d, 'src', 'hard'));
  fs.utimesSync(join(d, 'src', 'ünï.txt'), new Date(1_600_000_000_000), new Date(1_600_000_000_000));
  return execFileSync('tar', [`--format=${format}`, '-C', join(d, 'src'), '-cf', '-', '.'], { maxBuffer: 1 << 26 });
}

async function read(tar: Buffer, chunk = 700): Promise<{ headers: TarEntryHeader[]; bodies: Map<string, string> }> {
  const headers: TarEntryHeader[] = [];
  const bodies = new Map<string, string>();
  const pieces = (async function* () {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  })();
  await readTar(pieces, (h) => {
    headers.push(h);
    const parts: Buffer[] = [];
    return { data: (c) => void parts.push(Buffer.from(c)), end: () => void bodies.set(h.name, Buffer.concat(parts).toString()) };
  });
  return { headers, bodies };
}

for (const format of ['gnu', 'posix'] as const) {
  test(`readTar reads GNU tar's ${format} format: long names, UTF-8, links, mtimes, bodies across chunks`, async () => {
    const { headers, bodies } = await read(archive(format));
    const byName = new Map(headers.map((h) => [h.name.replace(/^\.\//, '').replace(/\/$/, ''), h]));
    const long = 'l'.repeat(60) + '/' + 'm'.repeat(60) + '/f.txt';
    assert.equal(byName.get(long)?.type, 'file');
    assert.equal(bodies.get(`./${long}`), 'deep\n');
    // One of the two names of the file holds the body, the other is a hard link to it.
    assert.equal(bodies.get('./ünï.txt') ?? bodies.get('./hard'), 'x'.repeat(1000));
    assert.equal(byName.get('ünï.txt')!.mtime.getTime(), 1_600_000_000_000);
    assert.equal(byName.get('link')?.type, 'symlink');
    assert.equal(byName.get('link')?.linkname, 'ünï.txt');
    const hard = byName.get('hard') ?? byName.get('ünï.txt');
    assert.ok(hard);
    assert.ok(headers.some((h) => h.type === 'link'), 'one of the two names is a hard link');
  });
}

test('readTar takes an archive that stops at an entry boundary, without its end blocks (as Go does)', async () => {
  const tar = archive('gnu');
  // Drop the zero blocks at the end (and any padding after them).
  let end = tar.length;
  while (end >= 512 && tar.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  const { bodies } = await read(tar.subarray(0, end));
  assert.equal(bodies.get('./ünï.txt') ?? bodies.get('./hard'), 'x'.repeat(1000));
});

test('readTar refuses a body cut short, a header cut short and a bad checksum', async () => {
  const tar = archive('gnu');
  const firstFile = tar.indexOf(Buffer.from('x'.repeat(100)));
  await assert.rejects(read(tar.subarray(0, firstFile + 10)), /end of the tar archive inside an entry/);
  await assert.rejects(read(tar.subarray(0, 700)), /inside an entry|inside a header/);
  const bad = Buffer.from(tar);
  bad[0] ^= 1;
  await assert.rejects(read(bad), /checksum mismatch/);
});
