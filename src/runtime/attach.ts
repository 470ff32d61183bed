/**
 * Fan-out of a container's live stdio. The daemon holds at most one connection to conmon's
 * attach socket per container and copies each packet to every attached client.
 *
 * conmon writes to attach clients with blocking writes, so a client that stops reading would
 * stall the container (notes/runtime.md §2): this hub always reads promptly and leaves any
 * buffering to each sink.
 *
 * Packets: 1 byte stream id (2 = stdout, 3 = stderr) + up to 8192 bytes. Stdin goes the other
 * way as raw bytes, at most 32 KiB per packet (larger packets are silently cut by conmon).
 */
import { SeqpacketSocket } from 'node-unix-socket';

export interface AttachSink {
  stdout?(data: Buffer): void;
  stderr?(data: Buffer): void;
  /** The container's output has ended (it exited, or conmon went away). */
  end(): void;
}

const STDOUT = 2;
const STDERR = 3;
const MAX_STDIN_PACKET = 32 * 1024;
const MAX_EARLY_STDIN = 1 << 20;

export class AttachHub {
  private socket: SeqpacketSocket | null = null;
  private readonly sinks = new Set<AttachSink>();
  private stdinWanted = false;
  /**
   * Input that came before the connection (clients stream stdin right after attaching, before
   * the container starts), and a close that came with it: delivered once connected.
   */
  private earlyStdin: Buffer[] = [];
  private earlyStdinBytes = 0;
  private earlyClose = false;

  constructor(private readonly socketPath: string) {}

  add(sink: AttachSink, opts: { stdin?: boolean } = {}): () => void {
    this.sinks.add(sink);
    if (opts.stdin) this.stdinWanted = true;
    return () => {
      this.sinks.delete(sink);
    };
  }

  /** True when someone is waiting for output or wants to write input. */
  get wanted(): boolean {
    return this.sinks.size > 0 || this.stdinWanted;
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Connects to conmon's socket; resolves once connected (so no output is missed after start). */
  connect(): Promise<void> {
    if (this.socket) return Promise.resolve();
    const socket = new SeqpacketSocket();
    socket.setInternalReadBufferSize(16 * 1024);
    this.socket = socket;
    return new Promise((resolve, reject) => {
      let settled = false;
      socket.on('data', (packet: Buffer) => this.dispatch(packet));
      // node-unix-socket sometimes reports a container's exit as an empty error instead of 'end'.
      const finish = (err?: Error) => {
        if (!settled) {
          settled = true;
          reject(err ?? new Error('attach socket closed'));
        }
        this.close();
      };
      socket.on('end', () => finish());
      socket.on('error', (e: Error) => finish(e));
      socket.on('close', () => finish());
      try {
        socket.connect(this.socketPath, () => {
          settled = true;
          const early = this.earlyStdin;
          this.earlyStdin = [];
          this.earlyStdinBytes = 0;
          for (const d of early) this.writeStdin(d);
          if (this.earlyClose) {
            this.earlyClose = false;
            this.closeStdin();
          }
          resolve();
        });
      } catch (e) {
        finish(e as Error);
      }
    });
  }

  writeStdin(data: Buffer): void {
    if (!this.socket) {
      if (this.stdinWanted && this.earlyStdinBytes + data.length <= MAX_EARLY_STDIN) {
        this.earlyStdin.push(Buffer.from(data));
        this.earlyStdinBytes += data.length;
      }
      return;
    }
    for (let off = 0; off < data.length; off += MAX_STDIN_PACKET) {
      this.socket.write(data.subarray(off, Math.min(off + MAX_STDIN_PACKET, data.length)));
    }
  }

  /** Half-closes: conmon then closes the container's stdin (unless it keeps stdin open). */
  closeStdin(): void {
    if (!this.socket && this.stdinWanted) this.earlyClose = true;
    this.stdinWanted = false;
    this.socket?.end();
  }

  /**
   * The container is going away. A connected socket is left to reach its EOF, so output still in
   * flight (the container's last lines) reaches the clients; an idle hub ends its sinks now.
   */
  release(): void {
    if (!this.socket) this.close();
  }

  /** Ends every sink; called at EOF and when the container's monitor is known to be gone. */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    this.stdinWanted = false;
    if (socket) {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
    }
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const s of sinks) s.end();
  }

  private dispatch(packet: Buffer): void {
    if (packet.length < 2) return;
    // Copied: sinks may queue the data, and the socket library may reuse its read buffer.
    const payload = Buffer.from(packet.subarray(1));
    const stream = packet[0];
    for (const s of this.sinks) {
      if (stream === STDOUT) s.stdout?.(payload);
      else if (stream === STDERR) s.stderr?.(payload);
    }
  }
}
