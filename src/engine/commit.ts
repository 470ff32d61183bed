/**
 * docker commit: a container's writable layer becomes a new image layer on top of the container's
 * image, with the container's Config (plus --change instructions) as the new image's config.
 * The container is frozen meanwhile unless asked not to (pause=false), as Docker does.
 */
import type { Digest } from '../store/content-store';
import { layerTar } from '../store/layer-diff';
import type { LayerStore } from '../store/layers';
import type { OverlaySnapshotter } from '../store/snapshots';
import type { ContainerConfig } from './container-model';
import type { ContainerService } from './containers';
import type { EventBus } from './events';
import { applyChanges, hostArchitecture, type ImageConfig, type RunConfig, sortedMap } from './image-config';
import type { ImageService } from './images';

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  /** Dockerfile instructions (CMD, ENV, …) applied to the config. */
  changes: string[];
  /** The request body: a Config that replaces the container's, merged with it as Docker merges. */
  config?: Partial<ContainerConfig>;
}

export interface CommitDeps {
  containers: ContainerService;
  images: ImageService;
  layers: LayerStore;
  snapshots: OverlaySnapshotter;
  events: EventBus;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

type Config = Partial<ContainerConfig> & RunConfig & { Healthcheck?: unknown };

export async function commitContainer(d: CommitDeps, ref: string, o: CommitOptions): Promise<Digest> {
  const c = d.containers.find(ref);
  const containerConfig = c.r.spec.Config as Config;
  // Applied before any work, so a bad instruction costs nothing (and leaves the container running).
  const config = mergeConfig(applyChanges(structuredClone(o.config ?? containerConfig) as RunConfig, o.changes) as Config, containerConfig);
  const parent = d.images.get(c.r.imageId) ? d.images.config(c.r.imageId) : undefined;
  const parentDiffIds = c.r.layer ? d.layers.stack(c.r.layer).map((l) => d.layers.get(l)!.diffId).reverse() : [];
  const lowers = c.r.layer ? d.layers.stack(c.r.layer).map((l) => d.snapshots.layerPath(l)) : [];
  let paused = false;
  if (o.pause && c.state.Status === 'running') {
    await d.containers.pause(c.id);
    paused = true;
  }
  let result: { id: Digest; ref: string };
  try {
    const created = new Date().toISOString();
    result = await d.images.commit(c.r.layer, layerTar(d.snapshots.upperPath(c.id), lowers), (diffId) => {
      const cfg: ImageConfig & { container: string } = {
        architecture: parent?.architecture ?? hostArchitecture(),
        os: parent?.os ?? 'linux',
        ...(parent?.variant ? { variant: parent.variant } : {}),
        created,
        ...(o.author ? { author: o.author } : {}),
        ...(o.comment ? { comment: o.comment } : {}),
        container: c.id,
        config,
        rootfs: { type: 'layers', diff_ids: [...parentDiffIds, diffId] },
        history: [
          ...(parent?.history ?? []),
          {
            created,
            ...(o.author ? { author: o.author } : {}),
            created_by: (containerConfig.Cmd ?? []).join(' '),
            ...(o.comment ? { comment: o.comment } : {}),
          },
        ],
      };
      return cfg;
    }, { repo: o.repo, tag: o.tag });
  } finally {
    if (paused) await d.containers.unpause(c.id).catch((e) => d.log('warn', 'unpause after commit failed', { id: c.id, error: String(e) }));
  }
  d.events.emit('container', 'commit', c.id, {
    comment: o.comment ?? '', image: c.r.spec.Config.Image, imageID: result.id, imageRef: result.ref, name: c.r.name, ...c.r.spec.Config.Labels,
  });
  return result.id;
}

const envKey = (e: string) => e.split('=', 1)[0];

/** moby's merge(userConf, imageConf) for commit: what the new config leaves empty comes from the container's. */
function mergeConfig(user: Config, from: Config): Config {
  const out: Config = { ...user };
  if (!out.User) out.User = from.User;
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) out.ExposedPorts = from.ExposedPorts;
  else if (from.ExposedPorts) out.ExposedPorts = sortedMap({ ...from.ExposedPorts, ...out.ExposedPorts });
  if (!out.Env || out.Env.length === 0) out.Env = from.Env;
  else out.Env = [...out.Env, ...(from.Env ?? []).filter((e) => !out.Env!.some((u) => envKey(u) === envKey(e)))];
  out.Labels = sortedMap({ ...(from.Labels ?? {}), ...(out.Labels ?? {}) });
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = from.Cmd;
    if (out.Entrypoint == null) out.Entrypoint = from.Entrypoint;
  }
  if (out.Healthcheck === undefined && from.Healthcheck !== undefined) out.Healthcheck = from.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = from.WorkingDir;
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = from.Volumes;
  else out.Volumes = sortedMap({ ...out.Volumes, ...(from.Volumes ?? {}) });
  if (!out.StopSignal && from.StopSignal) out.StopSignal = from.StopSignal;
  return out;
}
