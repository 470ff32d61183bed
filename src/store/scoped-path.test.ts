import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../errors';
import { readFileInRoot, resolveInRoot } from './scoped-path';

const tmpRoots: string[] = [];
after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh root directory (realpath'd so comparisons are exact). */
function newRoot(): string {
  const d = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), 'berth-scoped-')));
  tmpRoots.push(d);
  return d;
}

function file(root: string, path: string, content: string): void {
  fs.mkdirSync(join(root, path, '..'), { recursive: true });
  fs.writeFileSync(join(root, path), content);
}

function link(root: string, path: string, target: string): void {
  fs.mkdirSync(join(root, path, '..'), { recursive: true });
  fs.symlinkSync(target, join(root, path));
}

describe('resolveInRoot', () => {
  it('maps plain paths under the root, ignoring "." and repeated slashes', () => {
    const root = newRoot();
    file(root, 'etc/passwd', 'x');
    assert.equal(resolveInRoot(root, '/etc/passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, 'etc//./passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/'), root);
    assert.equal(resolveInRoot(root, ''), root);
  });

  it('never lets ".." climb above the root', () => {
    const root = newRoot();
    assert.equal(resolveInRoot(root, '../../etc/passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/a/../../../../etc/shadow'), join(root, 'etc/shadow'));
    assert.equal(resolveInRoot(root, '/..'), root);
  });

  it('handles ".." inside the root normally', () => {
    const root = newRoot();
    fs.mkdirSync(join(root, 'a/b'), { recursive: true });
    assert.equal(resolveInRoot(root, '/a/b/../c'), join(root, 'a/c'));
  });

  it('follows relative symlinks inside the root', () => {
    const root = newRoot();
    file(root, 'usr/lib/os-release', 'x');
    link(root, 'etc/os-release', '../usr/lib/os-release');
    assert.equal(resolveInRoot(root, '/etc/os-release'), join(root, 'usr/lib/os-release'));
  });

  it('follows absolute symlinks relative to the root, not the host', () => {
    const root = newRoot();
    fs.mkdirSync(join(root, 'usr/bin'), { recursive: true });
    link(root, 'bin', '/usr/bin');
    assert.equal(resolveInRoot(root, '/bin/sh'), join(root, 'usr/bin/sh'));
  });

  it('follows symlinked directories in the middle of the path', () => {
    const root = newRoot();
    file(root, 'real/dir/f', 'x');
    link(root, 'alias', 'real/dir');
    assert.equal(resolveInRoot(root, '/alias/f'), join(root, 'real/dir/f'));
    // ".." after a symlinked directory goes to the parent of the target, as the kernel does.
    assert.equal(resolveInRoot(root, '/alias/../other'), join(root, 'real/other'));
  });

  it('follows chains of symlinks', () => {
    const root = newRoot();
    file(root, 'target', 'x');
    link(root, 'l1', 'l2');
    link(root, 'l2', '/l3');
    link(root, 'l3', './target');
    assert.equal(resolveInRoot(root, '/l1'), join(root, 'target'));
  });

  it('keeps absolute symlinks to "/" or "/etc" inside the root', () => {
    const root = newRoot();
    link(root, 'slash', '/');
    link(root, 'etclink', '/etc');
    assert.equal(resolveInRoot(root, '/slash'), root);
    assert.equal(resolveInRoot(root, '/slash/etc/passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/etclink/passwd'), join(root, 'etc/passwd'));
  });

  it('keeps symlinks that climb with ".." inside the root', () => {
    const root = newRoot();
    link(root, 'a/b/up', '../../../../../../etc');
    assert.equal(resolveInRoot(root, '/a/b/up/passwd'), join(root, 'etc/passwd'));
  });

  it('appends components that do not exist yet', () => {
    const root = newRoot();
    fs.mkdirSync(join(root, 'var'));
    link(root, 'run', '/var/run');
    assert.equal(resolveInRoot(root, '/var/lib/new/file'), join(root, 'var/lib/new/file'));
    // A dangling link is still followed: /run → /var/run, which does not exist.
    assert.equal(resolveInRoot(root, '/run/x.sock'), join(root, 'var/run/x.sock'));
  });

  it('throws on symlink loops', () => {
    const root = newRoot();
    link(root, 'a', 'b');
    link(root, 'b', '/a');
    link(root, 'self', 'self');
    for (const p of ['/a', '/self/x']) {
      assert.throws(
        () => resolveInRoot(root, p),
        (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && e.message === `too many levels of symbolic links resolving ${p}`,
      );
    }
  });
});

describe('readFileInRoot', () => {
  it('reads a regular file', () => {
    const root = newRoot();
    file(root, 'etc/hostname', 'box\n');
    assert.equal(readFileInRoot(root, '/etc/hostname'), 'box\n');
  });

  it('reads the root\'s file when a symlink points at a host absolute path', () => {
    const host = newRoot();
    fs.writeFileSync(join(host, 'secret'), 'HOST CONTENT');
    const root = newRoot();
    // Same absolute path as the host file, but inside the root.
    file(root, join(host, 'secret'), 'root content');
    link(root, 'etc/passwd', join(host, 'secret'));
    assert.equal(readFileInRoot(root, '/etc/passwd'), 'root content');
  });

  it('does not read the host file even when the root has no copy', () => {
    const host = newRoot();
    fs.writeFileSync(join(host, 'secret'), 'HOST CONTENT');
    const root = newRoot();
    link(root, 'etc/passwd', join(host, 'secret'));
    assert.equal(readFileInRoot(root, '/etc/passwd'), undefined);
  });

  it('does not follow ".." out of the root', () => {
    const host = newRoot();
    const root = join(host, 'rootfs');
    fs.mkdirSync(root);
    fs.writeFileSync(join(host, 'outside'), 'HOST CONTENT');
    assert.equal(readFileInRoot(root, '../outside'), undefined);
    link(root, 'escape', '../outside');
    assert.equal(readFileInRoot(root, '/escape'), undefined);
    file(root, 'outside', 'inside');
    assert.equal(readFileInRoot(root, '/escape'), 'inside');
  });

  it('returns undefined for directories and missing files', () => {
    const root = newRoot();
    fs.mkdirSync(join(root, 'etc'));
    assert.equal(readFileInRoot(root, '/etc'), undefined);
    assert.equal(readFileInRoot(root, '/etc/missing'), undefined);
    assert.equal(readFileInRoot(root, '/no/such/dir/file'), undefined);
  });

  it('returns undefined for files above the size cap', () => {
    const root = newRoot();
    file(root, 'big', 'x'.repeat(100));
    assert.equal(readFileInRoot(root, '/big', 99), undefined);
    assert.equal(readFileInRoot(root, '/big', 100), 'x'.repeat(100));
  });
});
