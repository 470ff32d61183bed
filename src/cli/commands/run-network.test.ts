import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagError, parseFlags } from '../flags';
import { createBody, runCommands } from './run';
import { csvRecord, endpointSettings, isMacAddress, parseNetworkOpt } from './run-network';

const createFlags = runCommands.find((c) => c.name === 'create')!.flags;
const body = (...argv: string[]) => {
  const flags = parseFlags([...argv, 'busybox'], createFlags, { interspersed: false });
  return createBody(flags, flags.args, false);
};
const empty = endpointSettings({});

describe('create body: ports', () => {
  it('sends PortBindings and ExposedPorts as docker does (keys sorted, as Go writes maps)', () => {
    const b = body('-p', '8080:80', '-p', '127.0.0.1:53:53/udp', '-p', '[::1]:8443:443', '--expose', '9000-9001', '-P');
    assert.deepEqual(b.ExposedPorts, { '443/tcp': {}, '53/udp': {}, '80/tcp': {}, '9000/tcp': {}, '9001/tcp': {} });
    assert.deepEqual(Object.keys(b.ExposedPorts!), ['443/tcp', '53/udp', '80/tcp', '9000/tcp', '9001/tcp']);
    assert.deepEqual(b.HostConfig.PortBindings, {
      '443/tcp': [{ HostIp: '::1', HostPort: '8443' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }],
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    });
    assert.equal(b.HostConfig.PublishAllPorts, true);
  });

  it('sends an empty PortBindings and no ExposedPorts without ports', () => {
    const b = body();
    assert.equal('ExposedPorts' in b, false);
    assert.deepEqual(b.HostConfig.PortBindings, {});
    assert.equal(b.HostConfig.PublishAllPorts, false);
    assert.equal(b.HostConfig.Links, null);
  });

  it('-p 80 publishes on an ephemeral host port', () => {
    assert.deepEqual(body('-p', '80').HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
    assert.deepEqual(body('-p', '0.0.0.0::80').HostConfig.PortBindings, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] });
  });

  it('refuses bad specs with nat\'s errors', () => {
    assert.throws(() => body('-p', 'x'), { message: 'invalid containerPort: x' });
    assert.throws(() => body('-p', '8000-8001:80-82'), { message: 'invalid ranges specified for container and host Ports: 80-82 and 8000-8001' });
    assert.throws(() => body('--expose', '80:80'), { message: 'invalid port format for --expose: 80:80' });
  });
});

describe('create body: networks', () => {
  it('without --network: NetworkMode "default" and a "default" endpoint, as docker 28 sends', () => {
    const b = body();
    assert.equal(b.HostConfig.NetworkMode, 'default');
    assert.deepEqual(b.NetworkingConfig, { EndpointsConfig: { default: empty } });
    assert.deepEqual(body('--ip', '172.17.0.9').NetworkingConfig.EndpointsConfig, {
      default: { ...empty, IPAMConfig: { IPv4Address: '172.17.0.9' } },
    });
  });

  it('a user network with options gets its endpoint; without options none', () => {
    const b = body('--network', 'mynet', '--network-alias', 'web', '--ip', '10.0.0.5', '--ip6', '2001:db8::5', '--mac-address', '92:d0:c6:0a:29:33', '--link', 'db:database');
    assert.equal(b.HostConfig.NetworkMode, 'mynet');
    assert.deepEqual(b.HostConfig.Links, ['db:database']);
    assert.deepEqual(b.NetworkingConfig.EndpointsConfig, {
      mynet: {
        ...empty, IPAMConfig: { IPv4Address: '10.0.0.5', IPv6Address: '2001:db8::5' }, Links: ['db:database'], Aliases: ['web'], MacAddress: '92:d0:c6:0a:29:33',
      },
    });
    assert.deepEqual(body('--network', 'mynet').NetworkingConfig.EndpointsConfig, {});
    assert.deepEqual(body('--net', 'host').NetworkingConfig.EndpointsConfig, {});
    assert.equal(body('--net', 'host').HostConfig.NetworkMode, 'host');
    assert.equal(body('--network', 'container:abc').HostConfig.NetworkMode, 'container:abc');
  });

  it('--link on the default bridge is a legacy link only', () => {
    const b = body('--link', 'db');
    assert.deepEqual(b.HostConfig.Links, ['db']);
    assert.deepEqual(b.NetworkingConfig.EndpointsConfig, { default: empty });
  });

  it('several networks each get an endpoint; the long syntax is read (and lowercased) as docker does', () => {
    assert.deepEqual(body('--network', 'a', '--network', 'b').NetworkingConfig.EndpointsConfig, { a: empty, b: empty });
    const b = body('--network', 'name=MyNet,alias=Web,ip=10.0.0.9,driver-opt=k=v,gw-priority=5');
    assert.equal(b.HostConfig.NetworkMode, 'mynet');
    assert.deepEqual(b.NetworkingConfig.EndpointsConfig, {
      mynet: { ...empty, IPAMConfig: { IPv4Address: '10.0.0.9' }, Aliases: ['web'], DriverOpts: { k: 'v' }, GwPriority: 5 },
    });
  });

  it("refuses what docker refuses, with docker's messages", () => {
    assert.throws(() => body('--network-alias', 'x'), { message: 'network-scoped aliases are only supported for user-defined networks' });
    assert.throws(() => body('--network', 'host', '--network', 'mynet'), { message: 'conflicting options: cannot attach both user-defined and non-user-defined network-modes' });
    assert.throws(() => body('--network', 'a', '--network', 'a'), { message: 'network "a" is specified multiple times' });
    assert.throws(() => body('--network', 'name=n,alias=a', '--network-alias', 'b'), { message: 'conflicting options: cannot specify both --network-alias and per-network alias' });
    assert.throws(() => body('--network', 'name=n,ip=10.0.0.1', '--ip', '10.0.0.2'), { message: 'conflicting options: cannot specify both --ip and per-network IPv4 address' });
    assert.throws(() => body('--mac-address', 'zz'), { message: 'zz is not a valid mac address' });
    assert.throws(() => body('--link', 'a:b:c'), (e) => e instanceof FlagError && e.message === 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c');
    assert.throws(() => body('--network', 'name=n,foo=bar'), (e) => e instanceof FlagError && e.message === 'invalid argument "name=n,foo=bar" for "--network" flag: invalid field key foo');
    assert.throws(() => body('--network', 'alias=x'), { message: 'invalid argument "alias=x" for "--network" flag: network name/id is not specified' });
  });
});

describe('flag value helpers', () => {
  it('csvRecord reads one record as Go\'s encoding/csv', () => {
    assert.deepEqual(csvRecord('a,b'), ['a', 'b']);
    assert.deepEqual(csvRecord('"a,b",c'), ['a,b', 'c']);
    assert.deepEqual(csvRecord('a,'), ['a', '']);
    assert.deepEqual(csvRecord('"say ""hi"""'), ['say "hi"']);
    assert.deepEqual(csvRecord(''), []);
    assert.throws(() => csvRecord('a"b'), { message: 'parse error on line 1, column 2: bare " in non-quoted-field' });
  });

  it('parseNetworkOpt keeps a plain name as is', () => {
    assert.equal(parseNetworkOpt('My-Net').target, 'My-Net');
    assert.equal(parseNetworkOpt('container:web').target, 'container:web');
  });

  it('isMacAddress follows net.ParseMAC', () => {
    assert.equal(isMacAddress('92:d0:c6:0a:29:33'), true);
    assert.equal(isMacAddress('92-D0-C6-0A-29-33'), true);
    assert.equal(isMacAddress('92d0.c60a.2933'), true);
    assert.equal(isMacAddress('92:d0:c6:0a:29'), false);
    assert.equal(isMacAddress('92:d0-c6:0a:29:33'), false);
  });
});
