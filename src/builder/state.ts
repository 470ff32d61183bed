/**
 * A build stage's state between steps: the image config so far (history and rootfs included),
 * its top layer, the cache key chain that led to it, and the digest of the config's bytes (the
 * id a step prints, and the image id if the build ends there). Every step makes a new state;
 * none is changed in place.
 */
import type { HistoryEntry, ImageConfig, RunConfig } from '../engine/image-config';
import type { Digest } from '../store/content-store';

export interface HealthcheckConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type BuildRunConfig = RunConfig & { Healthcheck?: HealthcheckConfig; ArgsEscaped?: boolean };

export interface BuildImageConfig extends ImageConfig {
  config: BuildRunConfig;
}

export interface State {
  config: BuildImageConfig;
  layer: Digest | null;
  key: string;
  id: Digest;
}

/** The config with `change` applied to its run config and one more history entry. */
export function withConfig(state: State, change: (c: BuildRunConfig) => void, createdBy: string, layerDiffId?: Digest): BuildImageConfig {
  const config = structuredClone(state.config);
  change(config.config);
  const created = new Date().toISOString();
  const entry: HistoryEntry = { created, created_by: createdBy, comment: 'buildkit.dockerfile.v0' };
  if (layerDiffId) config.rootfs.diff_ids.push(layerDiffId);
  else entry.empty_layer = true;
  config.history = [...(config.history ?? []), entry];
  config.created = created;
  return config;
}

/** Environment entries as a map (the last of a name wins, as in a process environment). */
export function envMap(env: string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/** Docker's ReplaceOrAppendEnvValues for one entry. */
export function setEnv(env: string[] | null | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === key);
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}
