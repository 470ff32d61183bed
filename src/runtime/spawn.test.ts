import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { childPipe, SpawnError, spawnProcess } from './spawn';

async function readAll(r: Readable): Promise<string> {
  let s = '';
  r.setEncoding('utf8').on('data', (d: string) => (s += d));
  await once(r, 'end');
  return s;
}

describe('spawnProcess (posix_spawn)', () => {
  it('maps fds, sets env and cwd, and reaps the exit code', async () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-spawn-'));
    const input = childPipe(true);
    const out = childPipe(false);
    const extra = childPipe(false);
    const p = spawnProcess('/bin/sh', ['-c', 'read line; echo "$line $GREETING $(pwd)"; echo side >&3; exit 7'], {
      fds: [input.theirs, out.theirs, 'null', extra.theirs],
      env: { GREETING: 'hello', PATH: '/usr/bin:/bin' },
      cwd: dir,
    });
    for (const fd of [input.theirs, out.theirs, extra.theirs]) fs.closeSync(fd);
    (input.ours as Writable).end('from-stdin\n');
    const [stdout, side] = await Promise.all([readAll(out.ours as Readable), readAll(extra.ours as Readable)]);
    assert.equal(stdout, `from-stdin hello ${fs.realpathSync(dir)}\n`);
    assert.equal(side, 'side\n');
    assert.deepEqual(await p.reap(), { code: 7, signal: null });
    fs.rmSync(dir, { recursive: true });
  });

  it('fds can trade places: a source that is another fd\'s target is moved out of the way first', async () => {
    const report = childPipe(false);
    // The child's 0 is our 1 and its 1 is our 0: done naively, the first dup2 would clobber the second's source.
    const p = spawnProcess('/bin/sh', ['-c', 'readlink /proc/self/fd/0 /proc/self/fd/4 4>&1 >&3'], { fds: [1, 0, 'null', report.theirs], env: {} });
    fs.closeSync(report.theirs);
    const text = await readAll(report.ours as Readable);
    assert.equal(text, `${fs.readlinkSync('/proc/self/fd/1')}\n${fs.readlinkSync('/proc/self/fd/0')}\n`);
    assert.equal((await p.reap()).code, 0);
  });

  it('signals reach the child and come back as 128+N; defaults are restored (SIGPIPE is not ignored)', async () => {
    const out = childPipe(false);
    const p = spawnProcess('/bin/sh', ['-c', 'trap - PIPE; grep SigIgn /proc/self/status; exec sleep 30'], { fds: ['null', out.theirs, 'null'], env: {} });
    fs.closeSync(out.theirs);
    let text = '';
    (out.ours as Readable).setEncoding('utf8').on('data', (d: string) => (text += d));
    const deadline = Date.now() + 5000;
    while (!text.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Node ignores SIGPIPE (bit 13); the child must not inherit that.
    const ignored = BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(text)![1]}`);
    assert.equal(ignored & (1n << 12n), 0n);
    p.kill('SIGTERM');
    assert.deepEqual(await p.reap(), { code: 143, signal: 'SIGTERM' });
    p.kill('SIGTERM'); // after the reap: a no-op, never a stray signal to a reused pid
  });

  it('a program that cannot be run is a SpawnError', () => {
    assert.throws(() => spawnProcess('/no/such/program', [], { fds: [], env: {} }), (e: unknown) => e instanceof SpawnError && /ENOENT/.test((e as Error).message));
  });
});
