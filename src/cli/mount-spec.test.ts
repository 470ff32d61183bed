import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagError } from './flags';
import { parseMount, parseMounts, parseVolumeSpec, volumeBinds } from './mount-spec';

describe('-v specs (volumespec.Parse)', () => {
  it('reads anonymous volumes, named volumes and bind mounts', () => {
    assert.deepEqual(parseVolumeSpec('/data'), { type: 'volume', source: '', target: '/data', readOnly: false });
    assert.deepEqual(parseVolumeSpec('ab'), { type: 'volume', source: '', target: 'ab', readOnly: false });
    assert.deepEqual(parseVolumeSpec('name:/dst:nocopy'), { type: 'volume', source: 'name', target: '/dst', readOnly: false, noCopy: true });
    assert.deepEqual(parseVolumeSpec('/a:/b:ro,z'), { type: 'bind', source: '/a', target: '/b', readOnly: true });
    assert.deepEqual(parseVolumeSpec('/a:/b:rw,rshared'), { type: 'bind', source: '/a', target: '/b', readOnly: false, propagation: 'rshared' });
    // A relative host path is a volume name unless it starts with ".", "/" or "~".
    assert.equal(parseVolumeSpec('data:/x').type, 'volume');
    assert.equal(parseVolumeSpec('./data:/x').type, 'bind');
    assert.equal(parseVolumeSpec('~/data:/x').type, 'bind');
    // The second part is the target even when it looks like options: the daemon refuses it.
    assert.deepEqual(parseVolumeSpec('/a:ro'), { type: 'bind', source: '/a', target: 'ro', readOnly: false });
  });

  it('keeps a drive letter\'s colon in the path', () => {
    assert.deepEqual(parseVolumeSpec('c:/foo'), { type: 'volume', source: '', target: 'c:/foo', readOnly: false });
    assert.equal(parseVolumeSpec('c:\\foo:/dst').type, 'bind');
  });

  it('refuses bad colons with docker\'s errors', () => {
    assert.throws(() => parseVolumeSpec(''), { message: 'invalid empty volume spec' });
    assert.throws(() => parseVolumeSpec('/a:'), { message: 'invalid spec: /a:: empty section between colons' });
    assert.throws(() => parseVolumeSpec(':/b'), { message: 'invalid spec: :/b: empty section between colons' });
    assert.throws(() => parseVolumeSpec('/a::/b'), { message: 'invalid spec: /a::/b: empty section between colons' });
    assert.throws(() => parseVolumeSpec('/a:/b:ro:x'), { message: 'invalid spec: /a:/b:ro:x: too many colons' });
  });

  it('splits specs into Binds and Config.Volumes; "./" host paths become absolute', () => {
    const r = volumeBinds(['/a:/b:ro,z', './rel:/x', '/z', 'v:/d:nocopy', '/data', '/z', '..:/up'], '/home/u');
    assert.deepEqual(r.binds, ['/a:/b:ro,z', '/home/u/rel:/x', 'v:/d:nocopy', '/home:/up']);
    assert.deepEqual(r.volumes, { '/data': {}, '/z': {} });
    assert.deepEqual(Object.keys(r.volumes), ['/data', '/z']);
    assert.deepEqual(volumeBinds([]), { binds: [], volumes: {} });
  });
});

describe('--mount (opts.MountOpt)', () => {
  it('reads docker\'s keys and aliases into mount.Mount, empty fields left out', () => {
    assert.deepEqual(parseMount('type=volume,source=x,target=/p,readonly,volume-nocopy,volume-opt=k=v,volume-opt=type=nfs'), {
      Type: 'volume', Source: 'x', Target: '/p', ReadOnly: true,
      VolumeOptions: { NoCopy: true, DriverConfig: { Options: { k: 'v', type: 'nfs' } } },
    });
    assert.deepEqual(parseMount('Type=BIND,src=./d,dst=/p,bind-propagation=RShared,ro=false,consistency=Cached', '/srv'), {
      Type: 'bind', Source: '/srv/d', Target: '/p', Consistency: 'cached', BindOptions: { Propagation: 'rshared' },
    });
    assert.deepEqual(parseMount('type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770'), {
      Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 },
    });
    assert.deepEqual(parseMount('target=/p'), { Type: 'volume', Target: '/p' });
    assert.deepEqual(parseMount('target=/p,volume-label=a=b,volume-label==x,volume-driver=d,volume-subpath=s,ro=1'), {
      Type: 'volume', Target: '/p', ReadOnly: true, VolumeOptions: { Labels: { a: 'b' }, Subpath: 's', DriverConfig: { Name: 'd' } },
    });
    assert.deepEqual(parseMount('type=bind,src=/a,target=/x,bind-recursive=readonly,readonly,bind-propagation=rprivate'), {
      Type: 'bind', Source: '/a', Target: '/x', ReadOnly: true, BindOptions: { Propagation: 'rprivate', ReadOnlyForceRecursive: true },
    });
    assert.deepEqual(parseMount('type=bind,src=/a,target=/x,bind-nonrecursive').BindOptions, { NonRecursive: true });
    assert.deepEqual(parseMount('type=image,source=busybox,target=/i,image-subpath=bin').ImageOptions, { Subpath: 'bin' });
    assert.deepEqual(parseMount('"type=bind","source=/a,b",target=/x').Source, '/a,b');
    // An empty driver config is still a (pointer) struct: Go sends {}.
    assert.deepEqual(parseMount('target=/p,volume-nocopy=false').VolumeOptions, { DriverConfig: {} });
  });

  it('refuses bad values as pflag reports them for "--mount"', () => {
    const bad = (value: string, why: string) =>
      assert.throws(() => parseMounts([value]), (e: unknown) => e instanceof FlagError && e.message === `invalid argument ${JSON.stringify(value)} for "--mount" flag: ${why}`);
    bad('', 'EOF');
    bad('x', "invalid field 'x' must be a key=value pair");
    bad('type=volume', 'target is required');
    bad('type=,target=/x', 'type is required');
    bad('foo=bar,target=/x', "unexpected key 'foo' in 'foo=bar'");
    bad('Foo=bar', "unexpected key 'foo' in 'Foo=bar'");
    bad('ro=maybe,target=/x', 'invalid value for ro: maybe');
    bad('target=/x,volume-nocopy=2', 'invalid value for volume-nocopy: 2');
    bad('type=tmpfs,target=/t,tmpfs-mode=9', 'invalid value for tmpfs-mode: 9');
    bad('type=tmpfs,target=/t,tmpfs-size=lots', 'invalid value for tmpfs-size: lots');
    bad('type=bind,target=/x,volume-nocopy', "cannot mix 'volume-*' options with mount type 'bind'");
    bad('type=volume,target=/x,bind-propagation=shared', "cannot mix 'bind-*' options with mount type 'volume'");
    bad('target=/x,tmpfs-size=1m', "cannot mix 'tmpfs-*' options with mount type 'volume'");
    bad('target=/x,image-subpath=a', "cannot mix 'image-*' options with mount type 'volume'");
    bad('type=bind,target=/x,bind-recursive=nope', 'invalid value for bind-recursive: nope (must be "enabled", "disabled", "writable", or "readonly")');
    bad('type=bind,target=/x,bind-recursive=writable', "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
    bad('type=bind,target=/x,bind-recursive=readonly,ro', "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
    bad('type=volume,"target=/a', 'parse error on line 1, column 23: extraneous or missing " in quoted-field');
  });
});
