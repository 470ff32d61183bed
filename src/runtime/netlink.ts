/**
 * Links, addresses and routes through rtnetlink (the `netlink` package), not a process per
 * step: the bridge of a network, the veth pair of a container's endpoint, and the container's
 * side of it inside its network namespace.
 *
 * A netlink socket acts in the network namespace it was opened in, and a link moved into
 * another namespace arrives down and without addresses. So the container's side is configured
 * through a socket opened in the container's namespace: `Netlink.in(path)` joins that namespace
 * with setns on the calling thread, opens the socket and returns at once, synchronously, so
 * that nothing else of the daemon runs in between.
 */
import * as fs from 'node:fs';
import { BerthError } from '../errors';
import { CLONE_NEWNET, setns } from '../store/syscalls';
import { insideNetns } from './netns';

type Netlink_ = typeof import('netlink');
type RtSocket = ReturnType<Netlink_['createRtNetlink']>;
let lib: { nl: Netlink_; toBuf: (d: unknown) => Buffer } | undefined;

function load(): NonNullable<typeof lib> {
  if (lib) return lib;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nl = require('netlink') as Netlink_;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { AttrStream } = require('netlink/dist/structs') as { AttrStream: new () => { emit(d: unknown): void; bufs: Uint8Array[] } };
  lib = {
    nl,
    toBuf: (d) => {
      const a = new AttrStream();
      a.emit(d);
      return Buffer.concat(a.bufs);
    },
  };
  return lib;
}

const NLM_F_CREATE_EXCL = 0x400 | 0x200;
const AF_INET = 2;
const AF_INET6 = 10;
const VETH_INFO_PEER = 1;
const IFINFOMSG_SIZE = 16;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

export class NetlinkError extends BerthError {}

export class Netlink {
  private constructor(private readonly sock: RtSocket) {}

  /** A socket in berthd's own network namespace. */
  static open(): Netlink {
    return new Netlink(load().nl.createRtNetlink());
  }

  /** A socket in the network namespace at `nsPath` (/proc/<pid>/ns/net). */
  static in(nsPath: string): Netlink {
    const l = load();
    const target = fs.openSync(nsPath, 'r');
    try {
      return insideNetns(() => setns(target, CLONE_NEWNET, nsPath), () => new Netlink(l.nl.createRtNetlink()));
    } finally {
      fs.closeSync(target);
    }
  }

  close(): void {
    this.sock.socket.close();
  }

  /** The link's index, looked up by name in the kernel (not a dump of every link); undefined if none. */
  async index(name: string): Promise<number | undefined> {
    try {
      const [link] = await this.sock.getLink({}, { ifname: name });
      return link?.data.index;
    } catch (e) {
      // The package reports the kernel's errno only in its message.
      if (/\bENODEV\b/.test((e as Error).message)) return undefined;
      throw new NetlinkError('internal', `netlink: look up ${name}: ${(e as Error).message}`);
    }
  }

  private async need(name: string): Promise<number> {
    const i = await this.index(name);
    if (i === undefined) throw new NetlinkError('internal', `no network interface ${name}`);
    return i;
  }

  async createBridge(name: string): Promise<void> {
    const l = load();
    await this.call(`create bridge ${name}`, () => this.sock.newLink({}, { ifname: name, linkinfo: l.toBuf(l.nl.ifla.formatInfo({ kind: 'bridge' })) }, { flags: NLM_F_CREATE_EXCL }));
  }

  /**
   * A veth pair; `master` is the bridge the first end joins. With `peerNs` the peer is made
   * directly in that network namespace (one request instead of a create and a move).
   */
  async createVeth(name: string, peer: string, master?: string, opts: { peerNs?: string; peerMac?: string; mtu?: number } = {}): Promise<void> {
    const l = load();
    const fd = opts.peerNs === undefined ? undefined : fs.openSync(opts.peerNs, 'r');
    try {
      const peerAttrs = {
        ifname: peer, ...(fd !== undefined ? { netNsFd: fd } : {}), ...(opts.peerMac ? { address: macBytes(opts.peerMac) } : {}),
        ...(opts.mtu ? { mtu: opts.mtu } : {}),
      };
      const peerMsg = Buffer.concat([Buffer.alloc(IFINFOMSG_SIZE), l.toBuf(l.nl.ifla.formatLinkAttrs(peerAttrs))]);
      const attr = Buffer.alloc(4);
      attr.writeUInt16LE(4 + peerMsg.length, 0);
      attr.writeUInt16LE(VETH_INFO_PEER, 2);
      const masterIndex = master === undefined ? undefined : await this.need(master);
      await this.call(`create veth ${name}`, () => this.sock.newLink({}, {
        ifname: name, ...(masterIndex !== undefined ? { master: masterIndex } : {}), ...(opts.mtu ? { mtu: opts.mtu } : {}),
        linkinfo: l.toBuf(l.nl.ifla.formatInfo({ kind: 'veth', data: Buffer.concat([attr, peerMsg]) })),
      }, { flags: NLM_F_CREATE_EXCL }));
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  async setMac(name: string, mac: string): Promise<void> {
    const index = await this.need(name);
    await this.call(`set ${name} address ${mac}`, () => this.sock.setLink({ index }, { address: macBytes(mac) }));
  }

  /** Moves a link into the network namespace at `nsPath`, renamed there to `newName`. */
  async moveTo(name: string, nsPath: string, newName = name): Promise<void> {
    const index = await this.need(name);
    const fd = fs.openSync(nsPath, 'r');
    try {
      await this.call(`move ${name}`, () => this.sock.setLink({ index }, { netNsFd: fd, ifname: newName }));
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Adds an address given as "10.1.0.2/16" or "fd00::2/64" (IPv6 without duplicate address
   * detection: berth hands out each address once); with `mayExist`, one already there is fine.
   */
  async addAddress(name: string, cidr: string, mayExist = false): Promise<void> {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    const v6 = m?.[1]!.includes(':') ?? false;
    if (!m || Number(m[2]) > (v6 ? 128 : 32)) throw new NetlinkError('invalid', `not an address with a prefix length: ${cidr}`);
    const addr = v6 ? ip6Bytes(m[1]!) : ipBytes(m[1]!);
    const index = await this.need(name);
    try {
      await this.sock.newAddress(
        { family: v6 ? AF_INET6 : AF_INET, prefixlen: Number(m[2]), index, ...(v6 ? { flags: { nodad: true } } : {}) },
        v6 ? { address: addr, flags: { nodad: true } } : { local: addr, address: addr },
        { flags: NLM_F_CREATE_EXCL },
      );
    } catch (e) {
      if (mayExist && /\bEEXIST\b/.test((e as Error).message)) return;
      throw new NetlinkError('internal', `netlink: add address ${cidr} to ${name}: ${(e as Error).message}`);
    }
  }

  async up(name: string): Promise<void> {
    const index = await this.need(name);
    await this.call(`set ${name} up`, () => this.sock.setLink({ index, change: { up: true }, flags: { up: true } }));
  }

  async defaultRoute(gateway: string, dev: string): Promise<void> {
    const oif = await this.need(dev);
    const v6 = gateway.includes(':');
    await this.call(`route via ${gateway}`, () => this.sock.newRoute(
      { family: v6 ? AF_INET6 : AF_INET, dstLen: 0, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: 0, type: RTN_UNICAST },
      { gateway: v6 ? ip6Bytes(gateway) : ipBytes(gateway), oif },
      { flags: NLM_F_CREATE_EXCL },
    ));
  }

  /** Deletes a link (a veth takes its peer along); false if there was none. */
  async deleteLink(name: string): Promise<boolean> {
    const index = await this.index(name);
    if (index === undefined) return false;
    await this.call(`delete ${name}`, () => this.sock.delLink({ index }));
    return true;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new NetlinkError('internal', `netlink: ${what}: ${(e as Error).message}`);
    }
  }
}

function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new NetlinkError('invalid', `invalid MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** An IPv6 address's 16 bytes ("fd00::2", "fd00:1:2::", no zone, no embedded IPv4). */
export function ip6Bytes(ip: string): Buffer {
  const halves = ip.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...Array(Math.max(fill, 0)).fill('0'), ...tail];
  if (halves.length > 2 || all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new NetlinkError('invalid', `invalid IPv6 address: ${ip}`);
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function ipBytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new NetlinkError('invalid', `invalid IP address: ${ip}`);
  return Buffer.from(parts);
}
