#!/usr/bin/env node
// The npm registry reachable from berth's machines carries only the linux-x64 builds of
// node-unix-socket's prebuilt binaries. npm then cannot record the other platforms' optional
// packages in package-lock.json, and `npm ci` refuses the lock as out of sync. This adds them
// as the platform-restricted optional entries npm itself would write (they never install on
// linux-x64). Run it after any `npm install` that rewrites the lock.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const PLATFORMS = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm-gnueabihf': { os: ['linux'], cpu: ['arm'], libc: ['glibc'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
};

const parent = lock.packages['node_modules/node-unix-socket'];
if (!parent) throw new Error('node-unix-socket is not in package-lock.json');
const out = {};
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  out[key] = entry;
  if (key !== 'node_modules/node-unix-socket') continue;
  for (const [suffix, p] of Object.entries(PLATFORMS)) {
    const k = `node_modules/node-unix-socket-${suffix}`;
    if (lock.packages[k]) continue;
    out[k] = { version: parent.version, cpu: p.cpu, ...(p.libc ? { libc: p.libc } : {}), license: 'MIT', optional: true, os: p.os, engines: { node: '>= 10' } };
    added++;
  }
}
lock.packages = out;
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: ${added} platform entries added`);
