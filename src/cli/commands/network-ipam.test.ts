import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type IpamOptions, ipamConfigs, subnetMatches } from './network-ipam';

const none: IpamOptions = { subnets: [], ipRanges: [], gateways: [], auxAddresses: [] };

describe('ipamConfigs (createIPAMConfig of the docker CLI)', () => {
  it('pairs each range, gateway and aux address with the subnet holding it', () => {
    assert.deepEqual(
      ipamConfigs({
        subnets: ['10.1.0.0/16', '2001:db8::/64'],
        ipRanges: ['10.1.4.0/24'],
        gateways: ['2001:db8::1', '10.1.0.254'],
        auxAddresses: [['router', '10.1.0.2']],
      }),
      [
        { Subnet: '10.1.0.0/16', IPRange: '10.1.4.0/24', Gateway: '10.1.0.254', AuxiliaryAddresses: { router: '10.1.0.2' } },
        { Subnet: '2001:db8::/64', Gateway: '2001:db8::1' },
      ],
    );
    assert.deepEqual(ipamConfigs(none), []);
    assert.deepEqual(ipamConfigs({ ...none, subnets: ['172.28.0.0/16'] }), [{ Subnet: '172.28.0.0/16' }]);
  });

  it("fails with docker's messages", () => {
    const fails = (o: Partial<IpamOptions>, message: string) => assert.throws(() => ipamConfigs({ ...none, ...o }), { message });
    fails({ gateways: ['10.0.0.1'] }, 'every ip-range or gateway must have a corresponding subnet');
    fails({ subnets: ['10.0.0.0/24'], gateways: ['10.0.1.1'] }, 'no matching subnet for gateway 10.0.1.1');
    fails({ subnets: ['10.0.0.0/24'], ipRanges: ['10.0.1.0/25'] }, 'no matching subnet for range 10.0.1.0/25');
    fails({ subnets: ['10.0.0.0/24'], ipRanges: ['10.0.0.0'] }, 'invalid CIDR address: 10.0.0.0');
    fails({ subnets: ['10.0.0.0/24'], auxAddresses: [['a', '10.9.0.1']] }, 'no matching subnet for aux-address 10.9.0.1');
    fails({ subnets: ['10.0.0.0/16', '10.0.1.0/24'] }, 'multiple overlapping subnet configuration is not supported');
    fails({ subnets: ['10.0.0.0/24', 'nope'] }, 'invalid subnet: invalid CIDR address: nope');
    fails({ subnets: ['10.0.0.0/24', '10.1.0.0/24'], gateways: ['10.0.0.1', '10.0.0.2'] }, 'cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)');
  });

  it('contains as Go does: families never mix, mapped IPv4 counts as IPv4', () => {
    assert.equal(subnetMatches('10.0.0.0/8', '10.255.1.1'), true);
    assert.equal(subnetMatches('10.0.0.0/8', '11.0.0.1'), false);
    assert.equal(subnetMatches('10.0.0.0/8', '::ffff:10.0.0.1'), true);
    assert.equal(subnetMatches('::/0', '10.0.0.1'), false);
    assert.equal(subnetMatches('2001:db8::/32', '2001:db8:ffff::1'), true);
    assert.equal(subnetMatches('192.168.0.0/23', '192.168.1.200'), true);
    assert.equal(subnetMatches('192.168.0.0/23', '192.168.2.1'), false);
    assert.equal(subnetMatches('10.0.0.0/8', 'not-an-ip'), false);
  });
});
