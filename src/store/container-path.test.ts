import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { goFileMode, goTimeNs, resolveContainerPath, statContainerPath } from './container-path';

function rootfs(): string {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'cpath-'));
  fs.mkdirSync(join(root, 'etc'));
  fs.writeFileSync(join(root, 'etc/shadow'), 'container\n');
  fs.symlinkSync('/etc/shadow', join(root, 'leak'));
  fs.symlinkSync('../../../../..', join(root, 'up'));
  return root;
}

test('the last component is not followed; a trailing slash follows it inside the root', () => {
  const root = rootfs();
  try {
    const leak = resolveContainerPath(root, '/leak');
    assert.equal(leak.host, join(root, 'leak'));
    const st = statContainerPath(root, leak);
    assert.equal(st.linkTarget, '/etc/shadow');
    assert.equal(st.mode, 2 ** 27 + 0o777);
    const followed = resolveContainerPath(root, '/leak/');
    assert.equal(followed.host, join(root, 'etc/shadow'));
    assert.equal(followed.name, 'leak');
    assert.equal(resolveContainerPath(root, '/up/etc/shadow').host, join(root, 'etc/shadow'));
    assert.equal(resolveContainerPath(root, 'etc/.').name, '.');
    assert.equal(resolveContainerPath(root, '/').host, root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('Go FileMode bits and RFC3339Nano times', () => {
  assert.equal(goFileMode(0o040755), 2 ** 31 + 0o755);
  assert.equal(goFileMode(0o100644), 0o644);
  assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
  assert.equal(goFileMode(0o020666), 2 ** 26 + 2 ** 21 + 0o666);
  assert.equal(goTimeNs(1_700_000_000_120_000_000n), '2023-11-14T22:13:20.12Z');
  assert.equal(goTimeNs(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
});
