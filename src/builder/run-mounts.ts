/**
 * RUN --mount, as BuildKit's Dockerfile frontend defines it, turned into the container's mounts:
 *   cache   a directory kept under <data-root>/builder/cache/<hash of id>, across builds;
 *           sharing=locked lets one step at a time use it
 *   bind    a copy of a context path or of an earlier stage's path (writes are thrown away)
 *   tmpfs   a tmpfs
 *   secret  the secret's bytes in a file under the exec root (tmpfs), bound read-only: never in
 *           a layer (the mount stub is dropped), the history or the cache key
 * The cache key part covers what the step reads through the mounts: bind sources by content.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import { invalid } from '../errors';
import type { RunMount } from '../dockerfile/instructions';
import type { Builder } from './builder';
import type { BuildContext, SourceTree } from './context';
import { collectSources, contentKey, copyInto } from './copy';
import { RootfsTree } from './rootfs-tree';
import type { State } from './state';

export interface PreparedMounts {
  mounts: Record<string, unknown>[];
  targets: string[];
  env: string[];
  key: string;
  release(): void;
}

export interface MountContext {
  context: BuildContext;
  secrets: Map<string, Buffer>;
  stageRef(ref: string): Promise<State> | undefined;
  word(s: string): string;
  line: number;
}

/** Cache mounts with sharing=locked: one holder at a time per cache directory. */
const locks = new Map<string, Promise<void>>();

export async function runMounts(b: Builder, specs: RunMount[], m: MountContext): Promise<PreparedMounts> {
  const engine = b.engine;
  const mounts: Record<string, unknown>[] = [];
  const targets: string[] = [];
  const env: string[] = [];
  const keyParts: string[] = [];
  const cleanups: (() => void)[] = [];
  const release = () => cleanups.splice(0).reverse().forEach((f) => f());
  try {
    for (const spec of specs) {
      switch (spec.type) {
        case 'cache': {
          const target = abs(m.word(spec.target));
          const id = spec.id ? m.word(spec.id) : target;
          const dir = join(engine.config.dataRoot, 'builder', 'cache', createHash('sha256').update(id).digest('hex'));
          if (!fs.existsSync(dir)) {
            fs.mkdirSync(dir, { recursive: true, mode: spec.mode ?? 0o755 });
            fs.chmodSync(dir, spec.mode ?? 0o755);
            fs.chownSync(dir, spec.uid ?? 0, spec.gid ?? 0);
          }
          if (spec.sharing === 'locked') {
            const prev = locks.get(dir) ?? Promise.resolve();
            let free!: () => void;
            const mine = new Promise<void>((r) => (free = r));
            const chained = prev.then(() => mine);
            locks.set(dir, chained);
            await prev;
            cleanups.push(() => {
              free();
              if (locks.get(dir) === chained) locks.delete(dir);
            });
          }
          mounts.push({ Type: 'bind', Source: dir, Target: target, ReadOnly: spec.readonly });
          targets.push(target);
          keyParts.push(`cache:${target}`);
          break;
        }
        case 'bind': {
          const target = abs(m.word(spec.target));
          const source = spec.source ? m.word(spec.source) : '';
          let tree: SourceTree = m.context;
          if (spec.from) {
            const from = m.word(spec.from);
            const stage = m.stageRef(from);
            let layer;
            if (stage) layer = (await stage).layer;
            else {
              const img = engine.images.lookup(from);
              if (!img) throw invalid(`RUN --mount from=${from}: no build stage or image named "${from}"`);
              layer = img.topLayer;
            }
            const view = engine.snapshots.view(layer ? engine.layers.stack(layer) : []);
            cleanups.push(view.release);
            tree = new RootfsTree(view.root);
          }
          const picked = collectSources(tree, [source || '.'], (s) => invalid(`RUN --mount source ${s}: not found`));
          keyParts.push(`bind:${target}:${await contentKey(tree, picked)}`);
          const tmp = join(engine.config.dataRoot, 'builder', 'tmp', randomBytes(8).toString('hex'));
          fs.mkdirSync(tmp, { recursive: true, mode: 0o755 });
          cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
          await copyInto(tmp, tree, picked, '/', {}, 'RUN --mount');
          const node = picked[0].node;
          const bound = node.type === 'directory' ? tmp : join(tmp, posix.basename(node.path));
          mounts.push({ Type: 'bind', Source: bound, Target: target, ReadOnly: spec.readonly });
          targets.push(target);
          break;
        }
        case 'tmpfs': {
          const target = abs(m.word(spec.target));
          mounts.push({ Type: 'tmpfs', Target: target, ...(spec.size ? { TmpfsOptions: { SizeBytes: spec.size } } : {}) });
          targets.push(target);
          keyParts.push(`tmpfs:${target}`);
          break;
        }
        case 'secret': {
          const id = spec.id ?? (spec.target ? posix.basename(spec.target) : undefined);
          if (!id) throw invalid('RUN --mount=type=secret needs an id or a target');
          const data = m.secrets.get(id);
          if (!data) {
            if (spec.required) throw invalid(`secret ${id} not found: give it with --secret id=${id},src=<file>`);
            break;
          }
          if (spec.env) env.push(`${spec.env}=${data.toString('utf8')}`);
          if (spec.env && !spec.target) break;
          const target = abs(spec.target ?? `/run/secrets/${id}`);
          const dir = join(engine.config.execRoot, 'builder-secrets', randomBytes(8).toString('hex'));
          fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
          cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
          const file = join(dir, 'secret');
          fs.writeFileSync(file, data, { mode: spec.mode ?? 0o400 });
          fs.chmodSync(file, spec.mode ?? 0o400);
          fs.chownSync(file, spec.uid ?? 0, spec.gid ?? 0);
          mounts.push({ Type: 'bind', Source: file, Target: target, ReadOnly: true });
          targets.push(target);
          // The secret's id is part of the key, never its bytes.
          keyParts.push(`secret:${id}:${target}`);
          break;
        }
        case 'ssh':
          if (spec.required) throw invalid('RUN --mount=type=ssh is not supported by this builder');
          break;
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  return { mounts, targets, env, key: keyParts.join('\n'), release };
}

function abs(p: string): string {
  return posix.normalize(posix.isAbsolute(p) ? p : `/${p}`);
}
