/**
 * Docker's --sig-proxy: while a CLI is attached to a container without a TTY, the signals it
 * receives are sent on to the container (with a TTY they are keystrokes the terminal delivers).
 * Node cannot catch SIGKILL or SIGSTOP; these are the ones a user sends to a foreground command.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Forwards signals through `send` until the returned function is called. */
export function proxySignals(send: (signal: string) => Promise<void>): () => void {
  const handlers = FORWARDED.map((sig) => {
    const h = () => void send(sig).catch(() => {}); // the container may be gone already
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
