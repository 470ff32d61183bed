/** Build contexts for the build tests: a fresh dir under the daemon's own dir, files as given. */
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import type { Daemon } from './harness';

/** path → content (parents made); returns the context's directory. */
export function makeContext(d: Daemon, files: Record<string, string | Buffer>): string {
  fs.mkdirSync(join(d.dir, 'contexts'), { recursive: true });
  const dir = fs.mkdtempSync(join(d.dir, 'contexts', 'c-'));
  for (const [path, content] of Object.entries(files)) {
    fs.mkdirSync(dirname(join(dir, path)), { recursive: true });
    fs.writeFileSync(join(dir, path), content);
  }
  return dir;
}
