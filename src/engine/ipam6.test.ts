import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addressFor, formatCidr6, formatIp6, overlaps6, parseCidr6, parseIp6, ulaFor } from './ipam6';

describe('ipam6', () => {
  it('parses and prints IPv6 addresses in their shortest form', () => {
    for (const s of ['fd00::1', '::', '::1', 'fd00:1:2:3:4:5:6:7', 'fd00:0:0:1::', '2001:db8::1:0:0:1']) assert.equal(formatIp6(parseIp6(s)), s);
    assert.equal(formatIp6(parseIp6('fd00:0000:0000:0000:0000:0000:0000:0002')), 'fd00::2');
    assert.throws(() => parseIp6('10.0.0.1'), /invalid IPv6 address/);
    assert.throws(() => parseIp6('fd00:::1'), /invalid IPv6 address/);
  });

  it('subnets: host bits zero, overlaps, a ULA /64 per network id', () => {
    assert.equal(formatCidr6(parseCidr6('fd00:1::/64')), 'fd00:1::/64');
    assert.throws(() => parseCidr6('fd00:1::5/64'), /it should be fd00:1::\/64/);
    assert.throws(() => parseCidr6('fd00::/124'), /at most 120/);
    assert.ok(overlaps6(parseCidr6('fd00::/48'), parseCidr6('fd00:0:0:5::/64')));
    assert.ok(!overlaps6(parseCidr6('fd00:1::/64'), parseCidr6('fd00:2::/64')));
    const ula = ulaFor('abc');
    assert.match(formatCidr6(ula), /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    assert.deepEqual(ulaFor('abc'), ula, 'the same id, the same prefix');
    assert.notDeepEqual(ulaFor('abd'), ula);
  });

  it("a container's address is the subnet plus its IPv4 host part", () => {
    assert.equal(addressFor(parseCidr6('fd00:1::/64'), 2), 'fd00:1::2');
    assert.equal(addressFor(parseCidr6('fd00:1::/64'), 0x10005), 'fd00:1::1:5');
    assert.throws(() => addressFor(parseCidr6('fd00:1::/120'), 300), /too small/);
  });
});
