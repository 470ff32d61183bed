import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../errors';
import { resolveUser } from './user';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment line:x:1:1:c:/c:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'www:x:33:33:www-data:/var/www:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
  'broken-line',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'www:x:33:',
  'audio:x:29:alice,www',
  'video:x:44:bob,alice',
  'alice:x:1000:',
  'staff:x:50:',
  'wheel:x:10:root',
  '',
].join('\n');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A rootfs with etc/passwd and etc/group; null leaves the file out. */
function rootfs(passwd: string | null = PASSWD, group: string | null = GROUP): string {
  const d = fs.mkdtempSync(join(os.tmpdir(), 'berth-user-'));
  dirs.push(d);
  fs.mkdirSync(join(d, 'etc'));
  if (passwd !== null) fs.writeFileSync(join(d, 'etc/passwd'), passwd);
  if (group !== null) fs.writeFileSync(join(d, 'etc/group'), group);
  return d;
}

const invalid = (message: string) => (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && e.message === message;

describe('resolveUser', () => {
  const fsRoot = rootfs();

  it("'' is root: uid 0, gid 0, home from root's passwd entry, groups listing root", () => {
    assert.deepEqual(resolveUser(fsRoot, ''), { uid: 0, gid: 0, additionalGids: [10], home: '/root' });
  });

  it("'' without a passwd file is uid 0 gid 0 with home /", () => {
    assert.deepEqual(resolveUser(rootfs(null, null), ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
  });

  it('resolves a name to its uid, primary gid, home and supplementary groups', () => {
    assert.deepEqual(resolveUser(fsRoot, 'alice'), { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/alice' });
    assert.deepEqual(resolveUser(fsRoot, 'www'), { uid: 33, gid: 33, additionalGids: [29], home: '/var/www' });
  });

  it('resolves a numeric uid present in passwd like its name', () => {
    assert.deepEqual(resolveUser(fsRoot, '1000'), { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/alice' });
  });

  it('accepts a numeric uid with no passwd entry: gid 0, home /', () => {
    assert.deepEqual(resolveUser(fsRoot, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  });

  it('name:group takes the group from /etc/group and no supplementary groups', () => {
    assert.deepEqual(resolveUser(fsRoot, 'alice:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/alice' });
  });

  it('uid:gid needs no entries at all', () => {
    assert.deepEqual(resolveUser(fsRoot, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser(rootfs(null, null), '1:2'), { uid: 1, gid: 2, additionalGids: [], home: '/' });
  });

  it('name:gid and uid:groupname mix the forms', () => {
    assert.deepEqual(resolveUser(fsRoot, 'alice:7'), { uid: 1000, gid: 7, additionalGids: [], home: '/home/alice' });
    assert.deepEqual(resolveUser(fsRoot, '4242:audio'), { uid: 4242, gid: 29, additionalGids: [], home: '/' });
  });

  it('ignores comment lines and lines with too few fields', () => {
    assert.throws(() => resolveUser(fsRoot, '# a comment line'), invalid('unable to find user # a comment line: no matching entries in passwd file'));
    assert.throws(() => resolveUser(fsRoot, 'broken-line'), invalid('unable to find user broken-line: no matching entries in passwd file'));
  });

  it('fails for an unknown user name with runc\'s message', () => {
    assert.throws(() => resolveUser(fsRoot, 'bob'), invalid('unable to find user bob: no matching entries in passwd file'));
    assert.throws(() => resolveUser(rootfs(null, GROUP), 'alice'), invalid('unable to find user alice: no matching entries in passwd file'));
  });

  it('fails for an unknown group name with runc\'s message', () => {
    assert.throws(() => resolveUser(fsRoot, 'alice:nogroup'), invalid('unable to find group nogroup: no matching entries in group file'));
  });

  it('rejects ids above the 32-bit signed range', () => {
    assert.throws(() => resolveUser(fsRoot, '2147483648'), invalid('uids and gids must be in range 0-2147483647'));
    assert.throws(() => resolveUser(fsRoot, '0:2147483648'), invalid('uids and gids must be in range 0-2147483647'));
    assert.equal(resolveUser(fsRoot, '2147483647').uid, 2147483647);
  });

  it('groupAdd adds groups by name and by number, after the membership groups', () => {
    assert.deepEqual(resolveUser(fsRoot, 'alice', ['staff', '1234']).additionalGids, [29, 44, 50, 1234]);
    assert.deepEqual(resolveUser(fsRoot, '4242:4343', ['video']).additionalGids, [44]);
  });

  it('groupAdd does not repeat a group the user already has', () => {
    assert.deepEqual(resolveUser(fsRoot, 'alice', ['audio', '29']).additionalGids, [29, 44]);
  });

  it('groupAdd with an unknown group name fails', () => {
    assert.throws(() => resolveUser(fsRoot, 'alice', ['nosuch']), (e: unknown) => e instanceof BerthError && /find group nosuch/i.test(e.message));
  });

  it('reads passwd and group through a symlink pointing outside: the rootfs copy, never the host file', () => {
    const host = fs.mkdtempSync(join(os.tmpdir(), 'berth-user-host-'));
    dirs.push(host);
    fs.writeFileSync(join(host, 'passwd'), 'root:x:0:0:root:/HOST-ROOT:/bin/sh\nbob:x:666:666::/HOST-BOB:/bin/sh\n');
    fs.writeFileSync(join(host, 'group'), 'evil:x:666:alice\n');
    const r = rootfs(null, null);
    // The rootfs holds its own files at the same absolute paths the links name.
    fs.mkdirSync(join(r, host), { recursive: true });
    fs.writeFileSync(join(r, host, 'passwd'), PASSWD);
    fs.writeFileSync(join(r, host, 'group'), GROUP);
    fs.symlinkSync(join(host, 'passwd'), join(r, 'etc/passwd'));
    fs.symlinkSync(join(host, 'group'), join(r, 'etc/group'));
    assert.deepEqual(resolveUser(r, 'alice'), { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/alice' });
    assert.equal(resolveUser(r, '').home, '/root');
    assert.throws(() => resolveUser(r, 'bob'), invalid('unable to find user bob: no matching entries in passwd file'));
  });

  it('a passwd symlink to a host file with no rootfs copy finds nothing', () => {
    const host = fs.mkdtempSync(join(os.tmpdir(), 'berth-user-host-'));
    dirs.push(host);
    fs.writeFileSync(join(host, 'passwd'), 'bob:x:666:666::/HOST-BOB:/bin/sh\n');
    const r = rootfs(null, GROUP);
    fs.symlinkSync(join(host, 'passwd'), join(r, 'etc/passwd'));
    assert.throws(() => resolveUser(r, 'bob'), invalid('unable to find user bob: no matching entries in passwd file'));
  });
});
