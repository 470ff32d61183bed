/**
 * Docker's multiplexed stream framing (attach, logs and exec without a TTY): each frame is an
 * 8-byte header — stream id (0 stdin, 1 stdout, 2 stderr, 3 system error), three zero bytes, a
 * big-endian uint32 payload length — followed by the payload.
 */
export const enum StreamId {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  SystemErr = 3,
}

const HEADER = 8;
/** Large writes are split so a frame never needs a huge single allocation on either side. */
const MAX_FRAME = 1 << 20;

export function frames(stream: StreamId, payload: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += MAX_FRAME) {
    const part = payload.subarray(off, Math.min(off + MAX_FRAME, payload.length));
    const header = Buffer.alloc(HEADER);
    header[0] = stream;
    header.writeUInt32BE(part.length, 4);
    out.push(header, part);
  }
  return out;
}

/** Encodes one frame as one buffer (header + payload). */
export function frame(stream: StreamId, payload: Buffer): Buffer {
  return Buffer.concat(frames(stream, payload));
}

/** Incremental demultiplexer: feed bytes, get (stream, payload) pairs. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: StreamId; data: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { stream: StreamId; data: Buffer }[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < HEADER + len) break;
      out.push({ stream: this.buf[0] as StreamId, data: this.buf.subarray(HEADER, HEADER + len) });
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }

  /** Bytes of an incomplete frame left at the end of the stream. */
  get pending(): number {
    return this.buf.length;
  }
}
