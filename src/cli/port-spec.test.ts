import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinHostPort, naturalCompare, parseExpose, parsePortSpec, parsePortSpecs, parsePortRange, standardNotation } from './port-spec';

const spec = (raw: string) => parsePortSpec(raw).map(({ port, binding }) => `${port} ${binding.HostIp}|${binding.HostPort}`);
const fails = (raw: string, message: string) => assert.throws(() => parsePortSpec(raw), { message });

describe('parsePortSpec (nat.ParsePortSpec)', () => {
  it('reads the forms docker documents', () => {
    assert.deepEqual(spec('80'), ['80/tcp |']);
    assert.deepEqual(spec('8080:80'), ['80/tcp |8080']);
    assert.deepEqual(spec('127.0.0.1:8080:80/udp'), ['80/udp 127.0.0.1|8080']);
    assert.deepEqual(spec('0.0.0.0::80'), ['80/tcp 0.0.0.0|']);
    assert.deepEqual(spec('[::1]:53:53/udp'), ['53/udp ::1|53']);
    assert.deepEqual(spec('[2001:4860:0:2001::68]::333'), ['333/tcp 2001:4860:0:2001::68|']);
    assert.deepEqual(spec('::1:80:80'), ['80/tcp ::1|80']); // unbracketed IPv6: the last two parts are the ports
    assert.deepEqual(spec('80/SCTP'), ['80/sctp |']);
    assert.deepEqual(spec('80/'), ['80/tcp |']);
  });

  it('expands ranges pairwise, and a host range for one port is the range to pick from', () => {
    assert.deepEqual(spec('8000-8001:80-81'), ['80/tcp |8000', '81/tcp |8001']);
    assert.deepEqual(spec('1234-1236/tcp'), ['1234/tcp |', '1235/tcp |', '1236/tcp |']);
    assert.deepEqual(spec('0.0.0.0:1234-1236:1234-1236/tcp'), ['1234/tcp 0.0.0.0|1234', '1235/tcp 0.0.0.0|1235', '1236/tcp 0.0.0.0|1236']);
    assert.deepEqual(spec('8000-8010:80'), ['80/tcp |8000-8010']);
  });

  it("fails with nat's messages", () => {
    fails('x', 'invalid containerPort: x');
    fails('1234:asdf/tcp', 'invalid containerPort: asdf');
    fails('asdf:1234/tcp', 'invalid hostPort: asdf');
    fails('70000', 'invalid containerPort: 70000');
    fails('90-80', 'invalid containerPort: 90-80');
    fails('1234/tcpx', 'invalid proto: tcpx');
    fails('8080:', 'invalid proto: '); // an empty container port fails as its protocol first
    fails('localhost:1234:1234/tcp', 'invalid IP address: localhost');
    fails('1234:1234:1234/tcp', 'invalid IP address: 1234');
    fails('8000-8001:80-82', 'invalid ranges specified for container and host Ports: 80-82 and 8000-8001');
    fails('0.0.0.0:1234:1234-1235/tcp', 'invalid ranges specified for container and host Ports: 1234-1235 and 1234');
    fails('[::1:80:80', "invalid IP address [::1: address [::1:: missing ']' in address");
    fails('[::1]x:80:80', 'invalid IP address [::1]x: address [::1]x:: missing port in address');
  });
});

describe('parsePortSpecs', () => {
  it('collects exposed ports and appends bindings per port', () => {
    const { exposed, bindings } = parsePortSpecs(['8080:80', '127.0.0.1:9090:80', '53/udp']);
    assert.deepEqual([...exposed], ['80/tcp', '53/udp']);
    assert.deepEqual(Object.fromEntries(bindings), {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '9090' }],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
  });

  it('accepts the service syntax as convertToStandardNotation does', () => {
    assert.equal(standardNotation('published=8080,target=80'), '8080:80/tcp');
    assert.equal(standardNotation('target=53,protocol=udp'), ':53/udp');
    assert.throws(() => standardNotation('target=80,bad'), { message: "invalid publish opts format (should be name=value but got 'bad')" });
  });
});

describe('ranges, expose, join, sort', () => {
  it('parsePortRange keeps strconv errors', () => {
    assert.deepEqual(parsePortRange('8000-8010'), [8000, 8010]);
    assert.deepEqual(parsePortRange('1-2-3'), [1, 2]);
    assert.throws(() => parsePortRange(''), { message: 'empty string specified for ports' });
    assert.throws(() => parsePortRange('+80'), { message: 'strconv.ParseUint: parsing "+80": invalid syntax' });
    assert.throws(() => parsePortRange('80-'), { message: 'strconv.ParseUint: parsing "": invalid syntax' });
  });

  it('--expose takes ports and ranges, not mappings', () => {
    assert.deepEqual(parseExpose('80'), ['80/tcp']);
    assert.deepEqual(parseExpose('7000-7002/udp'), ['7000/udp', '7001/udp', '7002/udp']);
    assert.throws(() => parseExpose('80:80'), { message: 'invalid port format for --expose: 80:80' });
    assert.throws(() => parseExpose('x'), { message: 'invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": invalid syntax' });
  });

  it('joins IPv6 hosts in brackets and sorts like sortorder.NaturalLess', () => {
    assert.equal(joinHostPort('::', '8080'), '[::]:8080');
    assert.equal(joinHostPort('0.0.0.0', '8080'), '0.0.0.0:8080');
    assert.equal(joinHostPort('', '8080'), ':8080');
    const lines = ['9000/tcp -> 0.0.0.0:9000', '80/tcp -> [::]:8080', '80/tcp -> 0.0.0.0:8080', '443/tcp -> 0.0.0.0:8443'];
    assert.deepEqual(lines.sort(naturalCompare), ['80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080', '443/tcp -> 0.0.0.0:8443', '9000/tcp -> 0.0.0.0:9000']);
    assert.deepEqual(['net10', 'net2', 'net02', 'Net', 'net'].sort(naturalCompare), ['Net', 'net', 'net2', 'net02', 'net10']);
  });
});
