import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db';
import { NetworkStore } from './network-store';

const scratch = fs.mkdtempSync(join(os.tmpdir(), 'berth-networks-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let dbs = 0;
const fresh = () => {
  const path = join(scratch, `db-${dbs++}.db`);
  return { path, store: new NetworkStore(openDb(path)) };
};

describe('NetworkStore: networks', () => {
  it('picks subnets from the default pools in order, gateway on the first host', () => {
    const { store } = fresh();
    const a = store.create('bridge');
    const b = store.create('app');
    assert.deepEqual(a.spec.ipam, [{ subnet: '172.17.0.0/16', gateway: '172.17.0.1' }]);
    assert.deepEqual(b.spec.ipam, [{ subnet: '172.18.0.0/16', gateway: '172.18.0.1' }]);
    assert.equal(a.spec.driver, 'bridge');
    assert.match(a.id, /^[0-9a-f]{64}$/);
    // host and none have no addresses.
    assert.deepEqual(store.create('host', { driver: 'host' }).spec.ipam, []);
  });

  it("takes the user's subnet, gateway and range, and refuses what Docker refuses", () => {
    const { store } = fresh();
    const n = store.create('custom', { ipam: [{ subnet: '10.20.0.0/16', gateway: '10.20.0.254', ipRange: '10.20.5.0/24' }], internal: true, labels: { a: 'b' } });
    assert.deepEqual(n.spec.ipam, [{ subnet: '10.20.0.0/16', gateway: '10.20.0.254', ipRange: '10.20.5.0/24' }]);
    assert.equal(n.spec.internal, true);
    assert.throws(() => store.create('custom'), (e: Error & { kind?: string }) => e.kind === 'conflict' && /network with name custom already exists/.test(e.message));
    assert.throws(() => store.create('over', { ipam: [{ subnet: '10.20.128.0/17' }] }), (e: Error & { kind?: string }) => e.kind === 'forbidden' && /Pool overlaps with other one on this address space/.test(e.message));
    assert.throws(() => store.create('gw', { ipam: [{ subnet: '10.30.0.0/16', gateway: '10.31.0.1' }] }), /no matching subnet for gateway 10.31.0.1/);
    assert.throws(() => store.create('rng', { ipam: [{ subnet: '10.30.0.0/16', ipRange: '10.31.0.0/24' }] }), /no matching subnet for range/);
    assert.throws(() => store.create('bad', { ipam: [{ subnet: '10.30.0.1/16' }] }), /it should be 10.30.0.0\/16/);
    assert.throws(() => store.create('nosub', { ipam: [{ gateway: '10.30.0.1' }] }), /needs a subnet/);
    // Nothing half-made was left by the refusals: the names are free.
    assert.equal(store.create('over', { ipam: [{ subnet: '10.40.0.0/16' }] }).name, 'over');
  });

  it('resolves names, ids and unique id prefixes; removal frees the subnet and refuses while addresses are held', () => {
    const { store } = fresh();
    const n = store.create('net1');
    assert.equal(store.get('net1').id, n.id);
    assert.equal(store.get(n.id.slice(0, 12)).id, n.id);
    assert.throws(() => store.get('nope'), (e: Error & { kind?: string }) => e.kind === 'not-found' && e.message === 'network nope not found');
    store.allocate(n.id, 'c1');
    assert.throws(() => store.remove('net1'), (e: Error & { kind?: string }) => e.kind === 'forbidden' && /has active endpoints/.test(e.message));
    store.release('c1');
    store.remove('net1');
    assert.equal(store.list().length, 0);
    assert.deepEqual(store.create('net2').spec.ipam[0]!.subnet, '172.17.0.0/16');
  });
});

describe('NetworkStore: addresses', () => {
  it('never hands out an address twice, across many owners, releases and a reopened database', () => {
    const { path, store } = fresh();
    const n = store.create('many', { ipam: [{ subnet: '10.50.0.0/24' }] });
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const ip = store.allocate(n.id, `c${i}`);
      assert.ok(!seen.has(ip), `handed out twice: ${ip}`);
      assert.notEqual(ip, '10.50.0.1', 'the gateway');
      seen.add(ip);
    }
    assert.equal(store.addressesOf('c0').get(n.id), '10.50.0.2');
    // A released address is not handed out again at once: the next one is after the last given.
    store.release('c5');
    assert.equal(store.allocate(n.id, 'c100'), '10.50.0.102');
    // A daemon restart: the record is the database.
    const again = new NetworkStore(openDb(path));
    assert.equal(again.allocate(n.id, 'c101'), '10.50.0.103');
    assert.equal(again.allocate(n.id, 'c102', '10.50.0.7'), '10.50.0.7'); // c5's old address, asked for
    assert.throws(() => again.allocate(n.id, 'c103', '10.50.0.7'), (e: Error & { kind?: string }) => e.kind === 'forbidden' && /Address already in use/.test(e.message));
    assert.throws(() => again.allocate(n.id, 'c103', '10.51.0.7'), /out of range/);
    assert.throws(() => again.allocate(n.id, 'c103', '10.50.0.255'), /out of range/); // broadcast
  });

  it('stays inside --ip-range and says so when it is used up', () => {
    const { store } = fresh();
    const n = store.create('small', { ipam: [{ subnet: '10.60.0.0/16', ipRange: '10.60.9.0/30' }] });
    const got = [0, 1, 2, 3].map((i) => store.allocate(n.id, `c${i}`));
    assert.deepEqual(got, ['10.60.9.0', '10.60.9.1', '10.60.9.2', '10.60.9.3']);
    assert.throws(() => store.allocate(n.id, 'c4'), (e: Error & { kind?: string }) => e.kind === 'unavailable' && /no available IPv4 addresses on network small/.test(e.message));
  });
});
