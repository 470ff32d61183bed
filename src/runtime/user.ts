/**
 * Resolves Docker's `--user` forms (name, uid, name:group, uid:gid) against the container's own
 * /etc/passwd and /etc/group, as runc's user lookup does: a numeric uid needs no passwd entry,
 * a name must have one, and supplementary groups come from /etc/group membership.
 */
import { invalid } from '../errors';
import { readFileInRoot } from '../store/scoped-path';

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) return [];
    return [{ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }];
  });
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) return [];
    return [{ name: f[0], gid: Number(f[2]), members: f[3].split(',').filter(Boolean) }];
  });
}

const isNumeric = (s: string) => /^\d+$/.test(s);
const MAX_ID = 2 ** 31 - 1;

export function resolveUser(rootfs: string, spec: string, groupAdd: string[] = []): ExecUser {
  const [userPart, groupPart] = spec === '' ? ['', undefined] : spec.split(':', 2);
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRoot(rootfs, '/etc/group'));

  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  if (userPart === '') {
    const root = passwd.find((p) => p.uid === 0);
    if (root) ({ home, name } = root);
  } else {
    const entry = passwd.find((p) => (isNumeric(userPart) ? p.uid === Number(userPart) : p.name === userPart));
    if (entry) {
      ({ uid, gid, home, name } = entry);
    } else if (isNumeric(userPart)) {
      uid = Number(userPart);
    } else {
      throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`);
    }
  }
  if (uid > MAX_ID) throw invalid(`uids and gids must be in range 0-${MAX_ID}`);

  if (groupPart !== undefined && groupPart !== '') {
    gid = lookupGroup(groups, groupPart);
  }
  const additional = new Set<number>();
  if (name !== undefined && groupPart === undefined) {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  }
  for (const g of groupAdd) additional.add(lookupGroup(groups, g));
  return { uid, gid, additionalGids: [...additional], home };
}

function lookupGroup(groups: GroupEntry[], g: string): number {
  if (isNumeric(g)) {
    if (Number(g) > MAX_ID) throw invalid(`uids and gids must be in range 0-${MAX_ID}`);
    return Number(g);
  }
  const entry = groups.find((e) => e.name === g);
  if (!entry) throw invalid(`unable to find group ${g}: no matching entries in group file`);
  return entry.gid;
}
