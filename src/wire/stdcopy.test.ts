import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer, StreamId, frame, frames } from './stdcopy';

const MiB = 1 << 20;

describe('frame / frames', () => {
  it('writes the 8-byte header: stream byte, three zeros, big-endian length', () => {
    const f = frame(StreamId.Stdout, Buffer.from('hello\n'));
    assert.deepEqual([...f.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 6]);
    assert.equal(f.subarray(8).toString(), 'hello\n');
    assert.equal(f.length, 14);
  });

  it('uses the stream id of each stream', () => {
    assert.equal(frame(StreamId.Stdin, Buffer.from('x'))[0], 0);
    assert.equal(frame(StreamId.Stdout, Buffer.from('x'))[0], 1);
    assert.equal(frame(StreamId.Stderr, Buffer.from('x'))[0], 2);
    assert.equal(frame(StreamId.SystemErr, Buffer.from('x'))[0], 3);
  });

  it('encodes lengths above 255 big-endian across all four bytes', () => {
    const payload = Buffer.alloc(0x010203, 0x61);
    const f = frame(StreamId.Stderr, payload);
    assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0x00, 0x01, 0x02, 0x03]);
    assert.equal(f.length, 8 + 0x010203);
  });

  it('sends nothing for an empty payload', () => {
    assert.deepEqual(frames(StreamId.Stdout, Buffer.alloc(0)), []);
    assert.equal(frame(StreamId.Stdout, Buffer.alloc(0)).length, 0);
  });

  it('frames() returns header and payload as separate buffers', () => {
    const out = frames(StreamId.Stdout, Buffer.from('abc'));
    assert.equal(out.length, 2);
    assert.deepEqual([...out[0]], [1, 0, 0, 0, 0, 0, 0, 3]);
    assert.equal(out[1].toString(), 'abc');
  });

  it('keeps a payload of exactly 1 MiB in one frame', () => {
    const out = frames(StreamId.Stdout, Buffer.alloc(MiB));
    assert.equal(out.length, 2);
    assert.equal(out[0].readUInt32BE(4), MiB);
  });

  it('splits payloads above 1 MiB into frames of at most 1 MiB, in order', () => {
    const payload = Buffer.alloc(2 * MiB + 5);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const out = frames(StreamId.Stderr, payload);
    assert.equal(out.length, 6);
    assert.deepEqual([0, 2, 4].map((i) => out[i].readUInt32BE(4)), [MiB, MiB, 5]);
    for (const i of [0, 2, 4]) assert.deepEqual([...out[i].subarray(0, 4)], [2, 0, 0, 0]);
    assert.ok(Buffer.concat([out[1], out[3], out[5]]).equals(payload));
    // frame() is the same bytes as one buffer.
    assert.ok(frame(StreamId.Stderr, payload).equals(Buffer.concat(out)));
  });
});

describe('Demuxer', () => {
  const sample = () =>
    Buffer.concat([
      frame(StreamId.Stdout, Buffer.from('out 1\n')),
      frame(StreamId.Stderr, Buffer.from('err: \u00e9\u4e2d\n')),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // a zero-length frame, as Docker may send
      frame(StreamId.Stdout, Buffer.from([0x00, 0xff, 0x0a, 0x01])),
      frame(StreamId.SystemErr, Buffer.from('boom')),
    ]);
  const expected = () => [
    { stream: StreamId.Stdout, data: Buffer.from('out 1\n') },
    { stream: StreamId.Stderr, data: Buffer.from('err: \u00e9\u4e2d\n') },
    { stream: StreamId.Stdout, data: Buffer.alloc(0) },
    { stream: StreamId.Stdout, data: Buffer.from([0x00, 0xff, 0x0a, 0x01]) },
    { stream: StreamId.SystemErr, data: Buffer.from('boom') },
  ];
  const plain = (xs: { stream: StreamId; data: Buffer }[]) => xs.map((x) => ({ stream: x.stream, data: Buffer.from(x.data) }));

  it('decodes several frames pushed in one chunk', () => {
    const d = new Demuxer();
    assert.deepEqual(plain(d.push(sample())), expected());
    assert.equal(d.pending, 0);
  });

  it('decodes the same frames when fed one byte at a time', () => {
    const d = new Demuxer();
    const got: { stream: StreamId; data: Buffer }[] = [];
    const bytes = sample();
    for (let i = 0; i < bytes.length; i++) got.push(...plain(d.push(bytes.subarray(i, i + 1))));
    assert.deepEqual(got, expected());
    assert.equal(d.pending, 0);
  });

  it('decodes across every possible two-way split', () => {
    const bytes = sample();
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new Demuxer();
      const got = [...plain(d.push(bytes.subarray(0, cut))), ...plain(d.push(bytes.subarray(cut)))];
      assert.deepEqual(got, expected(), `split at ${cut}`);
      assert.equal(d.pending, 0);
    }
  });

  it('reports the bytes of an incomplete frame as pending', () => {
    const d = new Demuxer();
    const f = frame(StreamId.Stdout, Buffer.from('hello'));
    assert.deepEqual(d.push(f.subarray(0, 3)), []);
    assert.equal(d.pending, 3); // partial header
    assert.deepEqual(d.push(f.subarray(3, 10)), []);
    assert.equal(d.pending, 10); // header plus 2 of 5 payload bytes
    const out = d.push(f.subarray(10));
    assert.equal(out.length, 1);
    assert.equal(out[0].data.toString(), 'hello');
    assert.equal(d.pending, 0);
  });

  it('returns complete frames and keeps the tail of the next one pending', () => {
    const d = new Demuxer();
    const a = frame(StreamId.Stdout, Buffer.from('a'));
    const b = frame(StreamId.Stderr, Buffer.from('bbbb'));
    const out = d.push(Buffer.concat([a, b.subarray(0, 9)]));
    assert.deepEqual(plain(out), [{ stream: StreamId.Stdout, data: Buffer.from('a') }]);
    assert.equal(d.pending, 9);
  });

  it('round-trips a split >1 MiB payload', () => {
    const payload = Buffer.alloc(MiB + 100, 0x7a);
    const d = new Demuxer();
    const out = d.push(frame(StreamId.Stdout, payload));
    assert.equal(out.length, 2);
    assert.ok(Buffer.concat(out.map((o) => o.data)).equals(payload));
  });
});
