/**
 * DNS messages (RFC 1035) as berthd's embedded resolver needs them: one query in, a short answer
 * out. Pure functions over Buffers; nothing here throws on bytes from the network (builders throw
 * only on bad arguments from our own code).
 *
 *   header (12 bytes): ID, flags (QR opcode AA TC RD RA Z rcode), QDCOUNT ANCOUNT NSCOUNT ARCOUNT
 *   question:          name, type, class         (always copied back as it came, case included)
 *   answers:           0xC00C (pointer to the question name at offset 12), type, class, TTL, rdata
 *   additional:        our OPT record when the query had one (RFC 6891)
 */
import { isIPv4, isIPv6 } from 'node:net';

export const Type = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof Rcode)[keyof typeof Rcode];
export const CLASS_IN = 1;
/** Docker's embedded resolver answers with this TTL. */
export const TTL = 600;
/** The most a UDP answer may carry when the query had no EDNS OPT record (RFC 1035 §4.2.1). */
export const UDP_PLAIN_MAX = 512;
/** What our OPT advertises: DNS Flag Day 2020's size, which stays clear of IP fragmentation. */
export const EDNS_UDP_SIZE = 1232;

const QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080;
const HEADER = 12;
const MAX_NAME = 255;

export interface DnsQuestion {
  /** Lower case, no trailing dot; odd bytes escaped as in zone files (`\.`, `\DDD`). */
  name: string;
  type: number;
  class: number;
  /** The name as it came, uncompressed and in its original case: echoed in every reply. */
  wire: Buffer;
}

/** What a reply needs from the header of the message it answers. */
export interface DnsHead { id: number; opcode: number; rd: boolean }

export interface DnsQuery extends DnsHead {
  question: DnsQuestion;
  /** The requestor's EDNS UDP payload size; null when the query had no OPT record. */
  edns: { udpSize: number } | null;
}

/** A query whose header could be read and nothing else: it earns a FORMERR. */
export interface DnsFormatError extends DnsHead { error: string }

export function isFormatError(p: DnsQuery | DnsFormatError): p is DnsFormatError {
  return 'error' in p;
}

/** One answer record; the owner name is always the question's. */
export interface DnsRecord { type: 'A' | 'AAAA' | 'PTR'; data: string; ttl?: number }

// ---- reading ----

function readName(buf: Buffer, start: number): { labels: Buffer[]; end: number } | null {
  const labels: Buffer[] = [];
  let off = start, end = -1, size = 1;
  // Every pointer must land before the lowest offset read so far: chains then only move
  // backwards and cannot loop, however they are crafted.
  let floor = start;
  for (;;) {
    if (off >= buf.length) return null;
    const len = buf[off];
    if (len === 0) return { labels, end: end < 0 ? off + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) return null;
      const target = ((len & 0x3f) << 8) | buf[off + 1];
      if (target >= floor) return null;
      if (end < 0) end = off + 2;
      off = floor = target;
      continue;
    }
    if (len & 0xc0) return null; // 0x40/0x80 label types: extended labels, never deployed
    size += len + 1;
    if (size > MAX_NAME || off + 1 + len > buf.length) return null;
    labels.push(buf.subarray(off + 1, off + 1 + len));
    off += 1 + len;
  }
}

function labelText(label: Buffer): string {
  let s = '';
  for (const b of label) {
    if (b === 0x2e || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 32 : b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

const nameText = (labels: Buffer[]) => labels.map(labelText).join('.');
const nameWire = (labels: Buffer[]) => Buffer.concat([...labels.flatMap((l) => [Buffer.of(l.length), l]), Buffer.of(0)]);

function readQuestion(buf: Buffer, off: number): { question: DnsQuestion; end: number } | null {
  const n = readName(buf, off);
  if (!n || n.end + 4 > buf.length) return null;
  const question = { name: nameText(n.labels), type: buf.readUInt16BE(n.end), class: buf.readUInt16BE(n.end + 2), wire: nameWire(n.labels) };
  return { question, end: n.end + 4 };
}

interface RecordHead { name: string; type: number; class: number; ttl: number; data: number; end: number }

function readRecordHead(buf: Buffer, off: number): RecordHead | null {
  const n = readName(buf, off);
  if (!n || n.end + 10 > buf.length) return null;
  const end = n.end + 10 + buf.readUInt16BE(n.end + 8);
  if (end > buf.length) return null;
  const [type, klass, ttl] = [buf.readUInt16BE(n.end), buf.readUInt16BE(n.end + 2), buf.readUInt32BE(n.end + 4)];
  return { name: nameText(n.labels), type, class: klass, ttl, data: n.end + 10, end };
}

/**
 * A query, a FORMERR-worthy message (header readable, rest not), or null when there is nothing
 * to answer: shorter than a header, or a response (answering those lets two resolvers ping-pong).
 * Only QDCOUNT=1 is accepted (RFC 9619). Records after the question are walked only to find OPT.
 */
export function parseQuery(buf: Buffer): DnsQuery | DnsFormatError | null {
  if (buf.length < HEADER) return null;
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return null;
  const head: DnsHead = { id: buf.readUInt16BE(0), opcode: (flags >> 11) & 0xf, rd: (flags & RD) !== 0 };
  const bad = (error: string): DnsFormatError => ({ ...head, error });
  const qd = buf.readUInt16BE(4);
  if (qd !== 1) return bad(`QDCOUNT is ${qd}`);
  const q = readQuestion(buf, HEADER);
  if (!q) return bad('malformed question');
  const before = buf.readUInt16BE(6) + buf.readUInt16BE(8);
  const records = before + buf.readUInt16BE(10);
  let off = q.end;
  let edns: DnsQuery['edns'] = null;
  for (let i = 0; i < records; i++) {
    const rr = readRecordHead(buf, off);
    if (!rr) return bad('malformed record');
    if (rr.type === Type.OPT && i >= before) {
      if (edns) return bad('two OPT records');
      edns = { udpSize: rr.class };
    }
    off = rr.end;
  }
  return { ...head, question: q.question, edns };
}

/** The question of any message (a response from upstream, say), or null. */
export function questionOf(buf: Buffer): DnsQuestion | null {
  return buf.length >= HEADER && buf.readUInt16BE(4) === 1 ? readQuestion(buf, HEADER)?.question ?? null : null;
}

export interface DnsAnswer { name: string; type: number; ttl: number; data: string }

export interface DnsResponse {
  id: number; rcode: number; aa: boolean; tc: boolean; rd: boolean; ra: boolean;
  question: DnsQuestion | null;
  /** A and AAAA data as addresses, PTR and CNAME as names, anything else as hex. */
  answers: DnsAnswer[];
  additional: number;
}

/** The answer section of a response, or null: for tests and probes, not the serving path. */
export function parseResponse(buf: Buffer): DnsResponse | null {
  if (!isResponse(buf) || buf.readUInt16BE(4) > 1) return null;
  const flags = buf.readUInt16BE(2);
  let off = HEADER;
  let question: DnsQuestion | null = null;
  if (buf.readUInt16BE(4) === 1) {
    const q = readQuestion(buf, off);
    if (!q) return null;
    ({ question, end: off } = q);
  }
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < buf.readUInt16BE(6); i++) {
    const rr = readRecordHead(buf, off);
    if (!rr) return null;
    const raw = buf.subarray(rr.data, rr.end);
    let data = raw.toString('hex');
    if (rr.type === Type.A && raw.length === 4) data = [...raw].join('.');
    if (rr.type === Type.AAAA && raw.length === 16) data = formatIpv6(raw);
    if (rr.type === Type.PTR || rr.type === Type.CNAME) data = nameText(readName(buf, rr.data)?.labels ?? []) || data;
    answers.push({ name: rr.name, type: rr.type, ttl: rr.ttl, data });
    off = rr.end;
  }
  return {
    id: buf.readUInt16BE(0), rcode: flags & 0xf, aa: (flags & AA) !== 0, tc: (flags & TC) !== 0,
    rd: (flags & RD) !== 0, ra: (flags & RA) !== 0, question, answers, additional: buf.readUInt16BE(10),
  };
}

// ---- raw messages (forwarding rewrites the ID and reads a few flags, nothing else) ----

export function messageId(buf: Buffer): number | null {
  return buf.length >= HEADER ? buf.readUInt16BE(0) : null;
}

/** Sets the ID in place and returns the same buffer. */
export function setMessageId(buf: Buffer, id: number): Buffer {
  buf.writeUInt16BE(id & 0xffff, 0);
  return buf;
}

export function isResponse(buf: Buffer): boolean {
  return buf.length >= HEADER && (buf[2] & 0x80) !== 0;
}

export function isTruncated(buf: Buffer): boolean {
  return buf.length >= HEADER && (buf[2] & 0x02) !== 0;
}

export function rcodeOf(buf: Buffer): number {
  return buf.length >= HEADER ? buf[3] & 0x0f : -1;
}

/** Largest reply the client takes over UDP: 512 without EDNS, else what it advertised (≥512). */
export function udpLimit(query: DnsQuery): number {
  return query.edns ? Math.min(Math.max(query.edns.udpSize, UDP_PLAIN_MAX), 65535) : UDP_PLAIN_MAX;
}

// ---- building ----

function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.').map((l) => Buffer.from(l, 'latin1'));
  const wire = nameWire(labels);
  if (labels.some((l) => l.length === 0 || l.length > 63) || wire.length > MAX_NAME) {
    throw new TypeError(`Cannot encode DNS name: ${name}`);
  }
  return wire;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function opt(): Buffer {
  const b = Buffer.alloc(11); // root name, type OPT, class = our UDP size, TTL 0, no options
  b.writeUInt16BE(Type.OPT, 1);
  b.writeUInt16BE(EDNS_UDP_SIZE, 3);
  return b;
}

function reply(head: DnsHead, question: DnsQuestion | null, edns: boolean, rcode: number,
  answers: Buffer[], extraFlags: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(head.id, 0);
  h.writeUInt16BE(QR | ((head.opcode & 0xf) << 11) | (head.rd ? RD : 0) | RA | extraFlags | (rcode & 0xf), 2);
  h.writeUInt16BE(question ? 1 : 0, 4);
  h.writeUInt16BE(answers.length, 6);
  h.writeUInt16BE(edns ? 1 : 0, 10);
  const q = question ? [question.wire, u16(question.type), u16(question.class)] : [];
  return Buffer.concat([h, ...q, ...answers, ...(edns ? [opt()] : [])]);
}

function rdata(r: DnsRecord): Buffer {
  if (r.type === 'A' && isIPv4(r.data)) return Buffer.from(r.data.split('.').map(Number));
  if (r.type === 'AAAA') {
    const b = ipv6Bytes(r.data);
    if (b) return b;
  }
  if (r.type === 'PTR') return encodeName(r.data);
  throw new TypeError(`Cannot encode ${r.type} record: ${r.data}`);
}

function record(r: DnsRecord): Buffer {
  const data = rdata(r);
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xc000 | HEADER, 0); // the question's name, always at offset 12
  b.writeUInt16BE(Type[r.type], 2);
  b.writeUInt16BE(CLASS_IN, 4);
  b.writeUInt32BE(r.ttl ?? TTL, 6);
  b.writeUInt16BE(data.length, 10);
  return Buffer.concat([b, data]);
}

/**
 * An authoritative NOERROR answer carrying `records` (none is a valid "no data" answer). Records
 * that would take it past `maxSize` are left off and TC is set, so the client retries over TCP.
 */
export function answer(query: DnsQuery, records: DnsRecord[], opts: { maxSize?: number } = {}): Buffer {
  const max = opts.maxSize ?? 65535;
  const encoded = records.map(record);
  let size = HEADER + query.question.wire.length + 4 + (query.edns ? 11 : 0);
  let fit = 0;
  while (fit < encoded.length && size + encoded[fit].length <= max) size += encoded[fit++].length;
  return reply(query, query.question, query.edns !== null, Rcode.NOERROR, encoded.slice(0, fit),
    AA | (fit < encoded.length ? TC : 0));
}

/** An answer with no records and `rcode`; for a FORMERR the question may be missing. */
export function failure(query: DnsHead & { question?: DnsQuestion; edns?: DnsQuery['edns'] }, rcode: Rcode): Buffer {
  return reply(query, query.question ?? null, !!query.edns, rcode, [], 0);
}

/** `response` cut down to its header and our question, with TC set: it did not fit over UDP. */
export function truncate(response: Buffer, query: DnsQuery): Buffer {
  const flags = response.length >= HEADER ? response.readUInt16BE(2) : 0;
  return reply(query, query.question, query.edns !== null, flags & 0xf, [], (flags & AA) | TC);
}

/** A query in wire form, for tests and probes; the name keeps its case. */
export function encodeQuery(name: string, type: number,
  opts: { id?: number; rd?: boolean; udpSize?: number } = {}): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(opts.id ?? 0, 0);
  h.writeUInt16BE(opts.rd === false ? 0 : RD, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(opts.udpSize ? 1 : 0, 10);
  const parts = [h, encodeName(name), u16(type), u16(CLASS_IN)];
  if (opts.udpSize) {
    const o = opt();
    o.writeUInt16BE(opts.udpSize, 3);
    parts.push(o);
  }
  return Buffer.concat(parts);
}

// ---- addresses and reverse names ----

function ipv6Bytes(ip: string): Buffer | null {
  const bare = ip.replace(/%.*$/, '');
  if (!isIPv6(bare)) return null;
  let text = bare;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [left, right] = text.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const head = groups(left), tail = groups(right);
  const all = right === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of zero groups (≥2) as `::`. */
function formatIpv6(b: Buffer): string {
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** `172.18.0.2` → `2.0.18.172.in-addr.arpa`; IPv6 gives the nibble form under `ip6.arpa`. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const b = ipv6Bytes(ip);
  if (!b) throw new TypeError(`Cannot make a reverse name: not an IP address: ${ip}`);
  const nibbles = [...b.toString('hex')].reverse();
  return `${nibbles.join('.')}.ip6.arpa`;
}

/** The inverse of reverseName (any case, trailing dot or not), or null for any other name. */
export function fromReverseName(name: string): string | null {
  const n = name.toLowerCase().replace(/\.$/, '');
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(n);
  if (v4) {
    const ip = v4.slice(1).reverse().map(Number).join('.');
    return isIPv4(ip) && ip === v4.slice(1).reverse().join('.') ? ip : null;
  }
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(n);
  if (v6) return formatIpv6(Buffer.from(v6[1].split('.').slice(0, 32).reverse().join(''), 'hex'));
  return null;
}
