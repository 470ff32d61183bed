import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  answer, type DnsQuery, encodeQuery, failure, fromReverseName, isFormatError, messageId, parseQuery,
  parseResponse, Rcode, reverseName, setMessageId, truncate, TTL, Type,
} from './dns-message';

const query = (buf: Buffer): DnsQuery => {
  const q = parseQuery(buf);
  assert.ok(q && !isFormatError(q), 'a valid query');
  return q;
};

/** A query for example.com whose single additional record has `name` as its owner name. */
const withAdditional = (name: number[]): Buffer => {
  const q = encodeQuery('example.com', Type.A);
  q.writeUInt16BE(1, 10);
  return Buffer.concat([q, Buffer.from(name), Buffer.from([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
};

describe('dns-message: parsing queries', () => {
  it('reads header and question; the name is lower-cased, the wire form keeps its case', () => {
    const q = query(encodeQuery('Web.MyNet', Type.AAAA, { id: 0xbeef }));
    assert.equal(q.id, 0xbeef);
    assert.equal(q.rd, true);
    assert.equal(q.opcode, 0);
    assert.deepEqual({ name: q.question.name, type: q.question.type, class: q.question.class }, { name: 'web.mynet', type: 28, class: 1 });
    assert.deepEqual(q.question.wire, Buffer.from('\x03Web\x05MyNet\x00', 'latin1'));
    assert.equal(q.edns, null);
    assert.equal(query(encodeQuery('x', Type.A, { rd: false })).rd, false);
  });

  it('finds the EDNS OPT record and skips other additional records', () => {
    assert.deepEqual(query(encodeQuery('a.b', Type.A, { udpSize: 4096 })).edns, { udpSize: 4096 });
    // An additional record whose name points back at the question (offset 12) is fine.
    assert.equal(query(withAdditional([0xc0, 12])).question.name, 'example.com');
  });

  it('drops what has no header or is a response', () => {
    assert.equal(parseQuery(Buffer.alloc(11)), null);
    const resp = encodeQuery('a', Type.A);
    resp[2] |= 0x80;
    assert.equal(parseQuery(resp), null);
  });

  it('flags malformed queries with their ID, never throwing', () => {
    const formerr = (buf: Buffer, why: RegExp) => {
      const p = parseQuery(buf);
      assert.ok(p && isFormatError(p), `format error expected for ${buf.toString('hex')}`);
      assert.equal(p.id, 0x1234);
      assert.match(p.error, why);
    };
    const header = (qd: number) => Buffer.from([0x12, 0x34, 1, 0, 0, qd, 0, 0, 0, 0, 0, 0]);
    formerr(header(0), /QDCOUNT is 0/);
    formerr(Buffer.concat([header(2), encodeQuery('a', 1).subarray(12), encodeQuery('b', 1).subarray(12)]), /QDCOUNT is 2/);
    formerr(Buffer.concat([header(1), Buffer.from('\x05ab')]), /malformed question/); // label runs off the end
    formerr(Buffer.concat([header(1), Buffer.from([1, 0x61, 0])]), /malformed question/); // no type/class
    formerr(Buffer.concat([header(1), Buffer.from([0x41, 0x61, 0, 0, 1, 0, 1])]), /malformed question/); // label type 0x40
    formerr(Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /malformed question/); // points at itself
    const long = Buffer.concat([...Array(5).fill(Buffer.concat([Buffer.of(63), Buffer.alloc(63, 0x61)])), Buffer.of(0, 0, 1, 0, 1)]);
    formerr(Buffer.concat([header(1), long]), /malformed question/); // 321 bytes > 255
    const withId = (b: Buffer) => setMessageId(b, 0x1234);
    formerr(withId(withAdditional([0xc0, 29])), /malformed record/); // pointer to itself
    formerr(withId(withAdditional([1, 0x61, 0xc0, 29])), /malformed record/); // a loop through a label
    const counts = withId(encodeQuery('a', 1));
    counts.writeUInt16BE(3, 6); // three answers announced, none present
    formerr(counts, /malformed record/);
    for (let i = 0; i < 2000; i++) parseQuery(Buffer.from(Array.from({ length: i % 80 }, () => Math.floor(Math.random() * 256))));
  });
});

describe('dns-message: building answers', () => {
  const q = query(encodeQuery('Web.MyNet', Type.A, { id: 7 }));

  it('A answers point at the question name, TTL 600, flags QR AA RA and RD copied', () => {
    const buf = answer(q, [{ type: 'A', data: '172.18.0.2' }, { type: 'A', data: '172.18.0.3' }]);
    assert.deepEqual(buf.subarray(12, 12 + q.question.wire.length), q.question.wire);
    assert.deepEqual(buf.subarray(12 + q.question.wire.length + 4, 12 + q.question.wire.length + 6), Buffer.from([0xc0, 12]));
    const r = parseResponse(buf)!;
    assert.deepEqual({ id: r.id, rcode: r.rcode, aa: r.aa, tc: r.tc, rd: r.rd, ra: r.ra }, { id: 7, rcode: 0, aa: true, tc: false, rd: true, ra: true });
    assert.deepEqual(r.answers, [
      { name: 'web.mynet', type: Type.A, ttl: TTL, data: '172.18.0.2' },
      { name: 'web.mynet', type: Type.A, ttl: TTL, data: '172.18.0.3' },
    ]);
    assert.equal(parseResponse(answer(query(encodeQuery('x', 1, { rd: false })), []))!.rd, false);
  });

  it('AAAA and PTR data', () => {
    const r = parseResponse(answer(q, [
      { type: 'AAAA', data: '2001:db8::a:b' }, { type: 'AAAA', data: '::ffff:1.2.3.4' }, { type: 'AAAA', data: '::1' },
      { type: 'PTR', data: 'web.mynet' },
    ]))!;
    assert.deepEqual(r.answers.map((a) => [a.type, a.data]), [
      [28, '2001:db8::a:b'], [28, '::ffff:102:304'], [28, '::1'], [12, 'web.mynet'],
    ]);
    assert.throws(() => answer(q, [{ type: 'A', data: 'nope' }]), TypeError);
  });

  it('no answers, and the failure codes', () => {
    const empty = parseResponse(answer(q, []))!;
    assert.deepEqual([empty.rcode, empty.answers.length, empty.question?.name], [0, 0, 'web.mynet']);
    for (const rc of [Rcode.NXDOMAIN, Rcode.SERVFAIL, Rcode.FORMERR, Rcode.REFUSED]) {
      const r = parseResponse(failure(q, rc))!;
      assert.deepEqual([r.id, r.rcode, r.aa, r.answers.length, r.question?.name], [7, rc, false, 0, 'web.mynet']);
    }
    const bad = parseQuery(Buffer.from([0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))!;
    const r = parseResponse(failure(bad, Rcode.FORMERR))!;
    assert.deepEqual([r.id, r.rcode, r.question], [9, Rcode.FORMERR, null]);
  });

  it('answers an EDNS query with an OPT record; leaves records off and sets TC past maxSize', () => {
    const e = query(encodeQuery('web', Type.A, { udpSize: 4096 }));
    assert.equal(parseResponse(answer(e, []))!.additional, 1);
    assert.equal(parseResponse(answer(q, []))!.additional, 0);
    const many = Array.from({ length: 40 }, (_, i) => ({ type: 'A' as const, data: `10.0.0.${i}` }));
    const full = answer(q, many, { maxSize: 512 });
    const r = parseResponse(full)!;
    assert.ok(full.length <= 512);
    assert.equal(r.tc, true);
    assert.equal(r.answers.length, Math.floor((512 - 27) / 16)); // header + question: 27 bytes; an A record: 16
    assert.ok(r.answers.length < 40);
    assert.equal(parseResponse(answer(q, many.slice(0, 3), { maxSize: 512 }))!.tc, false);
    const cut = parseResponse(truncate(full, q))!;
    assert.deepEqual([cut.tc, cut.answers.length, cut.question?.name], [true, 0, 'web.mynet']);
  });

  it('reads and rewrites the ID of a raw message', () => {
    const raw = encodeQuery('a', Type.A, { id: 1 });
    assert.equal(messageId(raw), 1);
    assert.equal(messageId(setMessageId(raw, 0xfffe)), 0xfffe);
    assert.equal(messageId(Buffer.alloc(3)), null);
  });
});

describe('dns-message: reverse names', () => {
  it('IPv4 and IPv6 both ways', () => {
    assert.equal(reverseName('172.18.0.2'), '2.0.18.172.in-addr.arpa');
    assert.equal(fromReverseName('2.0.18.172.in-addr.arpa'), '172.18.0.2');
    assert.equal(fromReverseName('2.0.18.172.IN-ADDR.ARPA.'), '172.18.0.2');
    const v6 = reverseName('2001:db8::1');
    assert.equal(v6, '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    assert.equal(fromReverseName(v6), '2001:db8::1');
    assert.equal(fromReverseName(reverseName('fe80:0:0:1::')), 'fe80:0:0:1::');
  });
  it('anything else is not a reverse name', () => {
    for (const n of ['18.172.in-addr.arpa', '1.2.3.256.in-addr.arpa', '01.2.3.4.in-addr.arpa', 'web.mynet', '1.0.ip6.arpa']) {
      assert.equal(fromReverseName(n), null, n);
    }
    assert.throws(() => reverseName('web'), TypeError);
  });
});
