import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeDaemon } from '../fake-daemon';
import { parseFlags } from '../flags';
import { filtersQuery, goTimeString, networkCommands, networkConnectBody, networkCreateBody, networkRow } from './network';

const flagsOf = (name: string, argv: string[]) => parseFlags(argv, networkCommands.find((c) => c.name === name)!.flags);

describe('network create body', () => {
  it('is network.CreateRequest with the IPAM config grouped per subnet', () => {
    const f = flagsOf('network create', [
      '--subnet', '10.1.0.0/16,2001:db8::/64', '--gateway', '10.1.0.1', '--ip-range', '10.1.2.0/24', '--aux-address', 'host1=10.1.0.5',
      '--label', 'a=b', '--label', 'flag', '-o', 'com.docker.network.bridge.name=br9', '--internal', '--ipv6', 'n1',
    ]);
    const body = networkCreateBody('n1', f);
    assert.deepEqual(body, {
      Driver: 'bridge', Scope: '', EnableIPv6: true,
      IPAM: {
        Driver: 'default', Options: {},
        Config: [{ Subnet: '10.1.0.0/16', IPRange: '10.1.2.0/24', Gateway: '10.1.0.1', AuxiliaryAddresses: { host1: '10.1.0.5' } }, { Subnet: '2001:db8::/64' }],
      },
      Internal: true, Attachable: false, Ingress: false, ConfigOnly: false, ConfigFrom: null,
      Options: { 'com.docker.network.bridge.name': 'br9' }, Labels: { a: 'b', flag: '' }, Name: 'n1',
    });
    assert.deepEqual(Object.keys(body), ['Driver', 'Scope', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigOnly', 'ConfigFrom', 'Options', 'Labels', 'Name']);
  });

  it('sends EnableIPv4/EnableIPv6 only when given, and the defaults otherwise', () => {
    const body = networkCreateBody('n', flagsOf('network create', ['-d', 'macvlan', '--ipv4=false', '--attachable']));
    assert.equal(body.EnableIPv4, false);
    assert.equal('EnableIPv6' in body, false);
    assert.equal(body.Driver, 'macvlan');
    assert.equal(body.Attachable, true);
    assert.deepEqual(body.IPAM, { Driver: 'default', Options: {}, Config: [] });
  });

  it('refuses a gateway outside every subnet', () => {
    assert.throws(() => networkCreateBody('n', flagsOf('network create', ['--subnet', '10.0.0.0/24', '--gateway', '10.9.0.1'])), { message: 'no matching subnet for gateway 10.9.0.1' });
  });
});

describe('network connect body', () => {
  it('is network.ConnectOptions with the full EndpointSettings', () => {
    const body = networkConnectBody('web', flagsOf('network connect', ['--alias', 'a1,a2', '--ip', '10.0.0.7', '--link', 'db:d', 'n', 'web']));
    assert.deepEqual(body, {
      Container: 'web',
      EndpointConfig: {
        IPAMConfig: { IPv4Address: '10.0.0.7' }, Links: ['db:d'], Aliases: ['a1', 'a2'], MacAddress: '', DriverOpts: {}, GwPriority: 0,
        NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
      },
    });
    const bare = networkConnectBody('web', flagsOf('network connect', ['n', 'web']));
    assert.deepEqual([bare.EndpointConfig.IPAMConfig, bare.EndpointConfig.Aliases, bare.EndpointConfig.Links], [{}, [], null]);
  });
});

describe('network helpers', () => {
  it('writes filters as the docker client does', () => {
    assert.equal(filtersQuery(['driver=bridge', 'Name = a', 'name=b']), '{"driver":{"bridge":true},"name":{"a":true,"b":true}}');
    assert.equal(filtersQuery([]), undefined);
    assert.throws(() => filtersQuery(['nope']), { message: 'invalid argument "nope" for "-f, --filter" flag: bad format of filter (expected name=value)' });
  });

  it('rows carry docker\'s fields; CreatedAt is Go\'s time.String', () => {
    const row = networkRow({ Name: 'n', Id: 'f'.repeat(64), Created: '2025-01-02T03:04:05.120Z', Driver: 'bridge', Scope: 'local', Labels: { a: 'b' } }, true);
    assert.equal(row.ID, 'ffffffffffff');
    assert.equal(row.CreatedAt, '2025-01-02 03:04:05.12 +0000 UTC');
    assert.equal(row.Label('a'), 'b');
    assert.equal(row.Internal, 'false');
    assert.equal(goTimeString('2025-01-02T03:04:05+01:00'), '2025-01-02 03:04:05 +0100 +0100');
  });
});

// ---------------------------------------------------------------- the commands against a fake daemon

const fake = new FakeDaemon();
before(() => fake.start());
after(() => fake.stop());
const berth = (argv: string[], stdin = '') => fake.berth(argv, stdin);

const NETS = [
  { Name: 'bridge', Id: 'b'.repeat(64), Driver: 'bridge', Scope: 'local' },
  { Name: 'net10', Id: 'a'.repeat(64), Driver: 'bridge', Scope: 'local' },
  { Name: 'net2', Id: 'c'.repeat(64), Driver: 'bridge', Scope: 'local' },
];

describe('network commands', () => {
  it('create posts the body and prints the id', async () => {
    fake.reply = (s) => (s.url === '/networks/create' ? { status: 201, body: { Id: 'abc123', Warning: '' } } : undefined);
    const r = await berth(['network', 'create', '--subnet', '10.5.0.0/24', 'n1']);
    assert.deepEqual([r.code, r.out, r.err], [0, 'abc123\n', '']);
    assert.equal(fake.seen[0]!.method, 'POST');
    assert.deepEqual((fake.seen[0]!.body as { IPAM: unknown }).IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '10.5.0.0/24' }] });
    const bad = await berth(['network', 'create', '--ip-range', '10.0.0.0/24', 'n1']);
    assert.deepEqual([bad.code, bad.err, fake.seen.length], [1, 'every ip-range or gateway must have a corresponding subnet\n', 0]);
  });

  it('ls prints docker\'s table, sorted naturally; -q prints ids; --filter goes in docker\'s form', async () => {
    fake.reply = (s) => (s.url.startsWith('/networks') ? { status: 200, body: [...NETS].reverse() } : undefined);
    const r = await berth(['network', 'ls']);
    assert.equal(r.out, [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      'bbbbbbbbbbbb   bridge    bridge    local',
      'cccccccccccc   net2      bridge    local',
      'aaaaaaaaaaaa   net10     bridge    local',
      '',
    ].join('\n'));
    assert.equal((await berth(['network', 'ls', '-q', '--no-trunc'])).out, `${'b'.repeat(64)}\n${'c'.repeat(64)}\n${'a'.repeat(64)}\n`);
    assert.equal((await berth(['network', 'ls', '--format', '{{.Name}}:{{.IPv6}}'])).out, 'bridge:false\nnet2:false\nnet10:false\n');
    await berth(['network', 'list', '-f', 'driver=bridge']);
    assert.equal(fake.seen[0]!.url, `/networks?filters=${encodeURIComponent('{"driver":{"bridge":true}}')}`);
  });

  it('inspect prints a 4-space JSON array, then each error; exit 1 if any failed', async () => {
    fake.reply = (s) => (s.url === '/networks/n1' ? { status: 200, body: { Name: 'n1', Id: 'x', IPAM: { Config: [] } } } : { status: 404, body: { message: `network ${s.url.split('/')[2]} not found` } });
    const r = await berth(['network', 'inspect', 'n1', 'nope']);
    assert.equal(r.out, '[\n    {\n        "Name": "n1",\n        "Id": "x",\n        "IPAM": {\n            "Config": []\n        }\n    }\n]\n');
    assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: network nope not found\n']);
    const none = await berth(['network', 'inspect', 'nope']);
    assert.deepEqual([none.code, none.out], [1, '[]\n']);
    assert.deepEqual(await berth(['network', 'inspect', '-f', '{{.Name}}', 'n1']), { code: 0, out: 'n1\n', err: '' });
  });

  it('rm prints each name removed; -f hides only "not found"', async () => {
    fake.reply = (s) => (s.url === '/networks/n1' ? { status: 204 } : s.url === '/networks/busy' ? { status: 403, body: { message: 'error while removing network: network busy has active endpoints' } } : { status: 404, body: { message: 'network gone not found' } });
    const r = await berth(['network', 'rm', 'n1', 'gone', 'busy']);
    assert.deepEqual(r, { code: 1, out: 'n1\n', err: 'Error response from daemon: network gone not found\nError response from daemon: error while removing network: network busy has active endpoints\n' });
    assert.deepEqual(await berth(['network', 'remove', '-f', 'n1', 'gone']), { code: 0, out: 'n1\n', err: '' });
  });

  it('connect and disconnect post docker\'s bodies', async () => {
    fake.reply = () => ({ status: 200 });
    assert.equal((await berth(['network', 'connect', '--alias', 'a', '--ip', '10.0.0.3', 'n1', 'web'])).code, 0);
    assert.equal(fake.seen[0]!.url, '/networks/n1/connect');
    const ep = (fake.seen[0]!.body as { Container: string; EndpointConfig: { IPAMConfig: unknown; Aliases: unknown } });
    assert.deepEqual([ep.Container, ep.EndpointConfig.IPAMConfig, ep.EndpointConfig.Aliases], ['web', { IPv4Address: '10.0.0.3' }, ['a']]);
    assert.equal((await berth(['network', 'disconnect', '-f', 'n1', 'web'])).code, 0);
    assert.deepEqual([fake.seen[0]!.url, fake.seen[0]!.body], ['/networks/n1/disconnect', { Container: 'web', Force: true }]);
    const bad = await berth(['network', 'connect', '--link', 'a:b:c', 'n1', 'web']);
    assert.deepEqual([bad.code, bad.err], [125, 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c\nSee \'berth network connect --help\'.\n']);
  });

  it('prune asks first, and only y or Y goes on', async () => {
    fake.reply = (s) => (s.url.startsWith('/networks/prune') ? { status: 200, body: { NetworksDeleted: ['n1', 'n2'] } } : undefined);
    const warning = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ';
    assert.deepEqual(await berth(['network', 'prune'], 'yes\n'), { code: 0, out: warning, err: '' });
    assert.equal(fake.seen.length, 0);
    assert.deepEqual(await berth(['network', 'prune'], ' Y \n'), { code: 0, out: `${warning}Deleted Networks:\nn1\nn2\n\n`, err: '' });
    assert.deepEqual(await berth(['network', 'prune', '-f', '--filter', 'until=24h']), { code: 0, out: 'Deleted Networks:\nn1\nn2\n\n', err: '' });
    assert.equal(fake.seen[0]!.url, `/networks/prune?filters=${encodeURIComponent('{"until":{"24h":true}}')}`);
  });
});

describe('port', () => {
  const ports = { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }], '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }], '53/udp': null };
  before(() => {
    fake.reply = (s) => (s.url === '/containers/web/json' ? { status: 200, body: { Id: 'x', NetworkSettings: { Ports: ports } } } : { status: 404, body: { message: 'No such container: nope' } });
  });

  it('lists every published port, sorted as docker sorts them', async () => {
    assert.deepEqual(await berth(['port', 'web']), { code: 0, out: '80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n443/tcp -> 127.0.0.1:8443\n', err: '' });
  });

  it('prints the host side of one port, tcp unless a protocol is given', async () => {
    assert.deepEqual(await berth(['container', 'port', 'web', '80']), { code: 0, out: '0.0.0.0:8080\n[::]:8080\n', err: '' });
    assert.deepEqual(await berth(['port', 'web', '81/tcp']), { code: 1, out: '', err: "Error: No public port '81/tcp' published for web\n" });
    assert.deepEqual(await berth(['port', 'web', '53/udp']), { code: 1, out: '', err: "Error: No public port '53/udp' published for web\n" });
    assert.deepEqual(await berth(['port', 'web', 'http']), { code: 1, out: '', err: 'Error: invalid port (http): strconv.ParseUint: parsing "http": invalid syntax\n' });
    assert.deepEqual(await berth(['port', 'nope']), { code: 1, out: '', err: 'Error response from daemon: No such container: nope\n' });
  });
});
