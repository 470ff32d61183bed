/**
 * Docker Engine API versions. berth advertises a current version (Docker 29 clients refuse
 * anything below 1.44) and serves every version from 1.24, as a Docker engine does; clients
 * negotiate down through /_ping or /version.
 */
export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

/** Compares dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const versionAtLeast = (v: string, min: string) => compareVersions(v, min) >= 0;
