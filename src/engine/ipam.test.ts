import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCidr, formatIp, hostRange, nextFree, overlaps, parseAddressPool, parseCidr, parseIp, pickSubnet, within } from './ipam';

describe('ipam: addresses and prefixes', () => {
  it('parses and formats', () => {
    assert.equal(formatIp(parseIp('172.17.0.1')), '172.17.0.1');
    assert.equal(parseIp('255.255.255.255'), 0xffffffff);
    assert.deepEqual(parseCidr('10.1.0.0/16'), { base: parseIp('10.1.0.0'), bits: 16 });
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  });
  it("refuses what Docker refuses, with Docker's words", () => {
    assert.throws(() => parseIp('1.2.3.256'), /invalid IP address: 1.2.3.256/);
    assert.throws(() => parseIp('1.2.3'), /invalid IP address/);
    assert.throws(() => parseCidr('10.1.2.3/16'), /invalid subnet 10.1.2.3\/16 : it should be 10.1.0.0\/16/);
    assert.throws(() => parseCidr('10.1.0.0/33'), /not a CIDR address/);
    assert.throws(() => parseCidr('10.1.0.0'), /not a CIDR address/);
  });
  it('overlap and containment', () => {
    assert.equal(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16')), true);
    assert.equal(overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.0.0.0/8')), true);
    assert.equal(overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.6.0.0/16')), false);
    assert.equal(within(parseCidr('10.5.1.0/24'), parseCidr('10.5.0.0/16')), true);
    assert.equal(within(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16')), false);
  });
});

describe('ipam: subnets from the default pools', () => {
  it("takes Docker's order: 172.17/16 … 172.31/16, then 192.168.x/20, skipping what overlaps", () => {
    assert.equal(formatCidr(pickSubnet([])!), '172.17.0.0/16');
    assert.equal(formatCidr(pickSubnet([parseCidr('172.17.0.0/16')])!), '172.18.0.0/16');
    // A user subnet inside 172.18/16 takes that block out too.
    assert.equal(formatCidr(pickSubnet([parseCidr('172.17.0.0/16'), parseCidr('172.18.5.0/24')])!), '172.19.0.0/16');
    const all172 = Array.from({ length: 15 }, (_, i) => parseCidr(`172.${17 + i}.0.0/16`));
    assert.equal(formatCidr(pickSubnet(all172)!), '192.168.0.0/20');
    assert.equal(formatCidr(pickSubnet([...all172, parseCidr('192.168.0.0/20')])!), '192.168.16.0/20');
    const everything = [...all172, parseCidr('192.168.0.0/16')];
    assert.equal(pickSubnet(everything), null);
    // --default-address-pool replaces Docker's pools.
    const pools = [parseAddressPool('base=10.10.0.0/16,size=24')];
    assert.equal(formatCidr(pickSubnet([], pools)!), '10.10.0.0/24');
    assert.equal(formatCidr(pickSubnet([parseCidr('10.10.0.0/23')], pools)!), '10.10.2.0/24');
    assert.throws(() => parseAddressPool('base=10.10.0.0/16,size=8'), /size \/8 is larger than the base \/16/);
    assert.throws(() => parseAddressPool('10.10.0.0/16'), /want base=<CIDR>,size=<prefix length>/);
  });
});

describe('ipam: host addresses', () => {
  const subnet = parseCidr('10.9.0.0/29'); // .1–.6 usable
  const ip = (s: string) => parseIp(s);
  it('never the network or broadcast address; in order after the last one given, wrapping once', () => {
    assert.deepEqual(hostRange(subnet), { first: ip('10.9.0.1'), last: ip('10.9.0.6') });
    const taken = new Set([ip('10.9.0.1')]); // the gateway
    assert.equal(formatIp(nextFree(subnet, subnet, taken, 0)!), '10.9.0.2');
    assert.equal(formatIp(nextFree(subnet, subnet, taken, ip('10.9.0.4'))!), '10.9.0.5');
    // .3 was released after .4 was given: the next is .5, not .3.
    taken.add(ip('10.9.0.2')).add(ip('10.9.0.4'));
    assert.equal(formatIp(nextFree(subnet, subnet, taken, ip('10.9.0.4'))!), '10.9.0.5');
    // After the last usable address it wraps to the first free one.
    taken.add(ip('10.9.0.5')).add(ip('10.9.0.6'));
    assert.equal(formatIp(nextFree(subnet, subnet, taken, ip('10.9.0.6'))!), '10.9.0.3');
    taken.add(ip('10.9.0.3'));
    assert.equal(nextFree(subnet, subnet, taken, ip('10.9.0.3')), null);
  });
  it('an --ip-range narrows the pool; /31 and /32 give every address', () => {
    const big = parseCidr('10.9.0.0/16');
    const range = parseCidr('10.9.5.0/30');
    const taken = new Set<number>();
    const got: string[] = [];
    let last = 0;
    for (;;) {
      const n = nextFree(big, range, taken, last);
      if (n === null) break;
      taken.add(n);
      last = n;
      got.push(formatIp(n));
    }
    assert.deepEqual(got, ['10.9.5.0', '10.9.5.1', '10.9.5.2', '10.9.5.3']);
    assert.deepEqual(hostRange(parseCidr('10.9.0.0/31')), { first: ip('10.9.0.0'), last: ip('10.9.0.1') });
  });
});
