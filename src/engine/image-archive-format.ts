/**
 * What docker save and docker load both need: the names Docker and containerd give an image in
 * index.json, the cap on a config read back from the content store, and the backpressure wait
 * of both tar streams (entries written on save, the parser fed on load).
 */
/**
 * The full image name in an index.json entry. A key of the archive format (docker save writes
 * it, docker load reads it), named by the project that defined it; berth calls no other engine.
 */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** Configs bigger than a memory file are read back from the store up to this size (as pulls). */
export const MAX_CONFIG_BYTES = 16 << 20;

/** Resolves on 'drain'; rejects when the stream is closed or closes first (its consumer is gone). */
export function drainedOrClosed(s: NodeJS.EventEmitter & { destroyed: boolean; destroying?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed || s.destroying) {
      reject(new Error('stream closed'));
      return;
    }
    const onDrain = () => { s.off('close', onClose); resolve(); };
    const onClose = () => { s.off('drain', onDrain); reject(new Error('stream closed')); };
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}
