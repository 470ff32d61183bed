/**
 * iptables through iptables-restore: each change is one batch, committed atomically per table,
 * one process instead of one per rule. Every rule berth adds carries a comment naming its
 * owner (`berth:<daemon>:<network>[:<container>]`), so removal is by owner: read the table
 * (iptables-save), delete exactly the lines whose comment says so. Nothing else is touched,
 * and several daemons (a test's beside the host's) share the chains without stepping on
 * each other.
 *
 * Facts measured here (iptables 1.8.9, nf_tables): with --noflush, declaring a chain
 * (":NAME - [0:0]") flushes it, so chains are created with -N only when missing; one failed
 * -D fails the whole batch, so deletions are taken from iptables-save, never guessed.
 */
import { execFile } from 'node:child_process';
import { BerthError } from '../errors';

export type Table = 'filter' | 'nat' | 'raw';

export interface Rule {
  table: Table;
  chain: string;
  /** The match and target, as iptables takes them ("-o br0 -j ACCEPT"). */
  spec: string;
}

export class IptablesError extends BerthError {}

function run(bin: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { maxBuffer: 64 << 20, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new IptablesError('internal', `${bin}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    // A child that exits before reading (a failure) must not take the daemon down with EPIPE.
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}

/** A comment as iptables-save prints it back (no spaces, so unquoted). */
export function ownerComment(owner: string): string {
  if (!/^[A-Za-z0-9:._-]+$/.test(owner)) throw new IptablesError('internal', `bad rule owner ${owner}`);
  return owner;
}

export class Iptables {
  /** `ip6tables` for IPv6: the same rules, another table set. */
  constructor(private readonly bin: 'iptables' | 'ip6tables' = 'iptables') {}

  /** The rules of a table as iptables-save lists them ("-A CHAIN …"), and its chains. */
  async save(table: Table): Promise<{ chains: Set<string>; rules: string[] }> {
    const out = await run(`${this.bin}-save`, ['-t', table]);
    const chains = new Set<string>();
    const rules: string[] = [];
    for (const line of out.split('\n')) {
      if (line.startsWith(':')) chains.add(line.slice(1).split(' ')[0]!);
      else if (line.startsWith('-A ')) rules.push(line);
    }
    return { chains, rules };
  }

  /** Applies "-A/-I/-D/-N …" lines per table in one iptables-restore run. */
  async restore(lines: { table: Table; line: string }[]): Promise<void> {
    if (lines.length === 0) return;
    const tables = [...new Set(lines.map((l) => l.table))];
    const text = tables.map((t) => `*${t}\n${lines.filter((l) => l.table === t).map((l) => l.line).join('\n')}\nCOMMIT\n`).join('');
    await run(`${this.bin}-restore`, ['--noflush', '-w'], text);
  }

  /** Adds `rules`, each tagged with `owner`'s comment. */
  async add(owner: string, rules: Rule[]): Promise<void> {
    await this.restore(rules.map((r) => ({ table: r.table, line: `-A ${r.chain} ${r.spec} -m comment --comment ${ownerComment(owner)}` })));
  }

  /**
   * Deletes every rule whose owner is `owner` or below it (`owner:` prefix), in the given tables.
   * Returns how many were deleted.
   */
  async removeOwned(owner: string, tables: Table[] = ['filter', 'nat', 'raw']): Promise<number> {
    const lines: { table: Table; line: string }[] = [];
    for (const table of tables) {
      const { rules } = await this.save(table);
      for (const r of rules) if (ownedBy(r, owner)) lines.push({ table, line: `-D${r.slice(2)}` });
    }
    await this.restore(lines);
    return lines.length;
  }

  /**
   * Makes the rules under `owner` exactly `desired` (each with its own owner below `owner`):
   * the old ones deleted and the new ones added in one batch, so no packet sees a half state.
   */
  async replaceOwned(owner: string, desired: { owner: string; rules: Rule[] }[]): Promise<void> {
    const lines: { table: Table; line: string }[] = [];
    for (const table of ['filter', 'nat', 'raw'] as Table[]) {
      for (const r of (await this.save(table)).rules) if (ownedBy(r, owner)) lines.push({ table, line: `-D${r.slice(2)}` });
    }
    for (const d of desired) for (const r of d.rules) lines.push({ table: r.table, line: `-A ${r.chain} ${r.spec} -m comment --comment ${ownerComment(d.owner)}` });
    await this.restore(lines);
  }


  /**
   * Makes the chains exist and the jumps into them present, without touching their contents
   * (rules of other daemons may be there). `jumps` are inserted at the top of built-in chains.
   */
  async ensure(chains: { table: Table; chain: string }[], jumps: Rule[], heads: Rule[] = []): Promise<void> {
    const lines: { table: Table; line: string }[] = [];
    const saved = new Map<Table, { chains: Set<string>; rules: string[] }>();
    const of = async (t: Table) => saved.get(t) ?? saved.set(t, await this.save(t)).get(t)!;
    for (const c of chains) if (!(await of(c.table)).chains.has(c.chain)) lines.push({ table: c.table, line: `-N ${c.chain}` });
    for (const j of jumps) {
      if (!(await of(j.table)).rules.includes(`-A ${j.chain} ${j.spec}`)) lines.push({ table: j.table, line: `-I ${j.chain} 1 ${j.spec}` });
    }
    // Rules that must head a chain of ours (the isolation jump): added when missing.
    for (const h of heads) {
      if (!(await of(h.table)).rules.includes(`-A ${h.chain} ${h.spec}`)) lines.push({ table: h.table, line: `-I ${h.chain} 1 ${h.spec}` });
    }
    await this.restore(lines);
  }
}

function ownedBy(saved: string, owner: string): boolean {
  const m = / --comment "?([^ "]+)"?/.exec(saved);
  return m !== null && (m[1] === owner || m[1]!.startsWith(`${owner}:`));
}
