/**
 * The values build steps compute from their arguments: ports, modes, owners, RUN's heredoc
 * script, and the short ids the classic stream prints.
 */
import { invalid } from '../errors';
import { resolveUser } from '../runtime/user';

export const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

export function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** EXPOSE 80, 80/udp, 8000-8002: each as port/proto. */
export function expandPorts(p: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw invalid(`Invalid containerPort: ${p}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  if (hi < lo || hi > 65535) throw invalid(`Invalid range specified for port: ${p}`);
  const out: string[] = [];
  for (let i = lo; i <= hi; i++) out.push(`${i}/${proto}`);
  return out;
}

export function parseMode(s: string): number {
  if (!/^[0-7]{1,4}$/.test(s)) throw invalid(`invalid chmod parameter: ${s}`);
  return parseInt(s, 8);
}

/** --chown=user[:group], names looked up in the image's own passwd and group files; a missing group is the uid. */
export function ownerOf(root: string, spec: string): { uid: number; gid: number } {
  const [user, group] = spec.split(':', 2);
  const u = resolveUser(root, user);
  if (group === undefined) return { uid: u.uid, gid: /^\d+$/.test(user) ? u.uid : u.gid };
  const g = resolveUser(root, `${user}:${group}`);
  return { uid: u.uid, gid: g.gid };
}

/** RUN with heredocs: a single heredoc on its own is the script; otherwise the shell gets the text. */
export function heredocCommand(shell: string[], line: string, heredocs: { name: string; content: string; chomp: boolean }[]): string[] {
  // Variables are the shell's to expand (or not, for a quoted delimiter), at run time.
  const body = (h: { content: string; chomp: boolean }) => (h.chomp ? h.content.replace(/^\t+/gm, '') : h.content);
  if (heredocs.length === 1 && new RegExp(`^<<-?["']?${heredocs[0].name}["']?$`).test(line.trim())) {
    return [...shell, body(heredocs[0])];
  }
  // The heredocs feed the command's file descriptors, as a shell would give them.
  let script = line;
  for (const h of heredocs) script += `\n${body(h)}${h.name}`;
  return [...shell, script];
}
