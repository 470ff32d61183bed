/**
 * POST /containers/{id}/update: new resource limits (and restart policy) for a container.
 * The new values are stored in its HostConfig, so every later start applies them; a container
 * that has a runtime now (running, paused, or created and prepared) gets them at once through
 * `runc update`. If the runtime refuses, the stored HostConfig is put back, as Docker does.
 */
import { BerthError, conflict } from '../errors';
import type { Runc } from '../runtime/runc';
import type { Db } from '../store/db';
import type { ContainerService } from './containers';
import type { EventBus } from './events';
import { mergeUpdate, type UpdateRequest, updateResources, verifyUpdate } from './host-config';
import { validateRestartPolicy } from './restart-policy';

export interface UpdateDeps {
  containers: ContainerService;
  runc: Runc;
  db: Db;
  events: EventBus;
}

export async function updateContainer(d: UpdateDeps, ref: string, req: UpdateRequest): Promise<{ Warnings: string[] }> {
  const warnings = verifyUpdate(req);
  if (req.RestartPolicy?.Name) validateRestartPolicy(req.RestartPolicy, false);
  const c = d.containers.find(ref);
  await c.lock.run(async () => {
    if (c.removed) throw conflict(`Cannot update container ${c.id}: container is marked for removal and cannot be "update"`);
    const hc = c.r.spec.HostConfig;
    const before = structuredClone(hc);
    const cannot = (e: unknown) => new BerthError(
      e instanceof BerthError && e.kind !== 'internal' ? e.kind : 'internal',
      `Cannot update container ${c.id}: ${e instanceof Error ? e.message : String(e)}`,
    );
    try {
      mergeUpdate(hc, req);
    } catch (e) {
      throw cannot(e);
    }
    if (req.RestartPolicy?.Name) hc.RestartPolicy = validateRestartPolicy(req.RestartPolicy, false);
    // A created container's runtime may already exist (prepared at create): it gets the limits too.
    const live = c.running || (await d.runc.state(c.id).catch(() => null)) !== null;
    if (live) {
      const resources = updateResources(req, hc);
      if (Object.keys(resources).length > 0) {
        try {
          await d.runc.update(c.id, resources);
        } catch (e) {
          c.r.spec.HostConfig = before;
          throw cannot(e);
        }
      }
    }
    d.db.prepare('UPDATE containers SET spec = ? WHERE id = ?').run(JSON.stringify(c.r.spec), c.id);
  });
  d.events.emit('container', 'update', c.id, { image: c.r.spec.Config.Image, name: c.r.name, ...c.r.spec.Config.Labels });
  return { Warnings: warnings };
}
