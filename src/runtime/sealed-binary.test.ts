import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { sealedCopy } from './sealed-binary';

describe('sealedCopy', () => {
  it('runs as the original does and cannot be written, by anyone', () => {
    const path = sealedCopy('/bin/echo');
    assert.ok(path, 'memfds work on this kernel');
    assert.match(path, /^\/proc\/\d+\/fd\/\d+$/);
    assert.equal(execFileSync(path, ['sealed']).toString(), 'sealed\n');
    assert.equal(fs.readlinkSync(path), '/memfd:berth-runtime (deleted)');
    // F_SEAL_WRITE: even root gets EPERM; F_SEAL_SEAL keeps it that way.
    assert.throws(() => fs.writeFileSync(path, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EPERM');
    assert.equal(execFileSync(path, ['still']).toString(), 'still\n');
  });

  it('a binary that does not exist gives no copy', () => {
    assert.equal(sealedCopy('/no/such/binary'), undefined);
  });
});
