#!/usr/bin/env node
// A stand-in for berthd's POST /build that does no build: what `docker build` costs the docker CLI
// and the context transfer alone, the floor under bench/build-cache.sh. MODE:
//   null     reads the body and throws it away
//   receive  reads it through berth's own context receiver (dist/src/builder/context.js): each
//            file compared with the bytes kept from the last request, or hashed and kept when
//            they differ, as berthd does before its first build step
// Either way it answers a one-line classic build stream. Usage: context-sink.js SOCKET MODE DIR
// (DIR holds the receiver's kept files and database; runs until killed).
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const [socket, mode, dir] = process.argv.slice(2);
if (!socket || !['null', 'receive'].includes(mode) || !dir) {
  console.error('usage: context-sink.js SOCKET null|receive DIR');
  process.exit(2);
}
const dist = path.join(__dirname, '..', 'dist', 'src');
const { openDb } = require(path.join(dist, 'store', 'db.js'));
const { BuildContext, ContextBlobs } = require(path.join(dist, 'builder', 'context.js'));
fs.mkdirSync(dir, { recursive: true });
const blobs = new ContextBlobs(path.join(dir, 'context'), openDb(path.join(dir, 'berth.db')));

fs.rmSync(socket, { force: true });
const headers = { 'Api-Version': '1.50', Ostype: 'linux', 'Content-Type': 'application/json' };
let n = 0;
http
  .createServer(async (req, res) => {
    const route = (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0];
    if (route !== '/build') {
      req.resume();
      res.writeHead(200, headers);
      return res.end(route === '/_ping' ? 'OK' : '{}');
    }
    try {
      if (mode === 'null') {
        for await (const _ of req);
      } else {
        const ctx = await BuildContext.receive(req, path.join(dir, `req-${n++}`), blobs);
        ctx.dispose();
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ stream: 'Successfully built 0123456789ab\n' }) + '\r\n');
    } catch (e) {
      res.writeHead(500, headers);
      res.end(JSON.stringify({ message: String(e) }));
    }
  })
  .listen(socket);
