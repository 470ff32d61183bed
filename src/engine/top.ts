/**
 * GET /containers/{id}/top as Docker does it: the host's `ps` with the client's arguments
 * (default -ef), keeping the rows whose PID is in the container's cgroup. Threads that `ps`
 * prints under a process (PID "-", with `-m`) follow their process.
 */
import { execFile } from 'node:child_process';
import { BerthError, conflict, invalid } from '../errors';
import { cgroupDirsOf, cgroupPids } from '../runtime/cgroup-stats';
import type { ContainerService } from './containers';
import type { EventBus } from './events';

export interface TopResponse {
  Titles: string[];
  Processes: string[][];
}

/** Docker refuses `ps` arguments that would rename the PID column ("-o x=PID"). */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== 'pid') throw invalid(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** Go's strings.Fields over ASCII whitespace only (Docker's fieldsASCII). */
const fieldsAscii = (s: string) => s.split(/[ \t\n\v\f\r]+/).filter((x) => x !== '');

/** Docker's parsePSOutput: the header's titles, then the rows of `pids` (extra fields join the last column). */
export function parsePsOutput(output: string, pids: Set<number>): TopResponse {
  const lines = output.split('\n');
  const titles = fieldsAscii(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new BerthError('internal', "Couldn't find PID field in ps output");
  const processes: string[][] = [];
  const add = (fields: string[]) => processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  let previousKept = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsAscii(line);
    if (fields[pidIndex] === '-') {
      if (previousKept) add(fields);
      continue;
    }
    const pid = Number(fields[pidIndex]);
    if (!/^-?\d+$/.test(fields[pidIndex] ?? '')) throw new BerthError('internal', `Unexpected pid '${fields[pidIndex]}': strconv.Atoi: parsing "${fields[pidIndex]}": invalid syntax`);
    previousKept = pids.has(pid);
    if (previousKept) add(fields);
  }
  return { Titles: titles, Processes: processes };
}

function runPs(args: string[]): Promise<{ ok: true; stdout: string } | { ok: false; stderr: string; message: string }> {
  return new Promise((resolve) => {
    execFile('ps', args, { maxBuffer: 32 << 20, env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) resolve({ ok: false, stderr: String(stderr), message: err.message });
      else resolve({ ok: true, stdout: String(stdout) });
    });
  });
}

export async function containerTop(containers: ContainerService, events: EventBus, ref: string, psArgs: string): Promise<TopResponse> {
  const args = psArgs === '' ? '-ef' : psArgs;
  validatePsArgs(args);
  const c = containers.find(ref);
  if (!c.running) throw conflict(`Container ${c.id} is not running`);
  const dirs = cgroupDirsOf(c.state.Pid);
  if (!dirs) throw conflict(`Container ${c.id} is not running`);
  const pids = cgroupPids(dirs);
  const argv = args.split(' ');
  // -q limits ps to the container's processes; some options (f) refuse it, so retry without.
  let r = await runPs([...argv, `-q${pids.join(',')}`]);
  if (!r.ok) r = await runPs(argv);
  if (!r.ok) {
    const first = r.stderr.split('\n')[0];
    throw new BerthError('internal', `ps: ${first || r.message}`);
  }
  const top = parsePsOutput(r.stdout, new Set(pids));
  events.emit('container', 'top', c.id, { image: c.r.spec.Config.Image, name: c.r.name, ...c.r.spec.Config.Labels });
  return top;
}
