/**
 * For the tests only: where the Dockerfile conformance corpus (../shared/conformance/dockerfile)
 * is. It lives beside the repository; a clone elsewhere on this machine finds it at
 * /work/shared, or through BERTH_CONFORMANCE_DIR. When it is nowhere, the path returned does
 * not exist and the tests that need it fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function conformanceCorpus(): string {
  // Compiled to dist/src/dockerfile/: four levels up is the repository's parent.
  const beside = path.resolve(__dirname, '../../../../shared/conformance/dockerfile');
  const places = [process.env.BERTH_CONFORMANCE_DIR ?? '', beside, '/work/shared/conformance/dockerfile'].filter(Boolean);
  return places.find((p) => fs.existsSync(p)) ?? beside;
}
