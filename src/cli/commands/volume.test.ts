import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeDaemon } from '../fake-daemon';
import { parseFlags } from '../flags';
import { createBody, runCommands } from './run';
import { pruneFilters, volumeCommands, volumeCreateBody, volumeRow, volumeView } from './volume';

const flagsOf = (name: string, argv: string[]) => parseFlags(argv, volumeCommands.find((c) => c.name === name)!.flags);

describe('volume create body', () => {
  it('is volume.CreateOptions with Go\'s omitempty', () => {
    assert.deepEqual(volumeCreateBody('', flagsOf('volume create', [])), { Driver: 'local' });
    const body = volumeCreateBody('v1', flagsOf('volume create', ['-d', 'nfs', '-o', 'type=nfs', '-o', 'o=addr=10.0.0.1', '-o', 'flag', '--label', 'a=b', '--label', 'c']));
    assert.deepEqual(body, { Driver: 'nfs', DriverOpts: { type: 'nfs', o: 'addr=10.0.0.1', flag: '' }, Labels: { a: 'b', c: '' }, Name: 'v1' });
    assert.deepEqual(Object.keys(body), ['Driver', 'DriverOpts', 'Labels', 'Name']);
  });
});

describe('volume helpers', () => {
  it('rows carry docker\'s volumeContext fields', () => {
    const row = volumeRow({ Name: 'v', Driver: 'local', Labels: { 'com.x': 'y' }, Mountpoint: '/m', Options: null, Scope: 'local', UsageData: { RefCount: 2, Size: 2000 } });
    assert.deepEqual({ ...row, Label: undefined }, {
      Availability: 'N/A', Driver: 'local', Group: 'N/A', Labels: 'com.x=y', Links: '2', Mountpoint: '/m', Name: 'v', Scope: 'local', Size: '2kB', Status: 'N/A', Label: undefined,
    });
    assert.equal(row.Label('com.x'), 'y');
    assert.equal(volumeRow({ Name: 'v', Driver: 'local', Labels: null, Mountpoint: '', Options: null, Scope: 'local' }).Size, 'N/A');
  });

  it('shows a volume as volume.Volume re-encoded: Go\'s field order, zero values, sorted maps', () => {
    const v = volumeView({ Scope: 'local', Name: 'v', Labels: { b: '1', a: '2' }, CreatedAt: '2025-01-01T00:00:00Z', Driver: 'local' } as never);
    assert.deepEqual(Object.keys(v), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual([Object.keys(v.Labels!), v.Options, v.Mountpoint], [['a', 'b'], null, '']);
  });

  it('prune filters: --all adds all=true; keys sorted as Go writes them', () => {
    assert.equal(pruneFilters([], false), undefined);
    assert.equal(pruneFilters([], true), '{"all":{"true":true}}');
    assert.equal(pruneFilters(['label=b', 'label=a'], true), '{"all":{"true":true},"label":{"a":true,"b":true}}');
    assert.throws(() => pruneFilters(['all=1'], true), { message: 'conflicting options: cannot specify both --all and --filter all=1' });
    assert.equal(pruneFilters(['all=1'], false), '{"all":{"1":true}}');
  });
});

describe('run/create body: volumes', () => {
  const createFlags = runCommands.find((c) => c.name === 'create')!.flags;
  const body = (...argv: string[]) => {
    const flags = parseFlags([...argv, 'busybox'], createFlags, { interspersed: false });
    return createBody(flags, flags.args, false);
  };

  it('sends -v as Binds (named and bind) and anonymous ones as Config.Volumes', () => {
    const b = body('-v', '/host:/c:ro,z', '-v', 'named:/n:nocopy', '-v', '/anon', '--volume', `./rel:/r`);
    assert.deepEqual(b.HostConfig.Binds, ['/host:/c:ro,z', 'named:/n:nocopy', `${process.cwd()}/rel:/r`]);
    assert.deepEqual(b.Volumes, { '/anon': {} });
  });

  it('sends --mount as HostConfig.Mounts, --volumes-from and --volume-driver as given', () => {
    const b = body('--mount', 'type=volume,src=data,dst=/d,volume-opt=size=1g', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m',
      '--volumes-from', 'other:ro', '--volumes-from', 'third', '--volume-driver', 'local');
    assert.deepEqual(b.HostConfig.Mounts, [
      { Type: 'volume', Source: 'data', Target: '/d', VolumeOptions: { DriverConfig: { Options: { size: '1g' } } } },
      { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576 } },
    ]);
    assert.deepEqual(b.HostConfig.VolumesFrom, ['other:ro', 'third']);
    assert.equal(b.HostConfig.VolumeDriver, 'local');
  });

  it('without them: Binds and VolumesFrom null, no Mounts, empty Volumes and VolumeDriver', () => {
    const b = body();
    assert.deepEqual([b.HostConfig.Binds, b.HostConfig.VolumesFrom, b.HostConfig.VolumeDriver, b.Volumes], [null, null, '', {}]);
    assert.equal('Mounts' in b.HostConfig, false);
  });
});

// ---------------------------------------------------------------- the commands against a fake daemon

const fake = new FakeDaemon();
before(() => fake.start());
after(() => fake.stop());
const berth = (argv: string[], stdin = '') => fake.berth(argv, stdin);

const vol = (Name: string, Driver = 'local') => ({ CreatedAt: '2025-01-02T03:04:05Z', Driver, Labels: null, Mountpoint: `/var/lib/berth/volumes/${Name}/_data`, Name, Options: null, Scope: 'local' });

describe('volume commands', () => {
  it('create posts the body and prints the name', async () => {
    fake.reply = (s) => (s.url === '/volumes/create' ? { status: 201, body: vol((s.body as { Name?: string }).Name ?? 'f'.repeat(64)) } : undefined);
    assert.deepEqual(await berth(['volume', 'create', '--label', 'a=b', 'v1']), { code: 0, out: 'v1\n', err: '' });
    assert.deepEqual([fake.seen[0]!.method, fake.seen[0]!.body], ['POST', { Driver: 'local', Labels: { a: 'b' }, Name: 'v1' }]);
    assert.deepEqual(await berth(['volume', 'create']), { code: 0, out: `${'f'.repeat(64)}\n`, err: '' });
    assert.deepEqual(fake.seen[0]!.body, { Driver: 'local' });
    assert.deepEqual((await berth(['volume', 'create', '--name', 'v2'])).out, 'v2\n');
    const both = await berth(['volume', 'create', '--name', 'v2', 'v3']);
    assert.deepEqual([both.code, both.err, fake.seen.length], [1, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg\n', 0]);
    const label = await berth(['volume', 'create', '--label', '=x']);
    assert.deepEqual([label.code, label.err], [125, 'invalid argument "=x" for "--label" flag: invalid label \'=x\': empty name\nSee \'berth volume create --help\'.\n']);
    const two = await berth(['volume', 'create', 'a', 'b']);
    assert.equal(two.code, 1);
    assert.match(two.err, /^"berth volume create" requires at most 1 argument\./);
  });

  it('ls prints docker\'s table sorted naturally; -q names; --filter in docker\'s form', async () => {
    fake.reply = (s) => (s.url.startsWith('/volumes') ? { status: 200, body: { Volumes: [vol('volume-10'), vol('b', 'nfs'), vol('volume-2')], Warnings: null } } : undefined);
    assert.deepEqual(await berth(['volume', 'ls']), {
      code: 0, err: '',
      out: 'DRIVER    VOLUME NAME\nnfs       b\nlocal     volume-2\nlocal     volume-10\n',
    });
    assert.equal((await berth(['volume', 'list', '-q'])).out, 'b\nvolume-2\nvolume-10\n');
    assert.equal((await berth(['volume', 'ls', '--format', '{{.Name}} {{.Mountpoint}} {{.Links}}'])).out.split('\n')[0], 'b /var/lib/berth/volumes/b/_data N/A');
    assert.equal((await berth(['volume', 'ls', '--format', 'raw', '-q'])).out, 'name: b\nname: volume-2\nname: volume-10\n');
    assert.equal((await berth(['volume', 'ls', '--format', 'json'])).out.split('\n')[0],
      '{"Availability":"N/A","Driver":"nfs","Group":"N/A","Labels":"","Links":"N/A","Mountpoint":"/var/lib/berth/volumes/b/_data","Name":"b","Scope":"local","Size":"N/A","Status":"N/A"}');
    await berth(['volume', 'ls', '-f', 'dangling=true', '--filter', 'driver=local']);
    assert.equal(fake.seen[0]!.url, `/volumes?filters=${encodeURIComponent('{"dangling":{"true":true},"driver":{"local":true}}')}`);
    fake.reply = () => ({ status: 200, body: { Volumes: null, Warnings: null } });
    assert.equal((await berth(['volume', 'ls'])).out, 'DRIVER    VOLUME NAME\n');
  });

  it('inspect prints a 4-space JSON array, then each error; exit 1 if any failed', async () => {
    fake.reply = (s) => (s.url === '/volumes/v1' ? { status: 200, body: { Name: 'v1', Driver: 'local', Scope: 'local', Mountpoint: '/m', Labels: { 'a&b': '<x>' }, Options: null, CreatedAt: '2025-01-02T03:04:05Z' } }
      : { status: 404, body: { message: `get ${decodeURIComponent(s.url.split('/')[2]!)}: no such volume` } });
    const r = await berth(['volume', 'inspect', 'v1', 'nope']);
    assert.equal(r.out, [
      '[', '    {', '        "CreatedAt": "2025-01-02T03:04:05Z",', '        "Driver": "local",', '        "Labels": {', '            "a\\u0026b": "\\u003cx\\u003e"', '        },',
      '        "Mountpoint": "/m",', '        "Name": "v1",', '        "Options": null,', '        "Scope": "local"', '    }', ']', '',
    ].join('\n'));
    assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: get nope: no such volume\n']);
    assert.deepEqual(await berth(['volume', 'inspect', 'nope']), { code: 1, out: '[]\n', err: 'Error response from daemon: get nope: no such volume\n' });
    assert.deepEqual(await berth(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'v1']), { code: 0, out: 'v1 local\n', err: '' });
    assert.deepEqual(await berth(['volume', 'inspect', '--format', '{{.Name}}', ' ']), { code: 1, out: '\n', err: 'invalid volume name or ID: value is empty\n' });
  });

  it('rm prints each name removed, then the errors; -f is sent as force=1', async () => {
    fake.reply = (s) => (s.url.startsWith('/volumes/v1') ? { status: 204 }
      : s.url.startsWith('/volumes/busy') ? { status: 409, body: { message: 'remove busy: volume is in use - [abc]' } }
      : { status: 404, body: { message: 'get gone: no such volume' } });
    const r = await berth(['volume', 'rm', 'v1', 'gone', 'busy']);
    assert.deepEqual(r, { code: 1, out: 'v1\n', err: 'Error response from daemon: get gone: no such volume\nError response from daemon: remove busy: volume is in use - [abc]\n' });
    assert.deepEqual(fake.seen.map((s) => `${s.method} ${s.url}`), ['DELETE /volumes/v1', 'DELETE /volumes/gone', 'DELETE /volumes/busy']);
    await berth(['volume', 'remove', '-f', 'v1']);
    assert.equal(fake.seen[0]!.url, '/volumes/v1?force=1');
  });

  it('prune asks first (its warning depends on --all) and reports what went', async () => {
    fake.reply = (s) => (s.url.startsWith('/volumes/prune') ? { status: 200, body: { VolumesDeleted: ['foo', 'bar'], SpaceReclaimed: 2000 } } : undefined);
    const anonymous = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ';
    const all = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ';
    assert.deepEqual(await berth(['volume', 'prune'], 'n\n'), { code: 0, out: anonymous, err: '' });
    assert.equal(fake.seen.length, 0);
    assert.deepEqual(await berth(['volume', 'prune'], 'y\n'), { code: 0, out: `${anonymous}Deleted Volumes:\nfoo\nbar\n\nTotal reclaimed space: 2kB\n`, err: '' });
    assert.deepEqual([fake.seen[0]!.method, fake.seen[0]!.url], ['POST', '/volumes/prune']);
    assert.equal((await berth(['volume', 'prune', '-a'], 'Y\n')).out.startsWith(all), true);
    assert.equal(fake.seen[0]!.url, `/volumes/prune?filters=${encodeURIComponent('{"all":{"true":true}}')}`);
    await berth(['volume', 'prune', '-f', '--filter', 'label=x', '--all']);
    assert.equal(fake.seen[0]!.url, `/volumes/prune?filters=${encodeURIComponent('{"all":{"true":true},"label":{"x":true}}')}`);
    const conflict = await berth(['volume', 'prune', '-a', '-f', '--filter', 'all=1']);
    assert.deepEqual([conflict.code, conflict.err, fake.seen.length], [1, 'conflicting options: cannot specify both --all and --filter all=1\n', 0]);
    fake.reply = () => ({ status: 200, body: { VolumesDeleted: null, SpaceReclaimed: 0 } });
    assert.deepEqual(await berth(['volume', 'prune', '-f']), { code: 0, out: 'Total reclaimed space: 0B\n', err: '' });
  });

  it('the volume group lists its commands', async () => {
    const r = await berth(['volume']);
    assert.match(r.out, /Manage volumes/);
    for (const c of ['create', 'inspect', 'ls', 'prune', 'rm']) assert.match(r.out, new RegExp(`\\n  ${c} `));
  });
});

describe('create with volumes against a fake daemon', () => {
  it('sends -v, --mount, --volumes-from and --volume-driver in the create body', async () => {
    fake.reply = (s) => (s.url.startsWith('/containers/create') ? { status: 201, body: { Id: 'c'.repeat(64), Warnings: [] } } : undefined);
    const r = await berth(['create', '-v', 'data:/data', '-v', '/cache', '--mount', 'type=bind,src=/srv,dst=/srv,readonly', '--volumes-from', 'db', '--volume-driver', 'local', 'busybox']);
    assert.deepEqual(r, { code: 0, out: `${'c'.repeat(64)}\n`, err: '' });
    const b = fake.seen[0]!.body as { Volumes: unknown; HostConfig: Record<string, unknown> };
    assert.deepEqual(b.Volumes, { '/cache': {} });
    assert.deepEqual([b.HostConfig.Binds, b.HostConfig.Mounts, b.HostConfig.VolumesFrom, b.HostConfig.VolumeDriver],
      [['data:/data'], [{ Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true }], ['db'], 'local']);
  });

  it('reports bad specs as docker does, before asking the daemon', async () => {
    const spec = await berth(['run', '-v', '/a::/b', 'busybox']);
    assert.deepEqual([spec.code, spec.err, fake.seen.length], [125, "berth: invalid spec: /a::/b: empty section between colons\n\nRun 'berth run --help' for more information\n", 0]);
    const mount = await berth(['create', '--mount', 'type=volume', 'busybox']);
    assert.deepEqual([mount.code, mount.err, fake.seen.length], [125, 'invalid argument "type=volume" for "--mount" flag: target is required\nSee \'berth create --help\'.\n', 0]);
  });
});
