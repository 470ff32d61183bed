import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { once } from 'node:events';
import { answer, type DnsRecord, encodeQuery, isFormatError, parseQuery, parseResponse, Rcode, Type } from './dns-message';
import { type DnsResolver, DnsServer, type Upstream } from './dns-server';

const HOST = '127.0.0.1';

/** Owns web.mynet (172.18.0.2, no IPv6) and remembers who asked. */
class FakeResolver implements DnsResolver {
  askers: string[] = [];
  lookup(asker: string, name: string, type: 'A' | 'AAAA'): string[] | null {
    this.askers.push(asker);
    if (name !== 'web.mynet') return null;
    return type === 'A' ? ['172.18.0.2'] : [];
  }
  reverse(asker: string, ip: string): string | null {
    this.askers.push(asker);
    return ip === '172.18.0.2' ? 'web.mynet' : null;
  }
}

/**
 * An upstream on 127.0.0.1, UDP and TCP on one port. It answers every name with 93.184.216.34,
 * big.example with 40 addresses, tc.example over UDP with TC set (and fully over TCP); when
 * `silent`, it never answers.
 */
class FakeUpstream {
  readonly udp = dgram.createSocket('udp4');
  readonly tcp = net.createServer();
  readonly seen: Buffer[] = [];
  constructor(private readonly silent: boolean) {}

  async start(): Promise<Upstream> {
    this.udp.bind(0, HOST);
    await once(this.udp, 'listening');
    const port = this.udp.address().port;
    this.tcp.listen(port, HOST);
    await once(this.tcp, 'listening');
    this.udp.on('message', (m, from) => {
      this.seen.push(m);
      const out = this.reply(m, false);
      if (out) this.udp.send(out, from.port, from.address);
    });
    this.tcp.on('connection', (s) => s.once('data', (m: Buffer) => {
      const out = this.reply(m.subarray(2), true);
      if (out) s.end(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]));
    }));
    return { address: HOST, port };
  }

  private reply(m: Buffer, tcp: boolean): Buffer | null {
    const q = parseQuery(m);
    if (this.silent || !q || isFormatError(q)) return null;
    const n = q.question.name === 'big.example' || q.question.name === 'tc.example' ? 40 : 1;
    const records: DnsRecord[] = Array.from({ length: n }, (_, i) => ({ type: 'A', data: n === 1 ? '93.184.216.34' : `10.0.0.${i}` }));
    if (q.question.name === 'tc.example' && !tcp) return answer(q, records, { maxSize: 512 });
    return answer(q, records);
  }

  stop(): void {
    this.udp.close();
    this.tcp.close();
  }
}

/** One UDP exchange from 127.0.0.1; null when nothing comes back within `waitMs`. */
async function ask(port: number, msg: Buffer, waitMs = 1000): Promise<Buffer | null> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  try {
    const reply = once(s, 'message').then(([m]) => m as Buffer);
    s.send(msg, port, HOST);
    return await Promise.race([reply, new Promise<null>((r) => setTimeout(() => r(null), waitMs))]);
  } finally {
    s.close();
  }
}

async function askTcp(port: number, msgs: Buffer[]): Promise<Buffer[]> {
  const s = net.connect(port, HOST);
  await once(s, 'connect');
  s.write(Buffer.concat(msgs.flatMap((m) => [Buffer.from([m.length >> 8, m.length & 0xff]), m])));
  let buf = Buffer.alloc(0);
  const out: Buffer[] = [];
  for await (const chunk of s) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
    if (out.length === msgs.length) break;
  }
  s.destroy();
  return out;
}

describe('DnsServer', () => {
  const resolver = new FakeResolver();
  const good = new FakeUpstream(false);
  const silent = new FakeUpstream(true);
  let upstreams: Upstream[] = [];
  let goodUp: Upstream, silentUp: Upstream;
  const server = new DnsServer({ resolver, upstreams: () => upstreams, timeoutMs: 200 });
  let port = 0;

  before(async () => {
    goodUp = await good.start();
    silentUp = await silent.start();
    upstreams = [goodUp];
    port = await server.listen(HOST, 0);
  });
  after(async () => {
    await server.closeAll();
    good.stop();
    silent.stop();
  });

  it('listens once per address, on an ephemeral port when asked for port 0', async () => {
    assert.ok(port > 0);
    assert.equal(server.portOf(HOST), port);
    assert.equal(await server.listen(HOST, 0), port);
  });

  it("answers A from the resolver, matching any case and keeping the question's", async () => {
    const r = parseResponse((await ask(port, encodeQuery('WEB.MyNet', Type.A, { id: 0x1111 })))!)!;
    assert.deepEqual([r.id, r.rcode, r.aa, r.ra, r.rd], [0x1111, Rcode.NOERROR, true, true, true]);
    assert.deepEqual(r.question?.wire, Buffer.from('\x03WEB\x05MyNet\x00', 'latin1'));
    assert.deepEqual(r.answers.map((a) => [a.type, a.ttl, a.data]), [[Type.A, 600, '172.18.0.2']]);
  });

  it('passes the client address to the resolver as the asker', async () => {
    resolver.askers = [];
    await ask(port, encodeQuery('web.mynet', Type.A));
    assert.deepEqual(resolver.askers, [HOST]);
  });

  it('AAAA and other types for our name: NOERROR, no answers; ANY answers as A', async () => {
    for (const type of [Type.AAAA, Type.MX, Type.TXT]) {
      const r = parseResponse((await ask(port, encodeQuery('web.mynet', type)))!)!;
      assert.deepEqual([r.rcode, r.answers.length], [Rcode.NOERROR, 0], `type ${type}`);
    }
    const any = parseResponse((await ask(port, encodeQuery('web.mynet', Type.ANY)))!)!;
    assert.deepEqual(any.answers.map((a) => a.data), ['172.18.0.2']);
    assert.equal(good.seen.length, 0);
  });

  it('answers PTR for our addresses', async () => {
    const r = parseResponse((await ask(port, encodeQuery('2.0.18.172.in-addr.arpa', Type.PTR)))!)!;
    assert.deepEqual(r.answers.map((a) => [a.type, a.data]), [[Type.PTR, 'web.mynet']]);
  });

  it("forwards other names upstream and restores the client's ID", async () => {
    const r = parseResponse((await ask(port, encodeQuery('Example.COM', Type.A, { id: 0x4242 })))!)!;
    assert.deepEqual([r.id, r.rcode], [0x4242, Rcode.NOERROR]);
    assert.deepEqual(r.answers.map((a) => a.data), ['93.184.216.34']);
    assert.equal(questionName(good.seen.at(-1)!), 'example.com');
    // A reverse name the resolver does not know goes upstream too.
    const ptr = parseResponse((await ask(port, encodeQuery('9.9.9.9.in-addr.arpa', Type.PTR, { id: 5 })))!)!;
    assert.equal(ptr.id, 5);
    assert.equal(questionName(good.seen.at(-1)!), '9.9.9.9.in-addr.arpa');
  });

  it('moves on from an upstream that does not answer; SERVFAIL when none does', async () => {
    upstreams = [silentUp, goodUp];
    const t0 = Date.now();
    const ok = parseResponse((await ask(port, encodeQuery('example.org', Type.A, { id: 9 })))!)!;
    assert.deepEqual([ok.id, ok.rcode, ok.answers.length], [9, Rcode.NOERROR, 1]);
    assert.ok(Date.now() - t0 >= 190);
    // Nothing listening: ICMP port unreachable moves on without waiting for the timeout.
    const dead = dgram.createSocket('udp4');
    dead.bind(0, HOST);
    await once(dead, 'listening');
    const deadUp = { address: HOST, port: dead.address().port };
    dead.close();
    upstreams = [deadUp, goodUp];
    const t1 = Date.now();
    assert.equal(parseResponse((await ask(port, encodeQuery('example.org', Type.A)))!)!.answers.length, 1);
    assert.ok(Date.now() - t1 < 150);
    upstreams = [silentUp];
    const fail = parseResponse((await ask(port, encodeQuery('example.org', Type.A, { id: 10 })))!)!;
    assert.deepEqual([fail.id, fail.rcode, fail.question?.name], [10, Rcode.SERVFAIL, 'example.org']);
    upstreams = [];
    assert.equal(parseResponse((await ask(port, encodeQuery('example.org', Type.A)))!)!.rcode, Rcode.SERVFAIL);
    upstreams = [goodUp];
  });

  it('keeps UDP answers within 512 bytes without EDNS, setting TC', async () => {
    const buf = (await ask(port, encodeQuery('big.example', Type.A)))!;
    const r = parseResponse(buf)!;
    assert.ok(buf.length <= 512);
    assert.deepEqual([r.tc, r.answers.length, r.question?.name], [true, 0, 'big.example']);
    const edns = parseResponse((await ask(port, encodeQuery('big.example', Type.A, { udpSize: 4096 })))!)!;
    assert.deepEqual([edns.tc, edns.answers.length], [false, 40]);
  });

  it('serves TCP: several queries on one connection, full answers', async () => {
    const replies = (await askTcp(port, [
      encodeQuery('web.mynet', Type.A, { id: 1 }),
      encodeQuery('big.example', Type.A, { id: 2 }),
      encodeQuery('tc.example', Type.A, { id: 3 }), // upstream truncates over UDP: fetched over TCP
    ])).map((b) => parseResponse(b)!).sort((a, b) => a.id - b.id);
    assert.deepEqual(replies.map((r) => [r.id, r.tc, r.answers.length]), [[1, false, 1], [2, false, 40], [3, false, 40]]);
    assert.equal(replies[0].answers[0].data, '172.18.0.2');
  });

  it('drops garbage, answers FORMERR when the header is readable, and keeps serving', async () => {
    assert.equal(await ask(port, Buffer.from([1, 2, 3, 4, 5]), 200), null);
    const noQuestion = Buffer.from([0xab, 0xcd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r = parseResponse((await ask(port, noQuestion))!)!;
    assert.deepEqual([r.id, r.rcode], [0xabcd, Rcode.FORMERR]);
    const loop = Buffer.concat([noQuestion.subarray(0, 5), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])]);
    assert.equal(parseResponse((await ask(port, loop))!)!.rcode, Rcode.FORMERR);
    const reply = Buffer.from(encodeQuery('web.mynet', Type.A));
    reply[2] |= 0x80; // a response sent to us is never answered
    assert.equal(await ask(port, reply, 200), null);
    assert.equal(parseResponse((await ask(port, encodeQuery('web.mynet', Type.A)))!)!.answers.length, 1);
  });

  it('drops forwarded queries beyond the in-flight cap', async () => {
    const capped = new DnsServer({ resolver, upstreams: () => [silentUp], timeoutMs: 200, maxInFlight: 1 });
    const p = await capped.listen(HOST, 0);
    try {
      const replies = await Promise.all([ask(p, encodeQuery('a.example', Type.A), 500), ask(p, encodeQuery('b.example', Type.A), 500)]);
      const answered = replies.filter((r) => r !== null);
      assert.equal(answered.length, 1);
      assert.equal(parseResponse(answered[0]!)!.rcode, Rcode.SERVFAIL);
    } finally {
      await capped.closeAll();
    }
    assert.equal(capped.portOf(HOST), undefined);
  });
});

function questionName(m: Buffer): string {
  const q = parseQuery(m);
  assert.ok(q && !isFormatError(q));
  return q.question.name;
}
