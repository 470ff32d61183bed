/**
 * Blob bodies by sendfile(2): the kernel moves the bytes from the page cache to the socket, with
 * no copy into this process and back. On two cores shared with the client, the read and write
 * copies of a stream cost a pull a tenth of its speed against distribution, which sends files
 * this way too. Only for plain TCP sockets whose fd Node exposes; TLS and anything unusual go
 * through a stream, as does a response whose headers did not leave at once.
 */
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendfile, waitWritable } from '../store/syscalls';

/** Bigger bodies than this go by sendfile; smaller ones are one write anyway. */
const MIN_BYTES = 64 << 10;
const MAX_PER_CALL = 8 << 20;
/** A client that takes nothing for this long is dropped. */
const STALL_MS = 60_000;

/** Body bytes each response sent by sendfile, which the socket's own counters never see. */
const sent = new WeakMap<ServerResponse, number>();

export function bytesSentByFile(res: ServerResponse): number {
  return sent.get(res) ?? 0;
}

interface Handle {
  fd?: number;
  writeQueueSize?: number;
}

/** The socket's fd when it is a plain one with nothing left to write; else undefined. */
function idleFd(socket: Socket | null): number | undefined {
  const handle = (socket as unknown as { _handle?: Handle } | null)?._handle;
  if (!socket || !handle || typeof handle.fd !== 'number' || handle.fd < 0) return undefined;
  return socket.writableLength === 0 && handle.writeQueueSize === 0 ? handle.fd : undefined;
}

/**
 * Sends `length` bytes of `path` from `start` as the body of `res`, whose headers (with the
 * Content-Length) are set but not sent. Returns false, having sent nothing, when the socket is
 * not one sendfile can use: the caller streams the body then.
 */
export async function sendFileBody(res: ServerResponse, path: string, start: number, length: number): Promise<boolean> {
  const socket = res.socket;
  if (length < MIN_BYTES || (socket as { encrypted?: boolean } | null)?.encrypted || idleFd(socket) === undefined) return false;
  res.flushHeaders();
  // Headers go out in one non-blocking write; if the socket was full they wait in a queue, and
  // sendfile must not overtake them.
  for (let i = 0; i < 100 && idleFd(socket) === undefined && !socket!.destroyed; i++) await new Promise((r) => setImmediate(r));
  const fd = idleFd(socket);
  if (fd === undefined) {
    await new Promise<void>((resolve) => fs.createReadStream(path, { start, end: start + length - 1 }).on('close', resolve).pipe(res));
    return true;
  }
  const file = fs.openSync(path, 'r');
  const offset = Buffer.alloc(8);
  offset.writeBigInt64LE(BigInt(start));
  try {
    for (let left = length; left > 0; ) {
      const n = sendfile(fd, file, offset, Math.min(left, MAX_PER_CALL));
      if (n > 0) {
        left -= n;
        sent.set(res, (sent.get(res) ?? 0) + n);
      } else if (n === 0) {
        throw new Error(`${path} ended ${left} bytes early`);
      } else if (!(await waitWritable(fd, STALL_MS))) {
        throw new Error('the client took nothing for a minute');
      }
    }
    res.end();
  } catch {
    // The body is cut short: the only honest signal left is closing the connection.
    socket!.destroy();
  } finally {
    fs.closeSync(file);
  }
  return true;
}
