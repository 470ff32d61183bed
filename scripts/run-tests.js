#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner and ends with one summary line
// CI can read: "N passed, N failed, N skipped". Usage: run-tests.js [unit|e2e] [name-filter]
// Unit tests run in parallel; e2e files run one at a time (each starts its own daemon).
'use strict';
const { run } = require('node:test');
const { spec } = require('node:test/reporters');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist');
const [kind, filter] = process.argv.slice(2);

function find(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? find(p) : e.name.endsWith('.test.js') ? [p] : [];
  });
}

const unit = find(path.join(root, 'src'));
const e2e = find(path.join(root, 'test'));
const pick = (files) => (filter ? files.filter((f) => f.includes(filter)) : files);

async function runFiles(files, concurrency) {
  const counts = { pass: 0, fail: 0, skip: 0 };
  if (files.length === 0) return counts;
  const stream = run({ files, concurrency, timeout: 15 * 60 * 1000 });
  stream.on('test:pass', (e) => { if (e.details?.type !== 'suite') (e.skip || e.todo ? counts.skip++ : counts.pass++); });
  stream.on('test:fail', (e) => { if (e.details?.type !== 'suite') (e.todo ? counts.skip++ : counts.fail++); });
  await new Promise((resolve) => stream.compose(spec).on('end', resolve).pipe(process.stdout, { end: false }));
  return counts;
}

(async () => {
  const total = { pass: 0, fail: 0, skip: 0 };
  const add = (c) => { total.pass += c.pass; total.fail += c.fail; total.skip += c.skip; };
  if (kind !== 'e2e') add(await runFiles(pick(unit), Math.max(2, require('node:os').cpus().length)));
  if (kind !== 'unit') add(await runFiles(pick(e2e), 1));
  process.stdout.write(`\n${total.pass} passed, ${total.fail} failed, ${total.skip} skipped\n`);
  process.exitCode = total.fail > 0 || total.pass === 0 ? 1 : 0;
})();
