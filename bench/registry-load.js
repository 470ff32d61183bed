// Load generator for bench/registry.sh: GETs of one manifest over keep-alive connections,
// CONCURRENCY at a time, until SECONDS have passed or MAX requests were sent, whichever first.
// Prints "<200 answers> <other answers> <errors> <seconds> <200 answers per second>"; the
// first non-200 answer goes to stderr with its body so a failing server is visible.
// Usage: node bench/registry-load.js URL [CONCURRENCY=16] [SECONDS=3] [MAX=20000]
'use strict';
const http = require('node:http');

const [url, concurrency = '16', seconds = '3', max = '20000'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node bench/registry-load.js URL [CONCURRENCY] [SECONDS] [MAX]');
  process.exit(2);
}
const conns = Number(concurrency);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const accept = 'application/vnd.docker.distribution.manifest.v2+json';
const deadline = performance.now() + Number(seconds) * 1000;
const limit = Number(max);
let sent = 0;
let ok = 0;
let other = 0;
let errors = 0;
let reported = false;

function once() {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, headers: { Accept: accept } }, (res) => {
      const chunks = [];
      res.on('data', (c) => res.statusCode !== 200 && chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) ok++;
        else {
          other++;
          if (!reported) {
            reported = true;
            console.error(`GET ${new URL(url).pathname} -> ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 2000)}`);
          }
        }
        resolve();
      });
      res.on('error', () => (errors++, resolve()));
    });
    req.on('error', (e) => {
      errors++;
      if (!reported) {
        reported = true;
        console.error(`GET ${new URL(url).pathname} -> ${e.message}`);
      }
      resolve();
    });
  });
}

// One worker per connection: each sends its next request when the last one is answered.
async function worker() {
  while (sent < limit && performance.now() < deadline) {
    sent++;
    await once();
  }
}

(async () => {
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, worker));
  const secs = (performance.now() - start) / 1000;
  agent.destroy();
  console.log(`${ok} ${other} ${errors} ${secs.toFixed(3)} ${Math.round(ok / secs)}`);
})();
