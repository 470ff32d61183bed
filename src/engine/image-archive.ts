/**
 * docker save and docker load: images as tar archives. Save (image-archive-save.ts) writes
 * Docker 25's layout; load (image-archive-load.ts) reads that, older Docker archives and OCI
 * layouts. This class keeps both behind the one object the engine and the API routes use.
 */
import type { ProgressSink } from '../distribution/progress';
import type { Digest } from '../store/content-store';
import { ImageLoader, type ImageLoaderDeps } from './image-archive-load';
import { ImageSaver, type ImageSaverDeps, type SavePlan } from './image-archive-save';

export type { SavePlan } from './image-archive-save';

export type ImageArchiveDeps = ImageSaverDeps & ImageLoaderDeps;

export class ImageArchive {
  private readonly saver: ImageSaver;
  private readonly loader: ImageLoader;

  constructor(deps: ImageArchiveDeps) {
    this.saver = new ImageSaver(deps);
    this.loader = new ImageLoader(deps);
  }

  /** See ImageSaver.planSave: throws "No such image" before the caller sends a byte. */
  planSave(names: string[]): SavePlan {
    return this.saver.planSave(names);
  }

  /** See ImageSaver.save: a failure mid-way throws, and the caller must cut the connection. */
  save(plan: SavePlan, signal?: AbortSignal): AsyncGenerator<Buffer> {
    return this.saver.save(plan, signal);
  }

  load(archive: AsyncIterable<Buffer>, progress: ProgressSink): Promise<Digest[]> {
    return this.loader.load(archive, progress);
  }
}
