import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { umount, MNT_DETACH } from '../store/syscalls';
import { ensureTmpfs } from './exec-root';

// /var/tmp: on disk almost everywhere (os.tmpdir() may itself be a tmpfs).
const scratch = fs.mkdtempSync(join('/var/tmp', 'berth-exec-root-'));
const mounted: string[] = [];
after(() => {
  for (const m of mounted) umount(m, MNT_DETACH);
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('ensureTmpfs', () => {
  it('mounts a tmpfs over an empty exec root once; later daemons keep it and what it holds', () => {
    const dir = join(scratch, 'fresh');
    fs.mkdirSync(join(dir, 'ctr'), { recursive: true });
    assert.equal(ensureTmpfs(dir), 'mounted');
    mounted.push(dir);
    assert.equal(fs.statfsSync(dir).type, 0x01021994);
    assert.equal(fs.statSync(dir).mode & 0o7777, 0o710);
    fs.writeFileSync(join(dir, 'state'), 'kept');
    assert.equal(ensureTmpfs(dir), 'tmpfs already');
    assert.equal(fs.readFileSync(join(dir, 'state'), 'utf8'), 'kept');
  });

  it('leaves a directory with state on disk alone (containers of an earlier daemon)', () => {
    const dir = join(scratch, 'used');
    fs.mkdirSync(join(dir, 'runc', 'abc'), { recursive: true });
    fs.writeFileSync(join(dir, 'runc', 'abc', 'state.json'), '{}');
    assert.equal(ensureTmpfs(dir), 'not empty');
    assert.notEqual(fs.statfsSync(dir).type, 0x01021994);
  });
});
