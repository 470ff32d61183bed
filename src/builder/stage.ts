/**
 * One stage of a build, step by step. Each step's cache key is its parent's key, the
 * instruction after expansion and what it reads (build args in scope, file contents for
 * COPY/ADD); a hit reuses the recorded config and layer as they are, a miss runs the step and
 * records it. Variables expand where Docker expands them (ADD, COPY, ENV, EXPOSE, FROM, LABEL,
 * STOPSIGNAL, USER, VOLUME, WORKDIR, ARG); RUN, CMD and ENTRYPOINT are left to the shell.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import { BerthError, invalid, messageOf } from '../errors';
import { type Instruction, type Stage, toInstruction } from '../dockerfile/instructions';
import { parseDockerfile } from '../dockerfile/parser';
import { type EscapeChar, processWord, processWords } from '../dockerfile/shell';
import type { Digest } from '../store/content-store';
import { parseReference, withDefaultTag } from '../wire/reference';
import { parsePlatform, type Platform, platformMatches } from '../distribution/manifest';
import type { Builder, BuildOptions, BuildOutput } from './builder';
import { PROXY_ARGS } from './builder';
import { cacheKey } from './cache';
import type { BuildContext, SourceTree } from './context';
import { collectSources, contentKey, copyInto, ensureDir } from './copy';
import { RootfsTree } from './rootfs-tree';
import { RunFailed, runStep } from './run-step';
import { type BuildImageConfig, type BuildRunConfig, envMap, setEnv, type State, withConfig } from './state';
import { layerTar } from '../store/layer-diff';
import { chainIdOf } from '../store/layers';
import { runMounts } from './run-mounts';
import { expandPorts, heredocCommand, ownerOf, parseMode, short, sortObject } from './step-values';
import { StagedTree } from './staged-tree';
import { download, isArchive } from './add-sources';
import { IgnoreMatcher } from '../dockerfile/ignore';
import { extractInRoot } from '../store/chroot-extract';
import { decompress } from '../store/compression';

export interface StageSpec {
  stage: Stage;
  index: number;
  escape: EscapeChar;
  meta: Map<string, string>;
  consumed: Set<string>;
  options: BuildOptions;
  out: BuildOutput;
  context: BuildContext;
  firstStep: number;
  total: number;
  fromImage: string;
  /** The final state of an earlier stage named `ref`, or undefined when no stage has that name. */
  stageRef(ref: string): Promise<State> | undefined;
}

export class StageRun {
  private state!: State;
  /** ARGs declared in this stage, with their values (undefined: declared, no value). */
  private readonly args = new Map<string, string | undefined>();
  private cmdSet = false;
  private step: number;

  constructor(
    private readonly b: Builder,
    private readonly s: StageSpec,
  ) {
    this.step = s.firstStep;
  }

  async run(): Promise<State> {
    const { stage } = this.s;
    this.say(`Step ${this.step++}/${this.s.total} : ${stage.from.original}\n`);
    this.state = await this.from(this.s.fromImage, stage.from.line);
    this.say(` ---> ${short(this.state.id)}\n`);
    const triggers = this.state.config.config.OnBuild ?? [];
    if (triggers.length > 0) await this.onBuild(triggers);
    for (const ins of stage.instructions) {
      this.say(`Step ${this.step++}/${this.s.total} : ${ins.original}\n`);
      try {
        await this.dispatch(ins);
      } catch (e) {
        // A failing RUN keeps Docker's own words (and its exit code).
        if (e instanceof RunFailed) throw e;
        throw new BerthError(e instanceof BerthError ? e.kind : 'internal', `Dockerfile:${ins.line}: ${messageOf(e)}`, { cause: e });
      }
    }
    return this.state;
  }

  private say(text: string): void {
    if (!this.s.options.quiet) this.s.out.stream(text);
  }

  // ---- FROM ------------------------------------------------------------------------------

  private async from(name: string, line: number): Promise<State> {
    if (name === '') throw invalid(`Dockerfile:${line}: base name (${this.s.stage.from.image}) should not be blank`);
    const stage = this.s.stageRef(name);
    if (stage) return await stage;
    if (name.toLowerCase() === 'scratch') return this.b.imageState(null);
    const raw = this.s.stage.from.platform;
    let platform: Platform | undefined;
    if (raw !== undefined) {
      const value = processWord(raw, this.s.meta, this.s.escape);
      try {
        platform = parsePlatform(value);
      } catch (e) {
        throw invalid(`Dockerfile:${line}: failed to parse platform ${value}: ${messageOf(e)}`);
      }
    }
    return this.b.imageState(await this.image(name, this.s.options.pull, line, platform));
  }

  /**
   * A local image by name, pulled when missing (or always, with --pull). With FROM --platform,
   * a local image of another platform does not do: the one asked for is pulled.
   */
  private async image(name: string, pull: boolean, line: number, platform?: Platform): Promise<Digest> {
    const engine = this.b.engine;
    const local = engine.images.lookup(name);
    const fits = (id: Digest) => {
      if (!platform) return true;
      const c = engine.images.config(id);
      return platformMatches(platform, { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) });
    };
    if (local && !pull && fits(local.id)) return local.id;
    let ref;
    try {
      ref = withDefaultTag(parseReference(name));
    } catch (e) {
      throw invalid(`Dockerfile:${line}: invalid reference format: ${name}: ${messageOf(e)}`);
    }
    this.say(`Pulling ${name}\n`);
    const { id } = await engine.puller.pull({ ref, creds: {}, ...(platform ? { platform } : {}), progress: (m) => { if (m.status && !m.progressDetail) this.say(`${m.id ? `${m.id}: ` : ''}${m.status}\n`); } });
    return id;
  }

  private async onBuild(triggers: string[]): Promise<void> {
    this.say(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
    for (const t of triggers) {
      const node = parseDockerfile(t).nodes[0];
      const ins = toInstruction(node);
      if (ins.kind === 'from' || ins.kind === 'onbuild') throw invalid(`${ins.kind.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      await this.dispatch(ins);
    }
    const config = structuredClone(this.state.config);
    config.config.OnBuild = null;
    this.state = { ...this.state, config, id: this.b.engine.content.putSmall(JSON.stringify(config)) };
    this.say(` ---> ${short(this.state.id)}\n`);
  }

  // ---- expansion ---------------------------------------------------------------------------

  /** ENV wins over ARG of the same name, as in Docker. */
  private env(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of envMap(this.state.config.config.Env)) m.set(k, v);
    return m;
  }

  private word(s: string): string {
    return processWord(s, this.env(), this.s.escape);
  }

  private words(s: string): string[] {
    return processWords(s, this.env(), this.s.escape);
  }

  /**
   * A heredoc body with its variables expanded and everything else as written (BuildKit's raw
   * quotes and escapes): quotes and escape characters are escaped first, so only `$` is special.
   */
  private raw(text: string): string {
    const esc = this.s.escape;
    const guarded = text.replace(esc === '`' ? /[`"']/g : /[\\"']/g, (c) => esc + c);
    return processWord(guarded, this.env(), esc);
  }

  /** Build args in scope for RUN (not in the image config): name=value, sorted. */
  private runArgs(): string[] {
    const env = envMap(this.state.config.config.Env);
    return [...this.args].filter(([k, v]) => v !== undefined && !env.has(k)).map(([k, v]) => `${k}=${v}`).sort();
  }

  // ---- steps -------------------------------------------------------------------------------

  private async dispatch(ins: Instruction): Promise<void> {
    switch (ins.kind) {
      case 'arg': return this.arg(ins);
      case 'env': {
        const pairs = ins.pairs.map((p) => [this.word(p.key), this.word(p.value)] as const);
        return this.configStep(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (c) => {
          for (const [k, v] of pairs) c.Env = setEnv(c.Env, k, v);
        });
      }
      case 'label': {
        const pairs = ins.pairs.map((p) => [this.word(p.key), this.word(p.value)] as const);
        return this.configStep(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (c) => {
          c.Labels = sortObject({ ...(c.Labels ?? {}), ...Object.fromEntries(pairs) });
        });
      }
      case 'cmd':
      case 'entrypoint': {
        const argv = ins.json ? ins.command : [...this.shell(), ins.command.join(' ')];
        const what = ins.kind === 'cmd' ? 'CMD' : 'ENTRYPOINT';
        const wasCmdSet = this.cmdSet;
        if (ins.kind === 'cmd') this.cmdSet = true;
        return this.configStep(`${what} ${JSON.stringify(argv)}`, (c) => {
          if (ins.kind === 'cmd') c.Cmd = argv;
          else {
            c.Entrypoint = argv;
            // An ENTRYPOINT drops a CMD inherited from the base image, not one set in this stage.
            if (!wasCmdSet) c.Cmd = null;
          }
        });
      }
      case 'shell': return this.configStep(`SHELL ${JSON.stringify(ins.shell)}`, (c) => { c.Shell = ins.shell; });
      case 'workdir': {
        const dir = this.word(ins.path);
        const cur = this.state.config.config.WorkingDir || '/';
        const next = posix.isAbsolute(dir) ? posix.normalize(dir) : posix.join(cur, dir);
        return this.configStep(`WORKDIR ${next}`, (c) => { c.WorkingDir = next; });
      }
      case 'user': {
        const user = this.word(ins.user);
        return this.configStep(`USER ${user}`, (c) => { c.User = user; });
      }
      case 'expose': {
        const ports = ins.ports.flatMap((p) => this.words(p)).flatMap(expandPorts);
        return this.configStep(`EXPOSE map[${ports.map((p) => `${p}:{}`).join(' ')}]`, (c) => {
          c.ExposedPorts = sortObject({ ...(c.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) });
        });
      }
      case 'volume': {
        const paths = ins.paths.flatMap((p) => this.words(p));
        if (paths.some((p) => p === '')) throw invalid('VOLUME specified can not be an empty string');
        return this.configStep(`VOLUME ${JSON.stringify(paths)}`, (c) => {
          c.Volumes = sortObject({ ...(c.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) });
        });
      }
      case 'stopsignal': {
        const sig = this.word(ins.signal);
        return this.configStep(`STOPSIGNAL ${sig}`, (c) => { c.StopSignal = sig; });
      }
      case 'maintainer': {
        const name = ins.name;
        await this.configStep(`MAINTAINER ${name}`, () => {});
        const config = structuredClone(this.state.config);
        config.author = name;
        this.state = { ...this.state, config, id: this.b.engine.content.putSmall(JSON.stringify(config)) };
        return;
      }
      case 'healthcheck': {
        const hc = ins.test[0] === 'NONE'
          ? { Test: ['NONE'] }
          : {
            Test: ins.test,
            ...(ins.interval ? { Interval: ins.interval } : {}),
            ...(ins.timeout ? { Timeout: ins.timeout } : {}),
            ...(ins.startPeriod ? { StartPeriod: ins.startPeriod } : {}),
            ...(ins.startInterval ? { StartInterval: ins.startInterval } : {}),
            ...(ins.retries ? { Retries: ins.retries } : {}),
          };
        return this.configStep(`HEALTHCHECK ${JSON.stringify(hc)}`, (c) => { c.Healthcheck = hc; });
      }
      case 'onbuild': return this.configStep(`ONBUILD ${ins.trigger}`, (c) => { c.OnBuild = [...(c.OnBuild ?? []), ins.trigger]; });
      case 'run': return this.runInstruction(ins);
      case 'copy':
      case 'add': return this.copy(ins);
      default:
        throw invalid(`unknown instruction: ${(ins as { original: string }).original.split(/\s/)[0].toUpperCase()}`);
    }
  }

  private shell(): string[] {
    return this.state.config.config.Shell ?? ['/bin/sh', '-c'];
  }

  private arg(ins: Extract<Instruction, { kind: 'arg' }>): Promise<void> {
    const shown: string[] = [];
    for (const { name, value } of ins.args) {
      const given = this.s.options.buildArgs[name];
      let v: string | undefined;
      if (given !== undefined && given !== null) {
        v = given;
        this.s.consumed.add(name);
      } else if (value !== undefined) v = this.word(value);
      else if (this.s.meta.has(name)) v = this.s.meta.get(name);
      this.args.set(name, v);
      shown.push(v === undefined ? name : `${name}=${v}`);
    }
    return this.configStep(`ARG ${shown.join(' ')}`, () => {});
  }

  /** A step that only changes the config: cached like any other, so a rebuild keeps its history timestamp. */
  private async configStep(createdBy: string, change: (c: BuildRunConfig) => void): Promise<void> {
    const key = cacheKey([this.state.key, 'config', createdBy, JSON.stringify(this.runArgs())]);
    if (this.useCache(key, createdBy, change)) return;
    const config = withConfig(this.state, change, createdBy);
    this.record(key, config, this.state.layer, 0);
  }

  /**
   * Looks the step up; on a hit the state moves to the cached result. Without an entry, a
   * --cache-from image may hold the step: its history (and layers) up to here must be ours,
   * and its next history entry this very step (`createdBy`); a layer step then reuses its layer.
   */
  private useCache(key: string, createdBy?: string, change?: (c: BuildRunConfig) => void): boolean {
    if (this.s.options.noCache) return false;
    const hit = this.b.cache.get(key) ?? (createdBy !== undefined ? this.fromCacheImages(key, createdBy, change) : undefined);
    if (!hit) return false;
    const config = JSON.parse(this.b.engine.content.readSmall(hit.config).toString('utf8')) as BuildImageConfig;
    config.config ??= {};
    this.state = { config, layer: hit.layer, key, id: hit.config };
    this.say(' ---> Using cache\n');
    this.say(` ---> ${short(hit.config)}\n`);
    return true;
  }

  private fromCacheImages(key: string, createdBy: string, change?: (c: BuildRunConfig) => void): { config: Digest; layer: Digest | null } | undefined {
    const engine = this.b.engine;
    const mine = this.state.config.history ?? [];
    const diffs = this.state.config.rootfs.diff_ids;
    for (const name of this.s.options.cacheFrom) {
      const img = engine.images.lookup(name);
      if (!img) continue;
      const theirs = engine.images.config(img.id);
      const h = theirs.history ?? [];
      if (h.length <= mine.length || !mine.every((e, i) => e.created_by === h[i].created_by && !!e.empty_layer === !!h[i].empty_layer)) continue;
      if (!diffs.every((d, i) => theirs.rootfs.diff_ids[i] === d)) continue;
      const next = h[mine.length];
      if (next.created_by !== createdBy) continue;
      let layer = this.state.layer;
      let diffId: Digest | undefined;
      if (!next.empty_layer) {
        diffId = theirs.rootfs.diff_ids[diffs.length];
        if (!diffId) continue;
        const chain = chainIdOf(this.state.layer, diffId);
        if (!engine.layers.get(chain)) continue;
        layer = chain;
      } else if (!change) continue;
      const config = withConfig(this.state, change ?? (() => {}), createdBy, diffId);
      config.history![config.history!.length - 1].created = next.created;
      if (next.created) config.created = next.created;
      const id = engine.content.putSmall(JSON.stringify(config));
      this.b.cache.put(key, { config: id, layer }, 0);
      return { config: id, layer };
    }
    return undefined;
  }

  private record(key: string, config: BuildImageConfig, layer: Digest | null, size: number): void {
    const id = this.b.engine.content.putSmall(JSON.stringify(config));
    this.b.cache.put(key, { config: id, layer }, size);
    this.state = { config, layer, key, id };
    this.say(` ---> ${short(id)}\n`);
  }

  // ---- RUN ---------------------------------------------------------------------------------

  private async runInstruction(ins: Extract<Instruction, { kind: 'run' }>): Promise<void> {
    const cfg = this.state.config.config;
    let argv = ins.json ? ins.command : [...this.shell(), ins.command.join(' ')];
    if (ins.heredocs.length > 0 && !ins.json) argv = heredocCommand(this.shell(), ins.command.join(' '), ins.heredocs);
    const args = this.runArgs();
    const mounts = await runMounts(this.b, ins.mounts, {
      context: this.s.context, secrets: this.s.options.secrets, stageRef: (r) => this.s.stageRef(r), word: (s) => this.word(s), line: ins.line,
    });
    const network = ins.network === 'none' ? 'none' : ins.network === 'host' ? 'host' : this.s.options.network || 'default';
    const shown = `RUN ${args.length ? `|${args.length} ${args.join(' ')} ` : ''}${argv.join(' ')} # buildkit`;
    const key = cacheKey([this.state.key, 'run', JSON.stringify(argv), JSON.stringify(args), JSON.stringify(cfg.Env ?? []), cfg.User ?? '', cfg.WorkingDir ?? '', network, mounts.key]);
    if (this.useCache(key, shown)) {
      mounts.release();
      return;
    }
    const proxy = Object.entries(this.s.options.buildArgs).filter(([k, v]) => PROXY_ARGS.includes(k) && v != null).map(([k, v]) => `${k}=${v}`);
    let layer;
    try {
      layer = await runStep(this.b.engine, {
        base: { id: this.state.id, layer: this.state.layer, config: cfg },
        argv,
        env: [...(cfg.Env ?? []), ...args, ...proxy, ...mounts.env],
        user: cfg.User ?? '',
        workdir: cfg.WorkingDir || '/',
        network,
        mounts: mounts.mounts,
        mountTargets: mounts.targets,
        keepContainer: this.s.options.keepContainers,
      }, (t) => this.say(t));
    } finally {
      mounts.release();
    }
    const config = withConfig(this.state, () => {}, shown, layer.diffId);
    this.record(key, config, layer.chainId, layer.size);
  }

  // ---- COPY / ADD --------------------------------------------------------------------------

  private async copy(ins: Extract<Instruction, { kind: 'copy' | 'add' }>): Promise<void> {
    const keyword = ins.kind.toUpperCase();
    const engine = this.b.engine;
    const sources = ins.sources.map((s) => this.word(s));
    let dest = this.word(ins.dest);
    const workdir = this.state.config.config.WorkingDir || '/';
    if (!posix.isAbsolute(dest)) {
      const dirSyntax = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
      dest = posix.join(workdir, dest);
      if (dirSyntax && !dest.endsWith('/')) dest += '/';
    }
    const urls = ins.kind === 'add' ? sources.filter((s) => /^https?:\/\//i.test(s)) : [];
    if (urls.length > 0 && urls.length !== sources.length) throw invalid(`${keyword} cannot mix URLs and local paths`);
    if (ins.heredocs.length > 0 && sources.length > 0) throw invalid(`${keyword} cannot mix heredocs and other sources`);

    const cleanups: (() => void)[] = [];
    try {
      let tree: SourceTree = this.s.context;
      let paths = sources;
      const from = ins.kind === 'copy' && ins.from ? this.word(ins.from) : undefined;
      if (from !== undefined) {
        const stage = this.s.stageRef(from);
        let layer: Digest | null;
        if (stage) layer = (await stage).layer;
        else {
          if (/^[a-z0-9_.-]+$/i.test(from) && !engine.images.lookup(from)) throw invalid(`invalid from flag value ${from}: no build stage or image named "${from}"`);
          layer = this.b.imageState(await this.image(from, false, ins.line)).layer;
        }
        const view = engine.snapshots.view(layer ? engine.layers.stack(layer) : []);
        cleanups.push(view.release);
        tree = new RootfsTree(view.root);
      } else if (ins.heredocs.length > 0 || urls.length > 0) {
        const staged = new StagedTree();
        const dir = join(engine.config.dataRoot, 'builder', 'tmp', randomBytes(8).toString('hex'));
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
        paths = [];
        for (const [i, h] of ins.heredocs.entries()) {
          const file = join(dir, String(i));
          const body = h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
          fs.writeFileSync(file, h.expand ? this.raw(body) : body);
          staged.add(h.name, file, 0o644, new Date(0));
          paths.push(h.name);
        }
        for (const [i, url] of urls.entries()) {
          const got = await download(url, join(dir, `url-${i}`), ins.checksum);
          staged.add(got.name, got.file, 0o600, got.mtime);
          paths.push(got.name);
        }
        tree = staged;
      }
      const notFound = (src: string) => from !== undefined
        ? invalid(`${keyword} failed: stat ${src}: file does not exist`)
        : invalid(`${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
      const picked = collectSources(tree, paths, notFound);
      const exclude = ins.exclude.length > 0 ? new IgnoreMatcher(ins.exclude.map((e) => this.word(e))) : undefined;
      const content = await contentKey(tree, picked);
      // ADD unpacks local tar archives into the destination.
      const archives = ins.kind === 'add' && urls.length === 0 && ins.unpack !== false
        ? new Set((await Promise.all(picked.map(async (p) => (p.node.type === 'file' && (await isArchive(tree, p.node)) ? p.node.path : '')))).filter(Boolean))
        : new Set<string>();
      const flags = JSON.stringify({ chown: ins.chown, chmod: ins.chmod, from, link: ins.link, parents: ins.parents, exclude: ins.exclude });
      const what = picked.length === 1 && picked[0].node.type === 'file' ? 'file' : 'dir';
      const shown = `${keyword} ${what}:${content} in ${dest} `;
      const key = cacheKey([this.state.key, ins.kind, JSON.stringify(paths), dest, flags, content]);
      if (this.useCache(key, shown)) return;

      const chmod = ins.chmod !== undefined ? parseMode(ins.chmod) : undefined;
      const snap = randomBytes(32).toString('hex');
      engine.snapshots.prepare(snap);
      try {
        // --link: the files go into a layer of their own, independent of what is below.
        const lowers = this.state.layer && !ins.link ? engine.layers.stack(this.state.layer) : [];
        // Volatile: the upper dir becomes a layer right after, which no unpacked layer is synced for either.
        const root = lowers.length ? engine.snapshots.mount(snap, lowers, { volatile: true }) : engine.snapshots.upperPath(snap);
        try {
          const chown = ins.chown !== undefined ? ownerOf(root, this.word(ins.chown)) : undefined;
          const plain = picked.filter((p) => !archives.has(p.node.path));
          if (plain.length > 0) {
            const multi = picked.length > 1 && !dest.endsWith('/');
            if (multi) throw invalid(`When using ${keyword} with more than one source file, the destination must be a directory and end with a /`);
            await copyInto(root, tree, plain, dest, { chown, chmod, parents: ins.parents, exclude: exclude && ((p, d) => exclude.ignores(p, d)) }, keyword);
          }
          for (const p of picked.filter((x) => archives.has(x.node.path))) {
            await ensureDir(root, dest, {});
            await extractInRoot(root, dest, decompress(tree.open(p.node) as AsyncIterable<Buffer>), { noOverwriteDirNonDir: false, ...(chown ? { chown } : {}) });
          }
        } finally {
          if (lowers.length) engine.snapshots.unmount(snap);
        }
        const parentLowers = this.state.layer ? engine.layers.stack(this.state.layer) : [];
        const upper = engine.snapshots.upperPath(snap);
        const layer = await engine.layers.adopt(this.state.layer, upper, layerTar(upper, parentLowers.map((l) => engine.snapshots.layerPath(l))));
        const config = withConfig(this.state, () => {}, shown, layer.diffId);
        this.record(key, config, layer.chainId, layer.size);
      } finally {
        engine.snapshots.remove(snap);
      }
    } finally {
      cleanups.reverse().forEach((f) => f());
    }
  }
}
