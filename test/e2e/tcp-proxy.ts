/**
 * A TCP proxy on 127.0.0.1 for e2e tests that need a misbehaving network between berthd and a
 * registry: a slow link (bytes per second, registry → client) or a connection that breaks once
 * after a number of bytes. Everything it opens, close() closes.
 */
import * as net from 'node:net';

export interface ProxyOptions {
  /** Throttle what the registry sends to this many bytes per second. */
  bytesPerSecond?: number;
  /** Cut the first connection whose downstream passes this many bytes (once). */
  cutAfter?: number;
}

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  cuts = 0;

  private constructor(private readonly server: net.Server, readonly port: number) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(target: string, opts: ProxyOptions = {}): Promise<TcpProxy> {
    const [thost, tport] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    let proxy: TcpProxy | undefined;
    let cut = opts.cutAfter === undefined;
    const server = net.createServer((client) => {
      const upstream = net.connect(tport, thost);
      for (const s of [client, upstream]) {
        proxy!.sockets.add(s);
        s.on('close', () => proxy!.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream);
      let sent = 0;
      const started = Date.now();
      upstream.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (!cut && sent > opts.cutAfter!) {
          cut = true;
          proxy!.cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(chunk);
        if (opts.bytesPerSecond) {
          const due = started + (sent / opts.bytesPerSecond) * 1000;
          const wait = due - Date.now();
          if (wait > 5) {
            upstream.pause();
            setTimeout(() => upstream.resume(), wait);
          }
        }
      });
      upstream.on('end', () => client.end());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
