/**
 * The builder: a Dockerfile and a context in, an image out. The parser (../dockerfile) gives
 * typed stages; this plans which stages the target needs (a graph: FROM <stage>, COPY --from,
 * RUN --mount from=), builds independent stages at once, and runs each stage's steps in order
 * (stage.ts), every step keyed in the build cache by what it reads. Output is Docker's classic
 * build stream (Step N/M, ---> id, Successfully built), which the docker CLI prints as is and
 * `berth build` renders.
 */
import { BerthError, invalid, messageOf } from '../errors';
import type { Engine } from '../engine/engine';
import { hostArchitecture } from '../engine/image-config';
import { parseDockerfile } from '../dockerfile/parser';
import { type Stage, toStages } from '../dockerfile/instructions';
import { processWord } from '../dockerfile/shell';
import type { Digest } from '../store/content-store';
import { familiarName, parseReference, withDefaultTag } from '../wire/reference';
import { BuildCache, cacheKey } from './cache';
import { type BuildContext, ContextBlobs } from './context';
import { join, posix } from 'node:path';
import { IgnoreMatcher, parseDockerignore } from '../dockerfile/ignore';
import { StageRun } from './stage';
import type { BuildImageConfig, State } from './state';

export interface BuildOptions {
  /** The Dockerfile's path in the context. */
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  /** Images whose layers may stand in for steps (--cache-from). */
  cacheFrom: string[];
  pull: boolean;
  /** Keep RUN containers (--rm=false). */
  keepContainers: boolean;
  network?: string;
  secrets: Map<string, Buffer>;
  quiet: boolean;
}

export interface BuildOutput {
  stream(text: string): void;
  aux(value: Record<string, unknown>): void;
}

/** Args every build knows without an ARG line (Docker's predefined proxy args). */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export class Builder {
  readonly cache: BuildCache;
  /** Context files kept by content across builds, so an unchanged file is not received twice. */
  readonly contextBlobs: ContextBlobs;

  constructor(readonly engine: Engine) {
    this.cache = new BuildCache(engine.db, engine.content);
    this.contextBlobs = new ContextBlobs(join(engine.config.dataRoot, 'builder', 'context'), engine.db);
  }

  async build(context: BuildContext, o: BuildOptions, out: BuildOutput): Promise<Digest> {
    const text = context.readSmall(o.dockerfile);
    if (text === undefined) throw invalid(`Cannot locate specified Dockerfile: ${o.dockerfile}`);
    const df = parseDockerfile(text.toString('utf8'));
    // As Docker's daemon does: a Dockerfile or .dockerignore the .dockerignore names is read, then
    // leaves the context (the docker CLI names its generated Dockerfile there for -f outside it).
    const ignore = context.readSmall('.dockerignore');
    if (ignore !== undefined) {
      const m = new IgnoreMatcher(parseDockerignore(ignore.toString('utf8')));
      context.dropIgnored((p) => m.ignores(p, false), [posix.normalize(o.dockerfile).replace(/^\.?\//, ''), '.dockerignore']);
    }
    const { metaArgs, stages } = toStages(df);
    for (const t of o.tags) parseTag(t);

    // Meta args: the FROM lines' variables.
    const consumed = new Set<string>();
    const meta = new Map<string, string>();
    for (const a of metaArgs) {
      for (const { name, value } of a.args) {
        const given = o.buildArgs[name];
        if (given !== undefined && given !== null) {
          meta.set(name, given);
          consumed.add(name);
        } else if (value !== undefined) meta.set(name, processWord(value, meta, df.directives.escape));
      }
    }
    for (const [k, v] of platformArgs()) if (!meta.has(k)) meta.set(k, v);

    const names = new Map<string, number>();
    stages.forEach((s, i) => {
      if (s.name) names.set(s.name.toLowerCase(), i);
    });
    const target = o.target === undefined ? stages.length - 1 : names.get(o.target.toLowerCase());
    if (target === undefined) throw invalid(`failed to reach build target ${o.target} in Dockerfile`);

    const stageRef = (ref: string, before: number): number | undefined => {
      const byName = names.get(ref.toLowerCase());
      if (byName !== undefined && byName < before) return byName;
      if (/^\d+$/.test(ref) && Number(ref) < before) return Number(ref);
      return undefined;
    };
    const fromImage = (s: Stage) => processWord(s.from.image, meta, df.directives.escape);
    const deps = (i: number): number[] => {
      const s = stages[i];
      const out: number[] = [];
      const f = stageRef(fromImage(s), i);
      if (f !== undefined) out.push(f);
      for (const ins of s.instructions) {
        if ((ins.kind === 'copy' || ins.kind === 'add') && 'from' in ins && ins.from) {
          const d = stageRef(ins.from, i);
          if (d !== undefined) out.push(d);
        }
        if (ins.kind === 'run') for (const m of ins.mounts) if ('from' in m && m.from) {
          const d = stageRef(m.from, i);
          if (d !== undefined) out.push(d);
        }
      }
      return out;
    };
    const needed = new Set<number>();
    const visit = (i: number) => {
      if (needed.has(i)) return;
      needed.add(i);
      deps(i).forEach(visit);
    };
    visit(target);

    // Step numbers as the classic builder counts them: every instruction of every stage built.
    const order = [...needed].sort((a, b) => a - b);
    const total = order.reduce((n, i) => n + 1 + stages[i].instructions.length, 0);
    const firstStep = new Map<number, number>();
    let n = 1;
    for (const i of order) {
      firstStep.set(i, n);
      n += 1 + stages[i].instructions.length;
    }

    // Stages run at once, but their output reads in stage order, as a serial build's would:
    // a stage's lines wait until every stage before it has finished.
    const pending = new Map<number, string[]>(order.map((i) => [i, []]));
    let live = 0;
    const stageOut = (i: number): BuildOutput => ({
      stream: (text) => (order[live] === i ? out.stream(text) : pending.get(i)!.push(text)),
      aux: (v) => out.aux(v),
    });
    const done = new Set<number>();
    const finished = (i: number) => {
      done.add(i);
      if (order[live] !== i) return;
      for (live++; live < order.length; live++) {
        const j = order[live];
        for (const t of pending.get(j)!) out.stream(t);
        pending.set(j, []);
        if (!done.has(j)) break;
      }
    };
    /** On failure: whatever is held back goes out now, so a failing step's output is seen. */
    const flushAll = () => {
      for (const j of order.slice(live)) {
        for (const t of pending.get(j)!) out.stream(t);
        pending.set(j, []);
      }
      live = order.length;
    };
    const results = new Map<number, Promise<State>>();
    const stageResult = (i: number): Promise<State> => {
      let p = results.get(i);
      if (!p) {
        p = new StageRun(this, {
          stage: stages[i], index: i, escape: df.directives.escape, meta, consumed, options: o, out: stageOut(i), context,
          firstStep: firstStep.get(i)!, total,
          fromImage: fromImage(stages[i]),
          stageRef: (ref) => {
            const d = stageRef(ref, i);
            return d === undefined ? undefined : stageResult(d);
          },
        }).run().finally(() => finished(i));
        results.set(i, p);
      }
      return p;
    };
    // Independent stages start together; each awaits only what it reads.
    for (const i of order) void stageResult(i).catch(() => {});
    let final: State;
    try {
      final = await stageResult(target);
      await Promise.all(order.map((i) => stageResult(i)));
    } catch (e) {
      flushAll();
      throw e instanceof BerthError ? e : new BerthError('internal', messageOf(e), { cause: e });
    }

    if (Object.keys(o.labels).length > 0) {
      const config: BuildImageConfig = structuredClone(final.config);
      config.config.Labels = Object.fromEntries(Object.entries({ ...(config.config.Labels ?? {}), ...o.labels }).sort(([a], [b]) => (a < b ? -1 : 1)));
      final = { ...final, config, id: this.engine.content.putSmall(JSON.stringify(config)) };
    }
    const unused = Object.keys(o.buildArgs).filter((k) => !consumed.has(k) && !PROXY_ARGS.includes(k));
    if (unused.length > 0) out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    const id = this.engine.images.registerRaw(Buffer.from(JSON.stringify(final.config)));
    out.aux({ ID: id });
    if (!o.quiet) out.stream(`Successfully built ${id.slice(7, 19)}\n`);
    for (const t of o.tags) {
      const ref = parseTag(t);
      this.engine.images.tag(id, ref.repo, ref.tag);
      if (!o.quiet) out.stream(`Successfully tagged ${familiarName(withDefaultTag(parseReference(t)))}\n`);
    }
    this.engine.events.emit('image', 'build', id, {});
    return id;
  }

  /** The starting state of a stage on `imageId` (or on nothing). */
  imageState(imageId: Digest | null): State {
    if (imageId === null) {
      const config: BuildImageConfig = { architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
      return { config, layer: null, key: cacheKey(['from', 'scratch']), id: this.engine.content.putSmall(JSON.stringify(config)) };
    }
    const rec = this.engine.images.get(imageId)!;
    const config = structuredClone(this.engine.images.config(imageId)) as BuildImageConfig;
    config.config ??= {};
    return { config, layer: rec.topLayer, key: cacheKey(['from', imageId]), id: imageId };
  }
}

function parseTag(t: string): { repo: string; tag: string | undefined } {
  let ref;
  try {
    ref = parseReference(t);
  } catch (e) {
    throw invalid(`invalid tag "${t}": ${messageOf(e)}`);
  }
  if (ref.digest) throw invalid(`invalid tag "${t}": a tag cannot hold a digest`);
  const at = t.lastIndexOf(':');
  const slash = t.lastIndexOf('/');
  return at > slash ? { repo: t.slice(0, at), tag: t.slice(at + 1) } : { repo: t, tag: undefined };
}

/** BuildKit's automatic platform args (this builder builds for the host's platform). */
function platformArgs(): [string, string][] {
  const arch = hostArchitecture();
  const platform = `linux/${arch}`;
  return [
    ['TARGETPLATFORM', platform], ['TARGETOS', 'linux'], ['TARGETARCH', arch], ['TARGETVARIANT', ''],
    ['BUILDPLATFORM', platform], ['BUILDOS', 'linux'], ['BUILDARCH', arch], ['BUILDVARIANT', ''],
  ];
}
