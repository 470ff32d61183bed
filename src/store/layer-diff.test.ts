import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { changes, layerTar } from './layer-diff';
import { lsetxattr, mknodWhiteout } from './syscalls';

/** A lower layer and an upper dir as overlay leaves them: a whiteout, an opaque dir, a new file. */
function layers(): { base: string; lower: string; upper: string } {
  const base = fs.mkdtempSync(join(os.tmpdir(), 'ldiff-'));
  const lower = join(base, 'lower');
  const upper = join(base, 'upper');
  for (const d of ['bin', 'opq/old', 'etc']) fs.mkdirSync(join(lower, d), { recursive: true });
  fs.writeFileSync(join(lower, 'bin/ls'), 'ls');
  fs.writeFileSync(join(lower, 'etc/passwd'), 'root');
  fs.mkdirSync(join(upper, 'bin'), { recursive: true });
  mknodWhiteout(join(upper, 'bin/ls'));
  fs.mkdirSync(join(upper, 'opq'));
  lsetxattr(join(upper, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  fs.writeFileSync(join(upper, 'opq/new'), 'n');
  fs.mkdirSync(join(upper, 'etc'));
  fs.writeFileSync(join(upper, 'etc/passwd'), 'root2');
  fs.writeFileSync(join(upper, 'etc/hosts'), ''); // a mount target runc made: not a change
  fs.writeFileSync(join(upper, 'added'), 'a');
  return { base, lower, upper };
}

test('changes: deletions, opaque directories, modifications, additions and their parents', () => {
  const { base, lower, upper } = layers();
  try {
    const got = changes(upper, [lower]).map((c) => `${c.Kind} ${c.Path}`);
    assert.deepEqual(got, ['1 /added', '0 /bin', '2 /bin/ls', '0 /etc/passwd', '2 /opq', '1 /opq/new']);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('layerTar turns whiteouts and opaque dirs into .wh. entries and skips mount targets', async () => {
  const { base, lower, upper } = layers();
  try {
    const chunks: Buffer[] = [];
    for await (const c of layerTar(upper, [lower])) chunks.push(c);
    const list = execFileSync('tar', ['-t'], { input: Buffer.concat(chunks) }).toString().split('\n').filter(Boolean).sort();
    assert.deepEqual(list, ['./added', './bin/', './bin/.wh.ls', './etc/', './etc/passwd', './opq/', './opq/.wh..wh..opq', './opq/new']);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
