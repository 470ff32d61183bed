/**
 * Docker's -H / DOCKER_HOST form for a unix socket: unix:///path.sock (a bare absolute path is
 * accepted too). berth speaks only unix sockets: the API socket is root-only by design.
 */
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** The socket path, or undefined when `host` is not a unix socket address. */
export function unixSocketPath(host: string): string | undefined {
  return (/^unix:\/\/(\/.+)$/.exec(host) ?? /^(\/.+)$/.exec(host))?.[1];
}
