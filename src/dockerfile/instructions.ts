/**
 * AST nodes → typed instructions with their flags checked, grouped into build stages, with
 * BuildKit's validation and messages ("dockerfile parse error on line 5: unknown flag: --frm").
 * Values stay as written: variable expansion and quote removal happen in the builder.
 */
import { BerthError } from '../errors';
import { BuildFlags } from './build-flags';
import { parseGoDuration } from './go-duration';
import { goQuote } from './go-quote';
import { parseHeredocMarker, type Heredoc } from './heredoc';
import { KNOWN_INSTRUCTIONS } from './line-parsers';
import type { Dockerfile, Node } from './parser';
import { parseRunMount, type RunMount } from './run-mounts';
import { withSuggestion } from './suggest';

export type { RunMount } from './run-mounts';

interface Base {
  /** The instruction's first physical line (1-based). */
  line: number;
  /** The assembled logical line as written. */
  original: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export type Instruction = Base &
  (
    | { kind: 'from'; image: string; stageName?: string; platform?: string }
    /** Values raw: quotes stay as written. */
    | { kind: 'arg'; args: { name: string; value?: string }[] }
    | { kind: 'env'; pairs: KeyValue[] }
    | { kind: 'label'; pairs: KeyValue[] }
    | {
        kind: 'run';
        /** Shell form: one element. */
        command: string[];
        json: boolean;
        heredocs: Heredoc[];
        mounts: RunMount[];
        /** The --mount values as written, for parseRunMount(spec, expand) once build args are known. */
        mountSpecs: string[];
        network?: 'default' | 'none' | 'host';
        security?: 'sandbox' | 'insecure';
      }
    | { kind: 'cmd' | 'entrypoint'; command: string[]; json: boolean }
    | { kind: 'shell'; shell: string[] }
    | { kind: 'workdir'; path: string }
    | { kind: 'user'; user: string }
    /** Sorted, as BuildKit sorts them. */
    | { kind: 'expose'; ports: string[] }
    | { kind: 'volume'; paths: string[] }
    | { kind: 'stopsignal'; signal: string }
    | { kind: 'maintainer'; name: string }
    | {
        kind: 'healthcheck';
        /** ['NONE'], ['CMD', ...exec] or ['CMD-SHELL', command]. */
        test: string[];
        /** Nanoseconds, set when the flag was given. */
        interval?: number;
        timeout?: number;
        startPeriod?: number;
        startInterval?: number;
        retries?: number;
      }
    | {
        kind: 'copy' | 'add';
        /** Paths (or URLs for ADD); heredoc sources are in `heredocs` instead. */
        sources: string[];
        dest: string;
        /** Inline files from `<<EOF` sources: name is the file name; chomp is not applied yet. */
        heredocs: Heredoc[];
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        parents: boolean;
        exclude: string[];
        checksum?: string;
        keepGitDir?: boolean;
        unpack?: boolean;
      }
    /** The trigger as the image config's OnBuild list keeps it (heredoc bodies appended). */
    | { kind: 'onbuild'; trigger: string }
  );

export type InstructionOf<K extends Instruction['kind']> = Extract<Instruction, { kind: K }>;

export interface Stage {
  /** Lower-cased `AS` name. */
  name?: string;
  from: InstructionOf<'from'>;
  instructions: Instruction[];
  index: number;
}

export class InstructionError extends BerthError {
  constructor(
    readonly reason: string,
    readonly line: number,
    prefixed = true,
  ) {
    super('invalid', prefixed ? `dockerfile parse error on line ${line}: ${reason}` : reason);
    this.name = 'InstructionError';
  }
}

/** ARGs before the first FROM are meta args; any other instruction there is an error. */
export function toStages(df: Dockerfile): { metaArgs: InstructionOf<'arg'>[]; stages: Stage[] } {
  const metaArgs: InstructionOf<'arg'>[] = [];
  const stages: Stage[] = [];
  for (const node of df.nodes) {
    const ins = toInstruction(node);
    if (ins.kind === 'from') {
      stages.push({ ...(ins.stageName ? { name: ins.stageName } : {}), from: ins, instructions: [], index: stages.length });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(ins);
    } else if (ins.kind === 'arg') {
      metaArgs.push(ins);
    } else {
      throw new InstructionError('no build stage in current context', node.startLine, false);
    }
  }
  return { metaArgs, stages };
}

export function toInstruction(node: Node): Instruction {
  const build = Object.hasOwn(BUILDERS, node.keyword) ? BUILDERS[node.keyword] : undefined;
  const word = writtenKeyword(node);
  try {
    if (!build) {
      const names = KNOWN_INSTRUCTIONS.map((k) => k.toUpperCase());
      throw new Error(withSuggestion(`unknown instruction: ${word}`, word, names, false));
    }
    return { line: node.startLine, original: node.original, ...build(node, new BuildFlags(node.flags)) } as Instruction;
  } catch (e) {
    if (e instanceof InstructionError) throw e;
    throw new InstructionError((e as Error).message, node.startLine);
  }
}

const writtenKeyword = (node: Node) => node.original.trim().split(/[\t\v\f\r ]+/)[0] ?? node.keyword;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Fields = DistributiveOmit<Instruction, keyof Base>;
type Builder = (node: Node, flags: BuildFlags) => Fields;

const atLeastOne = (name: string) => new Error(`${name} requires at least one argument`);
const exactlyOne = (name: string) => new Error(`${name} requires exactly one argument`);

function one(node: Node, name: string, flags?: BuildFlags): string {
  if (node.args.length !== 1) throw exactlyOne(name);
  flags?.parse();
  return node.args[0]!;
}

/** Exec form as is; shell form joined into one string. */
const commandLine = (node: Node) => (node.json || node.args.length === 0 ? node.args : [node.args.join(' ')]);

const BUILDERS: Record<string, Builder> = {
  from: (node, flags) => {
    const a = node.args;
    let stageName: string | undefined;
    if (a.length === 3 && a[1]!.toLowerCase() === 'as') {
      stageName = a[2]!.toLowerCase();
      if (!/^[a-z][a-z0-9_.-]*$/.test(stageName)) {
        throw new Error(`invalid name for build stage: ${goQuote(a[2]!)}, name can't start with a number or contain symbols`);
      }
    } else if (a.length !== 1) {
      throw new Error('FROM requires either one or three arguments');
    }
    const platform = flags.string('platform').parse().get('platform');
    return { kind: 'from', image: a[0]!, ...(stageName ? { stageName } : {}), ...(platform ? { platform } : {}) };
  },

  // BuildKit does not check ARG's flags.
  arg: (node) => {
    if (node.args.length === 0) throw atLeastOne('ARG');
    const args = node.args.map((word) => {
      const eq = word.indexOf('=');
      if (eq < 0) return { name: word };
      if (eq === 0) throw new Error('ARG names can not be blank');
      return { name: word.slice(0, eq), value: word.slice(eq + 1) };
    });
    return { kind: 'arg', args };
  },

  env: (node, flags) => ({ kind: 'env', pairs: keyValues(node, 'ENV', flags) }),
  label: (node, flags) => ({ kind: 'label', pairs: keyValues(node, 'LABEL', flags) }),
  maintainer: (node, flags) => ({ kind: 'maintainer', name: one(node, 'MAINTAINER', flags) }),
  workdir: (node, flags) => ({ kind: 'workdir', path: one(node, 'WORKDIR', flags) }),
  user: (node, flags) => ({ kind: 'user', user: one(node, 'USER', flags) }),
  // BuildKit does not check STOPSIGNAL's flags.
  stopsignal: (node) => ({ kind: 'stopsignal', signal: one(node, 'STOPSIGNAL') }),

  expose: (node, flags) => {
    if (node.args.length === 0) throw atLeastOne('EXPOSE');
    flags.parse();
    return { kind: 'expose', ports: [...node.args].sort() };
  },

  volume: (node, flags) => {
    if (node.args.length === 0) throw atLeastOne('VOLUME');
    flags.parse();
    const paths = node.args.map((v) => {
      const p = v.trim();
      if (p === '') throw new Error('VOLUME specified can not be an empty string');
      return p;
    });
    return { kind: 'volume', paths };
  },

  run: (node, flags) => {
    flags.strings('mount').string('network').string('security').parse();
    const mountSpecs = flags.all('mount');
    const mounts = mountSpecs.map((spec) => parseRunMount(spec));
    const network = flags.get('network');
    if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
      throw new Error(`invalid network mode ${goQuote(network)}`);
    }
    const security = flags.get('security');
    if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
      throw new Error(`security ${goQuote(security)} is not valid`);
    }
    return {
      kind: 'run',
      command: commandLine(node),
      json: node.json,
      heredocs: node.heredocs,
      mounts,
      mountSpecs,
      ...(network ? { network: network as 'default' | 'none' | 'host' } : {}),
      ...(security ? { security: security as 'sandbox' | 'insecure' } : {}),
    };
  },

  cmd: (node, flags) => {
    flags.parse();
    return { kind: 'cmd', command: commandLine(node), json: node.json };
  },
  entrypoint: (node, flags) => {
    flags.parse();
    return { kind: 'entrypoint', command: commandLine(node), json: node.json };
  },

  shell: (node, flags) => {
    flags.parse();
    const shell = commandLine(node);
    if (shell.length === 0) throw atLeastOne('SHELL');
    if (!node.json) throw new Error('SHELL requires the arguments to be in JSON form');
    return { kind: 'shell', shell };
  },

  healthcheck,
  copy: (node, flags) => copyOrAdd(node, 'copy', flags),
  add: (node, flags) => copyOrAdd(node, 'add', flags),

  onbuild: (node, flags) => {
    if (!node.next) throw atLeastOne('ONBUILD');
    flags.parse();
    const trigger = writtenKeyword(node.next).toUpperCase();
    if (trigger === 'ONBUILD') throw new Error('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new Error(`${trigger} isn't allowed as an ONBUILD trigger`);
    let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
    for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
    return { kind: 'onbuild', trigger: expression };
  },
};

function keyValues(node: Node, name: string, flags: BuildFlags): KeyValue[] {
  flags.parse();
  const a = node.args;
  if (a.length === 0) throw atLeastOne(name);
  if (a.length % 3 !== 0) throw new Error(`Bad input to ${name}, too many arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < a.length; i += 3) {
    if (a[i] === '') throw new Error(`${name} names can not be blank`);
    pairs.push({ key: a[i]!, value: a[i + 1]! });
  }
  return pairs;
}

function copyOrAdd(node: Node, kind: 'copy' | 'add', flags: BuildFlags): Fields {
  const NAME = kind.toUpperCase();
  if (node.args.length < 2) {
    throw new Error(`${NAME} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  flags.string('chown').string('chmod').bool('link').strings('exclude');
  if (kind === 'copy') flags.string('from').bool('parents');
  else flags.bool('keep-git-dir').string('checksum').bool('unpack');
  flags.parse();

  const dest = node.args[node.args.length - 1]!;
  if (parseHeredocMarker(dest)) throw new Error(`${NAME} cannot accept a heredoc as a destination`);
  const bodies = new Map(node.heredocs.map((h) => [h.name, h.content]));
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of node.args.slice(0, -1)) {
    // In exec form nothing was read as a heredoc: `["<<EOF", "/x"]` names a file.
    const marker = node.json ? undefined : parseHeredocMarker(src);
    if (marker) heredocs.push({ ...marker, content: bodies.get(marker.name) ?? '' });
    else sources.push(src);
  }
  const opt = (flag: string, key: string) => (flags.get(flag) ? { [key]: flags.get(flag) } : {});
  const optBool = (flag: string, key: string) => (flags.used(flag) ? { [key]: flags.isTrue(flag) } : {});
  return {
    kind,
    sources,
    dest,
    heredocs,
    ...opt('from', 'from'),
    ...opt('chown', 'chown'),
    ...opt('chmod', 'chmod'),
    link: flags.isTrue('link'),
    parents: flags.isTrue('parents'),
    exclude: flags.all('exclude'),
    ...opt('checksum', 'checksum'),
    ...optBool('keep-git-dir', 'keepGitDir'),
    ...optBool('unpack', 'unpack'),
  } as Fields;
}

const MIN_INTERVAL_NS = 1e6;

function healthcheck(node: Node, flags: BuildFlags): Fields {
  if (node.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = node.args[0]!.toUpperCase();
  const rest = node.args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) throw new Error('HEALTHCHECK NONE takes no arguments');
    return { kind: 'healthcheck', test: ['NONE'] };
  }
  const durations = { interval: 'interval', timeout: 'timeout', 'start-period': 'startPeriod', 'start-interval': 'startInterval' };
  for (const flag of Object.keys(durations)) flags.string(flag);
  flags.string('retries').parse();
  if (type !== 'CMD') throw new Error(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length ? [rest.join(' ')] : [];
  if (cmd.length === 0) throw new Error('Missing command after HEALTHCHECK CMD');

  const out: Record<string, unknown> = { kind: 'healthcheck', test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  for (const [flag, key] of Object.entries(durations)) {
    const value = flags.get(flag);
    if (value === undefined) continue;
    const ns = value === '' ? 0 : parseGoDuration(value);
    if (ns !== 0 && ns < MIN_INTERVAL_NS) throw new Error(`Interval ${goQuote(flag)} cannot be less than 1ms`);
    out[key] = ns;
  }
  const retries = flags.get('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new Error(`strconv.ParseInt: parsing ${goQuote(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new Error(`strconv.ParseInt: parsing ${goQuote(retries)}: value out of range`);
    if (n < 0) throw new Error(`--retries cannot be negative (${n})`);
    out.retries = n;
  }
  return out as Fields;
}
