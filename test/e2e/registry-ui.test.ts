/**
 * The registry's web page in a real browser: Debian's chromium, headless, renders `/` and a
 * repository page of a berth registry holding a small image pushed over the API. The DOM must
 * list the repository, tag and digest; the screenshot must be a PNG of the window's size with
 * more on it than a blank page.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { createRegistryServer } from '../../src/registry/server';
import { RegistryStorage } from '../../src/registry/storage';

const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-ui-'));
const server = createRegistryServer({ store: new RegistryStorage(join(dir, 'root')) });
let base = '';

function request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers: { ...(body ? { 'Content-Length': String(body.length) } : {}), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(repo: string, bytes: Buffer): Promise<string> {
  const d = digestOf(bytes);
  const r = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, bytes, { 'Content-Type': 'application/octet-stream' });
  assert.equal(r.status, 201, r.body.toString());
  return d;
}

let manifestDigest = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.alloc(4096, 7);
  const configDigest = await pushBlob('ui/demo', config);
  const layerDigest = await pushBlob('ui/demo', layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const r = await request('PUT', '/v2/ui/demo/manifests/v1', manifest, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
  assert.equal(r.status, 201, r.body.toString());
  manifestDigest = String(r.headers['docker-content-digest']);
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs headless chromium with its own profile dir; resolves with its stdout. */
function chromium(args: string[]): Promise<string> {
  const profile = fs.mkdtempSync(join(dir, 'profile-'));
  return new Promise((resolve, reject) => {
    execFile(
      'chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', `--user-data-dir=${profile}`, ...args],
      { timeout: 90_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`chromium failed: ${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** Width, height and the decoded rows of an 8-bit RGB(A) PNG, enough to tell a blank image. */
function pngRows(png: Buffer): { width: number; height: number; distinctRows: number } {
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      channels = data[9] === 6 ? 4 : 3;
    }
    if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels + 1;
  const rows = new Set<string>();
  for (let y = 0; y < height; y++) rows.add(createHash('sha1').update(raw.subarray(y * stride, (y + 1) * stride)).digest('hex'));
  return { width, height, distinctRows: rows.size };
}

test('the registry page lists repositories, tags and digests in headless chromium', async () => {
  const dom = await chromium(['--dump-dom', `${base}/`]);
  assert.match(dom, /<h1>berth registry<\/h1>/);
  assert.match(dom, /href="\/ui\/ui\/demo"/);
  assert.match(dom, /<td>v1<\/td>/);
  assert.ok(dom.includes(manifestDigest.slice(0, 19)), `the short digest ${manifestDigest.slice(0, 19)} is on the page`);

  const shot = join(dir, 'index.png');
  await chromium(['--window-size=1000,600', `--screenshot=${shot}`, `${base}/`]);
  const img = pngRows(fs.readFileSync(shot));
  assert.equal(img.width, 1000);
  assert.equal(img.height, 600);
  // A blank page is one row repeated; a heading, a table and text make dozens of different rows.
  assert.ok(img.distinctRows > 20, `the screenshot has ${img.distinctRows} distinct rows`);
});

test('a repository page shows its manifests and layers; an unknown one is a 404', async () => {
  const dom = await chromium(['--dump-dom', `${base}/ui/ui/demo`]);
  assert.ok(dom.includes(manifestDigest), 'the manifest digest');
  assert.match(dom, /application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/);
  assert.match(dom, /4\.10 kB/);
  assert.equal((await request('GET', '/ui/no/such')).status, 404);
  assert.equal((await request('GET', '/ui/..%2Fetc')).status, 404);
});
