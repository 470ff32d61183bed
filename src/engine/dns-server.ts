/**
 * berthd's embedded DNS server: what dockerd serves at 127.0.0.11 inside each container, served
 * here on each user-defined network's gateway address (host side), port 53, UDP and TCP.
 *
 * A question the resolver owns is answered here; any other is forwarded as it came (only its ID
 * changes) to the upstreams, one after the other, each given `timeoutMs`. Each upstream attempt
 * uses a fresh connected UDP socket: the kernel then drops datagrams from anyone but that
 * upstream, the source port is random, and ICMP "port unreachable" moves us on at once.
 * If every upstream fails, the client gets the last SERVFAIL/REFUSED seen, else our own SERVFAIL.
 */
import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  answer, CLASS_IN, type DnsQuery, failure, fromReverseName, isFormatError, isResponse, isTruncated,
  messageId, parseQuery, questionOf, Rcode, rcodeOf, setMessageId, truncate, Type, udpLimit,
} from './dns-message';

export interface DnsResolver {
  /**
   * Addresses `asker` (the querying container's source IPv4) may resolve `name` to (lower case,
   * no trailing dot); null = not ours (forward it); [] = ours but no address of that type.
   */
  lookup(asker: string, name: string, type: 'A' | 'AAAA'): string[] | null;
  /** For PTR: the name for `ip` as seen by `asker`, or null (forward). */
  reverse(asker: string, ip: string): string | null;
}

export interface Upstream { address: string; port: number }

export interface DnsServerOptions {
  resolver: DnsResolver;
  /**
   * Where `asker`'s forwarded queries go (its --dns servers, or the host's); asked on every
   * forwarded query, so a changed resolv.conf takes effect at once.
   */
  upstreams: (asker: string) => Upstream[];
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** How long each upstream gets to answer; default 2000. */
  timeoutMs?: number;
  /** Forwarded queries in flight at once, over all addresses; more are dropped. Default 1024. */
  maxInFlight?: number;
}

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 256; // per address
const TCP_MAX_PIPELINE = 64; // queries awaiting an answer on one connection
const TCP_MAX_BACKLOG = 256 << 10; // unread answers on one connection
const TCP_MAX_MESSAGE = 65535;

interface Listener {
  address: string;
  port: number;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
  /** Aborted by close(): ends this address's upstream exchanges, so no timer outlives it. */
  closing: AbortController;
}

/** Splits a TCP byte stream into DNS messages (RFC 1035 §4.2.2: two length bytes before each). */
class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
      const len = this.buf.readUInt16BE(0);
      out.push(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
    }
    return out;
  }
}

function framed(msg: Buffer): Buffer {
  const b = Buffer.alloc(2 + msg.length);
  b.writeUInt16BE(msg.length, 0);
  msg.copy(b, 2);
  return b;
}

/** A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; the resolver knows a.b.c.d. */
function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function closeQuietly(s: dgram.Socket): void {
  try { s.close(); } catch { /* never bound, or already closed */ }
}

export class DnsServer {
  private readonly listening = new Map<string, Promise<Listener>>();
  private readonly bound = new Map<string, Listener>();
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;

  constructor(private readonly opts: DnsServerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 1024;
  }

  /**
   * Serves UDP and TCP on `address`. Port 0 takes an ephemeral port (the same for both); the
   * port is returned. Listening again on an address is a no-op that returns the first port.
   */
  listen(address: string, port = 53): Promise<number> {
    let p = this.listening.get(address);
    if (!p) {
      p = this.bind(address, port);
      this.listening.set(address, p);
      p.then((l) => this.bound.set(address, l), () => this.listening.delete(address));
    }
    return p.then((l) => l.port);
  }

  /** The port served on `address`, once listen() has resolved. */
  portOf(address: string): number | undefined {
    return this.bound.get(address)?.port;
  }

  async close(address: string): Promise<void> {
    const p = this.listening.get(address);
    if (!p) return;
    this.listening.delete(address);
    const l = await p.catch(() => null);
    if (!l) return;
    this.bound.delete(address);
    l.closing.abort();
    for (const c of l.conns) c.destroy();
    await Promise.all([
      new Promise<void>((resolve) => l.tcp.close(() => resolve())),
      new Promise<void>((resolve) => { try { l.udp.close(() => resolve()); } catch { resolve(); } }),
    ]);
    this.log('debug', 'dns: closed', { address });
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.listening.keys()].map((a) => this.close(a)));
  }

  private log(level: 'debug', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
  }

  private async bind(address: string, port: number): Promise<Listener> {
    const type = net.isIPv6(address) ? 'udp6' : 'udp4';
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address, port, exclusive: true }, () => { udp.off('error', reject); resolve(); });
        });
      } catch (e) {
        closeQuietly(udp);
        throw e;
      }
      const l: Listener = { address, port: udp.address().port, udp, tcp: net.createServer(), conns: new Set(), closing: new AbortController() };
      try {
        await new Promise<void>((resolve, reject) => {
          l.tcp.once('error', reject);
          l.tcp.listen({ host: address, port: l.port, exclusive: true }, () => { l.tcp.off('error', reject); resolve(); });
        });
      } catch (e) {
        closeQuietly(udp);
        // An ephemeral UDP port can be taken for TCP; a fixed one means a real conflict.
        if (port === 0 && attempt < 8 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw e;
      }
      udp.on('message', (msg, from) => this.onDatagram(l, msg, from));
      udp.on('error', (e) => this.log('debug', 'dns: udp socket error', { address, error: e.message }));
      l.tcp.on('connection', (s) => this.onConnection(l, s));
      l.tcp.on('error', (e) => this.log('debug', 'dns: tcp server error', { address, error: e.message }));
      this.log('debug', 'dns: listening', { address, port: l.port });
      return l;
    }
  }

  private onDatagram(l: Listener, msg: Buffer, from: dgram.RemoteInfo): void {
    this.respond(l, msg, plainAddress(from.address), 'udp').then((out) => {
      if (!out || l.closing.signal.aborted) return;
      l.udp.send(out, from.port, from.address, (e) => e && this.log('debug', 'dns: udp send failed', { error: e.message }));
    }).catch((e) => this.log('debug', 'dns: query failed', { error: String(e) }));
  }

  private onConnection(l: Listener, sock: net.Socket): void {
    if (l.closing.signal.aborted || l.conns.size >= TCP_MAX_CONNECTIONS) {
      sock.destroy();
      return;
    }
    l.conns.add(sock);
    sock.on('close', () => l.conns.delete(sock));
    sock.on('error', () => { /* 'close' follows */ });
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    const asker = plainAddress(sock.remoteAddress ?? '');
    const framer = new Framer();
    let pending = 0;
    sock.on('data', (chunk: Buffer) => {
      for (const msg of framer.push(chunk)) {
        if (pending >= TCP_MAX_PIPELINE) {
          sock.destroy();
          return;
        }
        pending++;
        this.respond(l, msg, asker, 'tcp').then((out) => {
          if (!out || sock.destroyed) return;
          // A client that sends without reading would make us buffer without end.
          if (sock.writableLength > TCP_MAX_BACKLOG) sock.destroy();
          else sock.write(framed(out));
        }).catch((e) => this.log('debug', 'dns: query failed', { error: String(e) }))
          .finally(() => pending--);
      }
    });
  }

  /** The reply to one message, or null to send nothing. */
  private async respond(l: Listener, msg: Buffer, asker: string, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    const q = parseQuery(msg);
    if (!q) return null;
    if (isFormatError(q)) {
      this.log('debug', 'dns: malformed query', { asker, error: q.error });
      return failure(q, Rcode.FORMERR);
    }
    if (q.opcode !== 0) return failure(q, Rcode.NOTIMP);
    const limit = transport === 'udp' ? udpLimit(q) : TCP_MAX_MESSAGE;
    let local: Buffer | null;
    try {
      local = this.answerLocally(asker, q, limit);
    } catch (e) {
      this.log('debug', 'dns: resolver failed', { asker, name: q.question.name, error: String(e) });
      return failure(q, Rcode.SERVFAIL);
    }
    if (local) return local;
    const out = await this.forward(l, q, msg, transport === 'tcp', asker);
    return out && out.length > limit ? truncate(out, q) : out;
  }

  /** Our answer, or null when the name is not ours. */
  private answerLocally(asker: string, q: DnsQuery, limit: number): Buffer | null {
    const { name, type } = q.question;
    if (q.question.class !== CLASS_IN) return null;
    if (type === Type.PTR) {
      const ip = fromReverseName(name);
      if (ip !== null) {
        const target = this.opts.resolver.reverse(asker, ip);
        return target === null ? null : answer(q, [{ type: 'PTR', data: target }], { maxSize: limit });
      }
    }
    const want = type === Type.AAAA ? 'AAAA' : 'A';
    const addrs = this.opts.resolver.lookup(asker, name, want);
    if (addrs === null) return null;
    // Other types for a name we own get "no data", as dockerd does; ANY is answered as A.
    const direct = type === Type.A || type === Type.AAAA || type === Type.ANY;
    return answer(q, direct ? addrs.map((data) => ({ type: want, data })) : [], { maxSize: limit });
  }

  private async forward(l: Listener, q: DnsQuery, raw: Buffer, tcp: boolean, asker: string): Promise<Buffer | null> {
    if (this.inFlight >= this.maxInFlight) {
      this.log('debug', 'dns: too many queries in flight, dropped', { name: q.question.name });
      return tcp ? failure(q, Rcode.SERVFAIL) : null;
    }
    this.inFlight++;
    try {
      const signal = l.closing.signal;
      let fallback: Buffer | null = null;
      for (const up of this.opts.upstreams(asker)) {
        if (signal.aborted) return null;
        if (!this.usable(up)) continue;
        let resp = await this.exchangeUdp(up, raw, q, signal);
        // The TCP client came to us because it wants the whole answer: fetch it the same way.
        if (resp && tcp && isTruncated(resp)) resp = (await this.exchangeTcp(up, raw, q, signal)) ?? resp;
        if (!resp) continue;
        const rcode = rcodeOf(resp);
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
          fallback = resp;
          continue;
        }
        return setMessageId(resp, q.id);
      }
      if (signal.aborted) return null;
      this.log('debug', 'dns: no upstream answered', { name: q.question.name });
      return fallback ? setMessageId(fallback, q.id) : failure(q, Rcode.SERVFAIL);
    } catch (e) {
      this.log('debug', 'dns: forwarding failed', { name: q.question.name, error: String(e) });
      return failure(q, Rcode.SERVFAIL);
    } finally {
      this.inFlight--;
    }
  }

  /** Forwarding to one of our own addresses would loop a query between us and ourselves. */
  private usable(up: Upstream): boolean {
    if (net.isIP(up.address) === 0 || !(up.port > 0 && up.port < 65536)) return false;
    return this.bound.get(up.address)?.port !== up.port;
  }

  /** An upstream reply to our query: the ID we chose and, when present, the same question. */
  private matches(m: Buffer, id: number, q: DnsQuery): boolean {
    if (!isResponse(m) || messageId(m) !== id) return false;
    const rq = questionOf(m);
    if (!rq) return rcodeOf(m) !== Rcode.NOERROR;
    return rq.name === q.question.name && rq.type === q.question.type && rq.class === q.question.class;
  }

  private exchangeUdp(up: Upstream, raw: Buffer, q: DnsQuery, signal: AbortSignal): Promise<Buffer | null> {
    const id = randomInt(0x10000);
    const out = setMessageId(Buffer.from(raw), id);
    const sock = dgram.createSocket(net.isIPv6(up.address) ? 'udp6' : 'udp4');
    return this.exchange(signal, () => closeQuietly(sock), (finish) => {
      sock.on('error', (e) => {
        this.log('debug', 'dns: upstream error', { upstream: up.address, error: e.message });
        finish(null);
      });
      sock.on('message', (m) => this.matches(m, id, q) && finish(m));
      sock.once('connect', () => sock.send(out));
      sock.connect(up.port, up.address);
    });
  }

  private exchangeTcp(up: Upstream, raw: Buffer, q: DnsQuery, signal: AbortSignal): Promise<Buffer | null> {
    const id = randomInt(0x10000);
    const out = framed(setMessageId(Buffer.from(raw), id));
    const sock = net.connect({ host: up.address, port: up.port });
    return this.exchange(signal, () => sock.destroy(), (finish) => {
      const framer = new Framer();
      sock.on('error', () => finish(null));
      sock.on('close', () => finish(null));
      sock.on('connect', () => sock.write(out));
      sock.on('data', (chunk: Buffer) => {
        for (const m of framer.push(chunk)) if (this.matches(m, id, q)) return finish(m);
      });
    });
  }

  /** Runs one upstream exchange until it answers, times out, or its address is closed. */
  private exchange(signal: AbortSignal, cleanup: () => void,
    start: (finish: (m: Buffer | null) => void) => void): Promise<Buffer | null> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (m: Buffer | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        cleanup();
        resolve(m);
      };
      const onAbort = () => finish(null);
      const timer = setTimeout(onAbort, this.timeoutMs);
      if (signal.aborted) return finish(null);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        start(finish);
      } catch (e) {
        this.log('debug', 'dns: upstream exchange failed', { error: String(e) });
        finish(null);
      }
    });
  }
}
