/**
 * docker save and docker load through the docker CLI, and skopeo both ways: berth's archives
 * are Docker 25's layout (OCI blobs + manifest.json), skopeo reads them, and berth loads what
 * skopeo writes (docker-archive with its symlinked layer dirs, oci-archive with gzip layers).
 * Bad archives fail with nothing loaded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { extract, pack } from 'tar-stream';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'berth-save-load-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ok = (args: string[]) => d.dockerOk(args);
const idOf = async (name: string) => (await ok(['image', 'inspect', '--format', '{{.Id}}', name])).trim();
/** Puts busybox back from the first test's archive when a test took it away and failed. */
async function ensureBusybox(): Promise<void> {
  if ((await d.docker(['image', 'inspect', 'busybox'])).code !== 0) await ok(['load', '-i', join(tmp, 'busybox.tar')]);
}
const images = async () => (await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).split('\n').filter(Boolean).sort();

function skopeo(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout: 120_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')}: ${stderr || err.message}`));
      else resolve();
    });
  });
}

async function readTar(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  fs.createReadStream(file).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

/** Writes `files` (directories end in /) as a tar, `extra` entries first. */
async function writeTar(file: string, files: Map<string, Buffer>, extra: [string, Buffer][] = []): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const [name, body] of [...extra, ...files]) {
    await new Promise<void>((res, rej) => {
      const cb = (e?: Error | null) => (e ? rej(e) : res());
      if (name.endsWith('/')) p.entry({ name, type: 'directory' }, cb);
      else p.entry({ name }, body, cb);
    });
  }
  p.finalize();
  await done;
  fs.writeFileSync(file, Buffer.concat(chunks));
}

test('docker save writes the OCI layout and manifest.json; docker load brings the image back with its id', async () => {
  const id = await idOf('busybox');
  const file = join(tmp, 'busybox.tar');
  await ok(['save', 'busybox', '-o', file]);
  const files = await readTar(file);
  for (const name of ['manifest.json', 'index.json', 'oci-layout', 'repositories']) assert.ok(files.has(name), `${name} is in the archive`);
  assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()).map((m: { RepoTags: string[] }) => m.RepoTags), [['busybox:latest']]);
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/busybox:latest');

  await ok(['rmi', 'busybox']);
  const loaded = await ok(['load', '-i', file]);
  assert.match(loaded, /^Loaded image: busybox:latest$/m);
  assert.equal(await idOf('busybox'), id);
  assert.equal(await ok(['run', '--rm', 'busybox', 'echo', 'ok']), 'ok\n');

  // Through stdin, and a missing image is Docker's 404.
  const again = await d.docker(['load'], { input: fs.readFileSync(file) });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Loaded image: busybox:latest/);
  const missing = await d.docker(['save', 'nosuch', '-o', join(tmp, 'nosuch.tar')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /No such image: nosuch/);
});

test('skopeo reads what berth saves; berth loads docker-archive and oci-archive made by skopeo', async (t) => {
  t.after(ensureBusybox);
  const saved = join(tmp, 'for-skopeo.tar');
  await ok(['save', 'busybox', '-o', saved]);
  const layout = join(tmp, 'layout');
  // --dest-compress: the layout gets gzip layers, so the oci-archive below carries them.
  await skopeo(['copy', '--dest-compress', `docker-archive:${saved}`, `oci:${layout}:x`]);
  const dockerArchive = join(tmp, 'skopeo-docker.tar');
  const ociArchive = join(tmp, 'skopeo-oci.tar');
  await skopeo(['copy', `oci:${layout}:x`, `docker-archive:${dockerArchive}:skopeo/img:1`]);
  await skopeo(['copy', `oci:${layout}:x`, `oci-archive:${ociArchive}:skopeo/oci:1`]);

  // Without busybox, so the layers really come from the archives. skopeo rewrote the config
  // for the OCI layout (other field order: another id), the same one in both of its archives.
  await ok(['rmi', 'busybox']);
  assert.match(await ok(['load', '-i', dockerArchive]), /Loaded image: skopeo\/img:1/);
  const id = await idOf('skopeo/img:1');
  assert.equal(await ok(['run', '--rm', 'skopeo/img:1', 'echo', 'ok']), 'ok\n');
  await ok(['rmi', 'skopeo/img:1']);

  assert.match(await ok(['load', '-i', ociArchive]), /Loaded image: skopeo\/oci:1/);
  assert.equal(await idOf('skopeo/oci:1'), id);
  assert.equal(await ok(['run', '--rm', 'skopeo/oci:1', 'echo', 'ok']), 'ok\n');
  // Saved again, a layer kept only gzipped goes out uncompressed: skopeo takes it back.
  const resaved = join(tmp, 'resaved.tar');
  await ok(['save', 'skopeo/oci:1', '-o', resaved]);
  await skopeo(['copy', `docker-archive:${resaved}`, `oci:${join(tmp, 'layout2')}:y`]);
  await ok(['rmi', 'skopeo/oci:1']);
});

test('bad archives fail and load nothing', async () => {
  await ensureBusybox();
  // An image of its own, so a failed load cannot hide behind one already present.
  await ok(['run', '--name', 'mk', 'busybox', 'sh', '-c', 'echo data > /data']);
  await ok(['commit', 'mk', 'mine:1']);
  await ok(['rm', 'mk']);
  const file = join(tmp, 'mine.tar');
  await ok(['save', 'mine:1', '-o', file]);
  await ok(['rmi', 'mine:1']);
  const before = await images();
  const blobDir = join(d.dataRoot, 'content', 'blobs', 'sha256');
  const blobsBefore = fs.readdirSync(blobDir).sort();
  const files = await readTar(file);
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Layers: string[] }[];
  const fails = async (name: string, bad: Map<string, Buffer>, extra: [string, Buffer][], re: RegExp) => {
    const path = join(tmp, name);
    await writeTar(path, bad, extra);
    const r = await d.docker(['load', '-i', path]);
    assert.notEqual(r.code, 0, `${name} must fail`);
    assert.match(r.stderr, re);
    assert.deepEqual(await images(), before, `${name}: docker images unchanged`);
    assert.equal((await d.docker(['image', 'inspect', 'mine:1'])).code, 1);
    assert.deepEqual(fs.readdirSync(blobDir).sort(), blobsBefore, `${name}: no spooled blob is left behind`);
  };

  await fails('evil.tar', files, [['../evil', Buffer.from('x')]], /invalid archive: entry "\.\.\/evil" is outside the archive/);

  const missingLayer = new Map(files);
  missingLayer.delete(manifest[0].Layers[manifest[0].Layers.length - 1]);
  await fails('missing-layer.tar', missingLayer, [], /invalid archive: layer "blobs\/sha256\/[0-9a-f]{64}" is not in the archive/);

  // The top layer's bytes replaced by another valid tar under the same name.
  const tampered = new Map(files);
  const top = manifest[0].Layers[manifest[0].Layers.length - 1];
  const other = new Map<string, Buffer>([['data', Buffer.from('other data\n')]]);
  await writeTar(join(tmp, 'other-layer.tar'), other);
  tampered.set(top, fs.readFileSync(join(tmp, 'other-layer.tar')));
  await fails('tampered.tar', tampered, [], /does not match the image config: expected diff id sha256:[0-9a-f]{64}, got sha256:/);

  // The untouched archive still loads.
  assert.match(await ok(['load', '-i', file]), /Loaded image: mine:1/);
  assert.equal(await ok(['run', '--rm', 'mine:1', 'cat', '/data']), 'data\n');
});
