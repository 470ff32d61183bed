/** Temporary Compose projects for the loader's tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/** Writes `files` (relative path → text) under a fresh directory named `name`; returns its path. */
export function project(files: Record<string, string>, name = 'proj'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-test-'));
  roots.push(root);
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}

/** YAML from lines, so tests can count lines. */
export const yaml = (...lines: string[]) => lines.join('\n') + '\n';
