#!/usr/bin/env node
// A stand-in engine that answers the requests of `docker exec <c> true` and `docker run -d
// <image> <cmd>` at once, on a unix socket: what the docker CLI costs by itself (its start-up,
// its requests, its exit), the floor under any engine's figures for those two commands.
// Usage: instant-engine.js SOCKET (runs until killed).
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const socket = process.argv[2];
if (!socket) {
  console.error('usage: instant-engine.js SOCKET');
  process.exit(2);
}
fs.rmSync(socket, { force: true });
const headers = { 'Api-Version': '1.50', Ostype: 'linux', 'Content-Type': 'application/json' };
const reply = (res, status, body) => {
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
};
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0];
    if (path === '/_ping') return reply(res, 200, 'OK');
    if (/^\/containers\/[^/]+\/json$/.test(path)) return reply(res, 200, { Id: 'c', State: { Running: true, Status: 'running' }, Config: {}, HostConfig: {} });
    if (/^\/containers\/[^/]+\/exec$/.test(path)) return reply(res, 201, { Id: 'e' });
    if (path === '/exec/e/json') return reply(res, 200, { ID: 'e', Running: false, ExitCode: 0, Pid: 1 });
    if (path === '/containers/create') return reply(res, 201, { Id: 'c'.repeat(64), Warnings: [] });
    if (/^\/containers\/c+\/start$/.test(path)) {
      res.writeHead(204, headers);
      return res.end();
    }
    // `run -d` asks to be told of the exit and does not wait for the answer: it never comes.
    if (/^\/containers\/c+\/wait$/.test(path)) {
      res.writeHead(200, headers);
      return res.flushHeaders();
    }
    reply(res, 404, { message: `not in this stand-in: ${req.method} ${path}` });
  });
});
// The exec start: the CLI asks to upgrade the connection; the process "ran" and said nothing.
server.on('upgrade', (req, sock) => {
  sock.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
});
server.listen(socket);
