/**
 * Overlay marks opaque directories with `trusted.overlay.opaque`; reading it is how a writable
 * layer's diff (changes, commit) tells "replaced directory" from "changed directory".
 */
import { lgetxattr } from './syscalls';

/** Whether overlay treats the directory as opaque (it hides every lower directory at its path). */
export function isOpaqueDir(path: string): boolean {
  const v = lgetxattr(path, 'trusted.overlay.opaque');
  return v !== undefined && v.length === 1 && v[0] === 0x79; // 'y'
}
