/**
 * RUN: a container on the step's state (through the engine's container service, so it gets the
 * same runtime, isolation and networks as any other), its output streamed to the build, then
 * its writable layer read back as the step's layer. The container is removed whatever happens
 * (unless the build asked to keep it with --rm=false). Mount targets a RUN --mount made in the
 * writable layer are dropped from the layer, so a cache or secret path leaves no trace.
 */
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import { BerthError } from '../errors';
import type { Engine } from '../engine/engine';
import type { RunConfig } from '../engine/image-config';
import type { Digest } from '../store/content-store';
import { layerTar } from '../store/layer-diff';
import type { Layer } from '../store/layers';

export interface RunSpec {
  base: { id: Digest; layer: Digest | null; config: RunConfig };
  argv: string[];
  env: string[];
  user: string;
  workdir: string;
  network: string;
  mounts: Record<string, unknown>[];
  /** Container paths the mounts use: their stubs are removed from the layer. */
  mountTargets: string[];
  keepContainer: boolean;
}

export class RunFailed extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('invalid', message);
  }
}

export async function runStep(engine: Engine, spec: RunSpec, out: (text: string) => void): Promise<Layer> {
  if (spec.base.layer === null) throw new BerthError('invalid', 'cannot run a command on an empty filesystem (FROM scratch): there is no shell');
  const rec = engine.containers.create(
    {
      Image: spec.base.id,
      Cmd: spec.argv,
      Entrypoint: [],
      Env: spec.env,
      User: spec.user,
      WorkingDir: spec.workdir,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      Healthcheck: { Test: ['NONE'] },
      Labels: {},
      HostConfig: { NetworkMode: spec.network, Mounts: spec.mounts, AutoRemove: false },
    },
    undefined,
    [],
    { id: spec.base.id, topLayer: spec.base.layer, config: { ...spec.base.config, Healthcheck: undefined } as RunConfig },
  );
  out(` ---> Running in ${rec.id.slice(0, 12)}\n`);
  let removed = false;
  const remove = async () => {
    if (removed || spec.keepContainer) return;
    removed = true;
    await engine.containers.remove(rec.id, { force: true, volumes: true });
  };
  try {
    let ended!: () => void;
    const outputDone = new Promise<void>((r) => (ended = r));
    const sink = (b: Buffer) => out(b.toString('utf8'));
    const { detach } = await engine.containers.attach(rec.id, { stdout: sink, stderr: sink, end: () => ended() }, { stdin: false });
    const exited = engine.containers.wait(rec.id, 'next-exit');
    await engine.containers.start(rec.id);
    const { StatusCode } = await exited;
    // Output may trail the exit by a moment; never wait for it forever.
    await Promise.race([outputDone, new Promise((r) => setTimeout(r, 2000))]);
    detach();
    const shown = spec.argv.join(' ');
    if (StatusCode !== 0) throw new RunFailed(`The command '${shown}' returned a non-zero code: ${StatusCode}`, StatusCode);
    const lowers = engine.layers.stack(spec.base.layer).map((l) => engine.snapshots.layerPath(l));
    const upper = engine.snapshots.upperPath(rec.id);
    dropMountStubs(upper, lowers, spec.mountTargets);
    const layer = await engine.layers.apply(spec.base.layer, layerTar(upper, lowers));
    out(`Removing intermediate container ${rec.id.slice(0, 12)}\n`);
    return layer;
  } finally {
    await remove();
  }
}

/** Removes what runc made in the writable layer for a mount target the lower layers lack. */
function dropMountStubs(upper: string, lowers: string[], targets: string[]): void {
  for (const t of targets) {
    const parts = posix.normalize(`/${t}`).split('/').filter(Boolean);
    // The highest component that is new in this layer goes, with everything under it.
    for (let i = 1; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (lowers.some((l) => exists(join(l, p)))) continue;
      if (i < parts.length && !onlyLeadsTo(join(upper, p), parts.slice(i))) break;
      fs.rmSync(join(upper, p), { recursive: true, force: true });
      break;
    }
  }
}

/** Whether `dir` holds nothing but the path `rest` (a chain of stub directories). */
function onlyLeadsTo(dir: string, rest: string[]): boolean {
  let cur = dir;
  for (const name of rest) {
    let names: string[];
    try {
      names = fs.readdirSync(cur);
    } catch {
      return true;
    }
    if (names.length > 1 || (names.length === 1 && names[0] !== name)) return false;
    cur = join(cur, name);
  }
  return true;
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
