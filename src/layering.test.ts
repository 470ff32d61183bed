/**
 * Imports point one way: cli → client → (HTTP) → api → builder → engine → distribution, store, runtime;
 * dockerfile/ (pure) serves the builder, the API and the CLI.
 * wire/ holds pure formats both ends share and imports nothing else. A violation here is a design change:
 * make it on purpose, in ARCHITECTURE.md too.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { test } from 'node:test';

// Compiled to dist/src; read the TypeScript sources.
const SRC = resolve(__dirname, '..', '..', 'src');

/** Which top-level areas each area may import (besides itself, wire/, errors.ts, version.ts). */
const ALLOWED: Record<string, string[]> = {
  wire: [],
  store: [],
  runtime: ['store'],
  distribution: ['store'],
  // The registry server: the spec's endpoints over its own storage; the CLI runs it in-process.
  registry: ['distribution', 'store'],
  engine: ['store', 'runtime', 'distribution'],
  // Pure: the Dockerfile parser, word expansion and .dockerignore matching, for daemon and CLI.
  dockerfile: [],
  builder: ['dockerfile', 'engine', 'store', 'runtime', 'distribution'],
  api: ['builder', 'dockerfile', 'engine', 'store', 'runtime', 'distribution'],
  client: [],
  // Compose: the file loader and the orchestrator, through the API client like every command.
  compose: ['client'],
  cli: ['client', 'dockerfile', 'registry', 'compose'],
};
const SHARED = ['wire', 'errors.ts', 'version.ts', 'log.ts'];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const areaOf = (file: string) => relative(SRC, file).split('/')[0];

test('source areas import only the areas below them', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const area = areaOf(file);
    if (!(area in ALLOWED)) continue; // top-level entry points (berthd.ts) may wire anything
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = areaOf(resolve(dirname(file), m[1]));
      const ok = target === area || SHARED.includes(target) || SHARED.includes(`${target}.ts`) || ALLOWED[area].includes(target);
      if (!ok) violations.push(`${relative(SRC, file)} imports ${m[1]} (${area} → ${target})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('wire/ is pure: no I/O modules', () => {
  for (const file of files(join(SRC, 'wire'))) {
    const text = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /from 'node:(fs|net|http|child_process)'/, file);
  }
});
