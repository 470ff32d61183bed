import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Netlink, NetlinkError } from './netlink';

// Names of this run only (interface names: at most 15 characters), removed by name at the end.
const tag = randomBytes(3).toString('hex');
const bridge = `bnt${tag}`;
const veth = `bnv${tag}`;
const peer = `bnp${tag}`;
const net = `10.254.${200 + (randomBytes(1)[0]! % 50)}`;
const sleeper = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
const ns = `/proc/${sleeper.pid}/ns/net`;
const host = Netlink.open();

after(async () => {
  await host.deleteLink(veth).catch(() => {});
  await host.deleteLink(bridge).catch(() => {});
  host.close();
  sleeper.kill('SIGKILL');
});

const ownNs = () => fs.readlinkSync('/proc/thread-self/ns/net');
const inNs = (...args: string[]) => execFileSync('nsenter', ['-t', String(sleeper.pid), '-n', ...args]).toString();

async function nsReady(): Promise<void> {
  for (let i = 0; i < 100 && fs.readlinkSync(ns) === ownNs(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.notEqual(fs.readlinkSync(ns), ownNs(), 'unshare made its network namespace');
}

describe('Netlink (rtnetlink, as root)', () => {
  it("builds a bridge and a veth endpoint whose other end is a container's configured eth0", async () => {
    await nsReady();
    await host.createBridge(bridge);
    await host.addAddress(bridge, `${net}.1/24`);
    await host.up(bridge);
    await host.createVeth(veth, peer, bridge);
    await host.up(veth);
    await host.moveTo(peer, ns, 'eth0');
    assert.equal(await host.index(peer), undefined, 'the peer left our namespace');

    const before = ownNs();
    const inner = Netlink.in(ns);
    assert.equal(ownNs(), before, 'the thread is back in its own namespace');
    try {
      await inner.addAddress('eth0', `${net}.2/24`);
      await inner.up('eth0');
      await inner.up('lo');
      await inner.defaultRoute(`${net}.1`, 'eth0');
    } finally {
      inner.close();
    }

    const addrs = JSON.parse(inNs('ip', '-j', '-4', 'addr', 'show', 'eth0')) as { addr_info: { local: string; prefixlen: number }[]; operstate: string }[];
    assert.deepEqual(addrs[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`), [`${net}.2/24`]);
    const routes = JSON.parse(inNs('ip', '-j', 'route', 'show', 'default')) as { gateway: string; dev: string }[];
    assert.deepEqual(routes.map((r) => [r.gateway, r.dev]), [[`${net}.1`, 'eth0']]);
    const ports = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', bridge]).toString()) as { ifname: string }[];
    assert.deepEqual(ports.map((p) => p.ifname), [veth]);
    // Traffic flows from the namespace to the bridge's address.
    assert.match(inNs('busybox', 'ping', '-c', '1', '-W', '2', `${net}.1`), /1 packets received/);
  });

  it('says what failed, and deletes what exists (the veth takes its peer along)', async () => {
    await assert.rejects(host.createBridge(bridge), (e: unknown) => e instanceof NetlinkError && e.message.startsWith(`netlink: create bridge ${bridge}:`));
    await assert.rejects(host.up('bnt-none'), /no network interface bnt-none/);
    await assert.rejects(host.addAddress(bridge, '10.254.0.1'), /not an address with a prefix length/);
    assert.equal(await host.deleteLink(veth), true);
    assert.equal(await host.deleteLink(bridge), true);
    assert.equal(await host.deleteLink(bridge), false);
    assert.doesNotMatch(inNs('ip', '-o', 'link'), /eth0/, "the container's end went with the veth");
    const left = execFileSync('ip', ['-o', 'link']).toString().split('\n').filter((l) => l.includes(tag));
    assert.deepEqual(left, []);
  });
});
