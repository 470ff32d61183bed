import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ContextFileResult, ContextFileSink } from './context-file';
import { TarParser } from './tar-reader';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function blobDir(): string {
  const d = fs.mkdtempSync(join(os.tmpdir(), 'berth-context-file-'));
  dirs.push(d);
  return d;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Keeps `bytes` in `dir` under their digest, as an earlier build would have. */
function keep(dir: string, bytes: Buffer): string {
  const s = sha(bytes);
  fs.writeFileSync(join(dir, s), bytes);
  return s;
}

/** Streams `bytes` through a sink in chunks of `chunk`. */
function send(dir: string, expected: string | undefined, bytes: Buffer, chunk = 32 << 10): ContextFileResult {
  let result: ContextFileResult | undefined;
  const sink = new ContextFileSink(dir, expected, (r) => (result = r));
  for (let i = 0; i < bytes.length; i += chunk) sink.data(bytes.subarray(i, i + chunk));
  sink.end();
  assert.ok(result, 'the sink reported its file');
  return result;
}

const temps = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('tmp-'));

test('bytes equal to the predicted ones are not written again', async () => {
  const dir = blobDir();
  // Several windows long, in chunks that straddle window boundaries.
  const bytes = randomBytes(3 * (1 << 20) + 12345);
  const s = keep(dir, bytes);
  const before = fs.statSync(join(dir, s)).mtimeMs;
  const r = send(dir, s, bytes, 50_000);
  assert.deepEqual(r, { sha: s, path: join(dir, s), asExpected: true });
  assert.equal(fs.statSync(join(dir, s)).mtimeMs, before);
  assert.deepEqual(temps(dir), []);
});

test('a difference late in the file, past the first window, gives the new bytes their own digest', async () => {
  const dir = blobDir();
  const old = randomBytes(2 * (1 << 20) + 777);
  const s = keep(dir, old);
  const changed = Buffer.from(old);
  changed[changed.length - 100] ^= 0xff;
  const r = send(dir, s, changed);
  assert.equal(r.asExpected, false);
  assert.equal(r.sha, sha(changed));
  assert.ok(fs.readFileSync(r.path).equals(changed), 'the kept file holds the new bytes, the matched prefix included');
  assert.ok(fs.readFileSync(join(dir, s)).equals(old), 'the predicted file is untouched');
  assert.deepEqual(temps(dir), []);
});

test('a difference in the first chunk, and bytes of another length than predicted', async () => {
  const dir = blobDir();
  const old = randomBytes(100_000);
  const s = keep(dir, old);
  for (const bytes of [randomBytes(100_000), old.subarray(0, 60_000), Buffer.concat([old, Buffer.from('tail')]), Buffer.alloc(0)]) {
    const r = send(dir, s, bytes, 4096);
    assert.equal(r.asExpected, false);
    assert.equal(r.sha, sha(bytes));
    assert.ok(fs.readFileSync(r.path).equals(bytes));
  }
  assert.deepEqual(temps(dir), []);
});

test('a prediction whose file was pruned, and no prediction at all', async () => {
  const dir = blobDir();
  const bytes = randomBytes(70_000);
  const gone = sha(Buffer.from('pruned'));
  for (const expected of [gone, undefined]) {
    const r = send(dir, expected, bytes);
    assert.deepEqual(r, { sha: sha(bytes), path: join(dir, sha(bytes)), asExpected: false });
  }
});

test('an aborted file leaves nothing behind', async () => {
  const dir = blobDir();
  const old = randomBytes(3 << 20);
  const s = keep(dir, old);
  const sink = new ContextFileSink(dir, s, () => assert.fail('an aborted file is not reported'));
  sink.data(old.subarray(0, 1 << 20));
  sink.data(randomBytes(1000));
  assert.equal(temps(dir).length, 1);
  sink.abort();
  assert.deepEqual(temps(dir), []);
  assert.deepEqual(fs.readdirSync(dir), [s]);
});

test('the tar parser waits for a sink that returns promises, and goes on with the rest of the chunk', async () => {
  const header = (name: string, size: number) => {
    const b = Buffer.alloc(512);
    b.write(name, 0);
    b.write('0000644\0', 100);
    b.write('0000000\0', 108);
    b.write('0000000\0', 116);
    b.write(size.toString(8).padStart(11, '0') + '\0', 124);
    b.write('00000000000\0', 136);
    b.write('0', 156);
    b.write('ustar\x0000', 257);
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of b) sum += x;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return b;
  };
  const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
  const a = randomBytes(3000);
  const c = randomBytes(10);
  const tar = Buffer.concat([header('a', a.length), a, pad(a.length), header('c', c.length), c, pad(c.length)]);
  const got = new Map<string, Buffer[]>();
  const order: string[] = [];
  const parser = new TarParser((h) => {
    order.push(`start ${h.name}`);
    got.set(h.name, []);
    return {
      data: async (chunk) => {
        await new Promise((r) => setTimeout(r, 1));
        got.get(h.name)!.push(Buffer.from(chunk));
      },
      end: async () => {
        await new Promise((r) => setTimeout(r, 1));
        order.push(`end ${h.name}`);
      },
    };
  });
  // One chunk holding both entries: the second must wait for the first one's end.
  await parser.push(tar);
  parser.end();
  assert.deepEqual(order, ['start a', 'end a', 'start c', 'end c']);
  assert.ok(Buffer.concat(got.get('a')!).equals(a));
  assert.ok(Buffer.concat(got.get('c')!).equals(c));
});
