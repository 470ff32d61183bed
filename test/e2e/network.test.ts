/**
 * Networks end to end: the default bridge with published ports (TCP and UDP) reached from the
 * host and from other containers, user-defined networks with DNS by name and alias, isolation
 * between networks, internal networks, port conflicts, exact teardown, a daemon restart, and the
 * docker CLI's network commands. Traffic stays on loopback, the host's own addresses (local
 * delivery) and the bridges this daemon makes; DNS upstreams are on loopback (harness.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { answer, isFormatError, parseQuery } from '../../src/engine/dns-message';
import { Daemon, REPO, useDaemon } from './harness';

/** busybox has no UDP server: a static echo server (fixtures/udp-echo.c), built once into .cache. */
function udpEcho(): string {
  const out = join(REPO, '.cache', 'udp-echo');
  if (!fs.existsSync(out)) {
    fs.mkdirSync(join(REPO, '.cache'), { recursive: true });
    execFileSync('cc', ['-O2', '-static', '-o', out, join(REPO, 'test', 'e2e', 'fixtures', 'udp-echo.c')]);
  }
  return out;
}

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const WEB = (port: number, page: string) => ['sh', '-c', `mkdir -p /www && echo ${page} > /www/index.html && exec httpd -f -p ${port} -h /www`];

const ok = (args: string[]) => d.dockerOk(args);

/** GET with retries while the server starts (bounded: 50 × 100 ms). */
async function get(host: string, port: number): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get({ host, port, path: '/', timeout: 2000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`GET http://${host}:${port}/ failed: ${String(last)}`);
}

/** Sends `text` over UDP to host:port (again every 200 ms, 30 times at most); resolves to the first reply. */
function udpAsk(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    let tries = 0;
    const send = () => sock.send(text, port, host);
    const timer = setInterval(() => {
      if (++tries > 30) {
        clearInterval(timer);
        sock.close();
        reject(new Error(`no UDP answer from ${host}:${port}`));
      } else send();
    }, 200);
    sock.on('message', (msg) => {
      clearInterval(timer);
      sock.close();
      resolve(msg.toString());
    });
    send();
  });
}

/** The host's own non-loopback IPv4 address, if it has one. */
function hostAddress(): string | undefined {
  return Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.'))?.address;
}

/** The host has IPv6: published ports are on [::] too. */
const V6 = fs.existsSync('/proc/net/if_inet6');
/** `docker port` lines for a TCP port published on every address. */
const portLines = (port: string, host: number) => `${port} -> 0.0.0.0:${host}\n${V6 ? `${port} -> [::]:${host}\n` : ''}`;
/** The host's own global IPv6 address, if it has one. */
function hostAddress6(): string | undefined {
  return Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv6' && !a.internal && !a.address.startsWith('fe80') && a.scopeid === 0)?.address;
}

const inspect = async (ref: string, format: string) => (await ok(['inspect', '-f', format, ref])).trim();

test('a published TCP port answers on 127.0.0.1, on the host address and from another container; docker port and ps show it', async () => {
  const id = (await ok(['run', '-d', '--name', 'web', '-p', '18080:8080', 'busybox', ...WEB(8080, 'hello-tcp')])).trim();
  assert.equal(await get('127.0.0.1', 18080), 'hello-tcp\n');
  const addr = hostAddress();
  if (addr) assert.equal(await get(addr, 18080), 'hello-tcp\n');
  assert.equal(await ok(['port', 'web']), portLines('8080/tcp', 18080));
  if (V6) {
    // IPv6: the container has none, so berthd's socket on [::]:18080 carries the connection.
    assert.equal(await get('::1', 18080), 'hello-tcp\n');
    const addr6 = hostAddress6();
    if (addr6) assert.equal(await get(addr6, 18080), 'hello-tcp\n');
  }
  assert.match(await ok(['ps', '--format', '{{.Ports}}', '-f', `id=${id}`]), /0\.0\.0\.0:18080->8080\/tcp/);
  for (const filter of ['publish=18080', 'publish=18000-18100/tcp', 'expose=8080', 'network=bridge']) {
    assert.equal(await ok(['ps', '-q', '-f', filter]), `${id.slice(0, 12)}\n`, filter);
  }
  assert.equal(await ok(['ps', '-q', '-f', 'publish=18081']), '');
  const ports = JSON.parse(await inspect('web', '{{json .NetworkSettings.Ports}}'));
  assert.deepEqual(ports, { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '18080' }, ...(V6 ? [{ HostIp: '::', HostPort: '18080' }] : [])] });
  // From another container: through the gateway's published port and straight to the address.
  const ip = await inspect('web', '{{.NetworkSettings.IPAddress}}');
  const gw = await inspect('web', '{{.NetworkSettings.Gateway}}');
  const out = await ok(['run', '--rm', 'busybox', 'sh', '-c', `timeout 5 wget -q -O- http://${gw}:18080/ && timeout 5 wget -q -O- http://${ip}:8080/`]);
  assert.equal(out, 'hello-tcp\nhello-tcp\n');
});

test('a second container asking for a taken host port fails with a clear error and the first keeps serving', async () => {
  const r = await d.docker(['run', '-d', '--name', 'web2', '-p', '18080:8080', 'busybox', ...WEB(8080, 'second')]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /Bind for 0\.0\.0\.0:18080 failed: port is already allocated/);
  assert.equal(await get('127.0.0.1', 18080), 'hello-tcp\n');
  await ok(['rm', '-f', 'web2']);
  assert.equal(await get('127.0.0.1', 18080), 'hello-tcp\n');
});

test('a published UDP port reaches the container from 127.0.0.1 and from another container', async () => {
  await ok(['run', '-d', '--name', 'udp', '-p', '18053:5353/udp', 'busybox', 'sleep', '300']);
  await ok(['cp', udpEcho(), 'udp:/udp-echo']);
  await ok(['exec', '-d', 'udp', '/udp-echo', '5353']);
  assert.equal(await udpAsk('127.0.0.1', 18053, 'ping-1'), 'echo:ping-1');
  const addr = hostAddress();
  if (addr) assert.equal(await udpAsk(addr, 18053, 'ping-2'), 'echo:ping-2');
  assert.equal(await ok(['port', 'udp', '5353/udp']), '0.0.0.0:18053\n');
  assert.deepEqual(JSON.parse(await inspect('udp', '{{json .NetworkSettings.Ports}}')), { '5353/udp': [{ HostIp: '0.0.0.0', HostPort: '18053' }] });
  await ok(['rm', '-f', 'udp']);
});

test('-p with ranges maps each port of the range', async () => {
  await ok(['run', '-d', '--name', 'ranged', '-p', '18101-18102:8001-8002', 'busybox', 'sh', '-c',
    'mkdir -p /a /b && echo a > /a/index.html && echo b > /b/index.html && httpd -p 8001 -h /a && exec httpd -f -p 8002 -h /b']);
  assert.equal(await get('127.0.0.1', 18101), 'a\n');
  assert.equal(await get('127.0.0.1', 18102), 'b\n');
  assert.equal(await ok(['port', 'ranged']), portLines('8001/tcp', 18101) + portLines('8002/tcp', 18102));
  await ok(['rm', '-f', 'ranged']);
});

test('-p with an ephemeral host port and -P for exposed ports get ports the kernel chose', async () => {
  await ok(['run', '-d', '--name', 'eph', '-p', '8080', '--expose', '9090', '-P', 'busybox', ...WEB(8080, 'eph')]);
  const ports = JSON.parse(await inspect('eph', '{{json .NetworkSettings.Ports}}')) as Record<string, { HostPort: string }[]>;
  const p8080 = Number(ports['8080/tcp']![0]!.HostPort);
  assert.ok(p8080 > 1024, `an ephemeral port: ${p8080}`);
  assert.ok(Number(ports['9090/tcp']![0]!.HostPort) > 1024);
  assert.equal(await get('127.0.0.1', p8080), 'eph\n');
  await ok(['rm', '-f', 'eph']);
});

test('docker network create/ls/inspect/connect/disconnect/rm', async () => {
  const id = (await ok(['network', 'create', '--subnet', '10.231.0.0/24', '--gateway', '10.231.0.254', '--ip-range', '10.231.0.128/25', '--label', 'team=a', 'front'])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.match(await ok(['network', 'ls']), new RegExp(`${id.slice(0, 12)}\\s+front\\s+bridge\\s+local`));
  assert.equal(await ok(['network', 'ls', '-q', '-f', 'label=team=a']), `${id.slice(0, 12)}\n`);
  const net = JSON.parse(await ok(['network', 'inspect', 'front']))[0];
  assert.deepEqual(net.IPAM.Config, [{ Subnet: '10.231.0.0/24', Gateway: '10.231.0.254', IPRange: '10.231.0.128/25' }]);
  assert.equal(net.Labels.team, 'a');
  await ok(['run', '-d', '--name', 'c1', 'busybox', 'sleep', '300']);
  await ok(['network', 'connect', '--alias', 'one', '--ip', '10.231.0.200', 'front', 'c1']);
  const nets = JSON.parse(await inspect('c1', '{{json .NetworkSettings.Networks}}'));
  assert.deepEqual(Object.keys(nets).sort(), ['bridge', 'front']);
  assert.equal(nets.front.IPAddress, '10.231.0.200');
  assert.deepEqual(nets.front.Aliases, ['one']);
  assert.match(await ok(['exec', 'c1', 'ip', '-4', 'addr']), /inet 10\.231\.0\.200\/24/);
  const shown = JSON.parse(await ok(['network', 'inspect', 'front']))[0].Containers;
  assert.equal(Object.values(shown as Record<string, { Name: string; IPv4Address: string }>)[0]!.IPv4Address, '10.231.0.200/24');
  const rmBusy = await d.docker(['network', 'rm', 'front']);
  assert.equal(rmBusy.code, 1);
  assert.match(rmBusy.stderr, /has active endpoints/);
  await ok(['network', 'disconnect', 'front', 'c1']);
  assert.doesNotMatch(await ok(['exec', 'c1', 'ip', '-4', 'addr']), /10\.231\.0\./);
  assert.equal(await ok(['network', 'rm', 'front']), 'front\n');
  const gone = await d.docker(['network', 'inspect', 'front']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /network front not found/);
  await ok(['rm', '-f', 'c1']);
  assert.match((await d.docker(['network', 'rm', 'bridge'])).stderr, /bridge is a pre-defined network and cannot be removed/);
});

test('a created container disconnected and connected again (as docker-compose 1.29 does) starts on the network it has then', async () => {
  await ok(['network', 'create', '--subnet', '10.232.0.0/24', 'later']);
  for (let i = 0; i < 3; i++) {
    // berthd prepares a created container's runtime ahead of its start; the change must not find the old one wired.
    await ok(['create', '--name', `moved${i}`, 'busybox', 'sleep', '300']);
    await ok(['network', 'disconnect', 'bridge', `moved${i}`]);
    await ok(['network', 'connect', '--alias', 'moved', 'later', `moved${i}`]);
    await ok(['start', `moved${i}`]);
    const nets = JSON.parse(await inspect(`moved${i}`, '{{json .NetworkSettings.Networks}}'));
    assert.deepEqual(Object.keys(nets), ['later']);
    assert.match(nets.later.IPAddress, /^10\.232\.0\./);
    assert.match(await ok(['exec', `moved${i}`, 'ip', '-4', 'addr']), new RegExp(`inet ${nets.later.IPAddress.replace(/\./g, '\\.')}/24`));
  }
  await ok(['rm', '-f', 'moved0', 'moved1', 'moved2']);
  await ok(['network', 'rm', 'later']);
});

test('the berth CLI: network create/ls/inspect/connect/disconnect/prune/rm and port', async () => {
  const b = async (args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const id = (await b(['network', 'create', '--subnet', '10.233.0.0/24', 'bnet'])).trim();
  assert.match(await b(['network', 'ls']), new RegExp(`^NETWORK ID\\s+NAME\\s+DRIVER\\s+SCOPE\\n[^]*${id.slice(0, 12)}\\s+bnet\\s+bridge\\s+local\\n`));
  assert.equal(await b(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', 'bnet']), '10.233.0.0/24 10.233.0.1\n');
  await b(['run', '-d', '--name', 'bc', '-p', '127.0.0.1:18085:8080', 'busybox', ...WEB(8080, 'berth-cli')]);
  assert.equal(await b(['port', 'bc']), '8080/tcp -> 127.0.0.1:18085\n');
  assert.equal(await get('127.0.0.1', 18085), 'berth-cli\n');
  await b(['network', 'connect', '--ip', '10.233.0.9', 'bnet', 'bc']);
  assert.match(await b(['exec', 'bc', 'ip', '-4', 'addr']), /inet 10\.233\.0\.9\/24/);
  await b(['network', 'disconnect', 'bnet', 'bc']);
  await b(['rm', '-f', 'bc']);
  await b(['network', 'create', 'unused']);
  assert.match(await b(['network', 'prune', '-f']), /^Deleted Networks:\n(bnet\nunused|unused\nbnet)\n/);
  const missing = await d.berth(['network', 'rm', 'bnet']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /network bnet not found/);
});

test('on a user-defined network containers reach each other by name, alias and short id; another network cannot reach them; an internal network has no way out', async () => {
  await ok(['network', 'create', 'apps']);
  await ok(['network', 'create', 'other']);
  await ok(['network', 'create', '--internal', 'sealed']);
  const id = (await ok(['run', '-d', '--name', 'api', '--network', 'apps', '--network-alias', 'backend', 'busybox', ...WEB(80, 'api-page')])).trim();
  const byName = await ok(['run', '--rm', '--network', 'apps', 'busybox', 'sh', '-c',
    `for n in api backend ${id.slice(0, 12)}; do timeout 5 wget -q -O- http://$n/ || echo "failed $n"; done; nslookup api | grep -c Address`]);
  assert.equal(byName, 'api-page\napi-page\napi-page\n2\n');
  const ip = JSON.parse(await inspect('api', '{{json .NetworkSettings.Networks}}')).apps.IPAddress as string;
  // From another network: not by name, not by address; but a published port is public (web, on the default bridge).
  const otherGw = JSON.parse(await ok(['network', 'inspect', 'other']))[0].IPAM.Config[0].Gateway as string;
  const other = await d.docker(['run', '--rm', '--network', 'other', 'busybox', 'sh', '-c',
    `nslookup api >/dev/null 2>&1 && echo resolved; timeout 3 wget -q -O- http://${ip}/ || echo unreachable; timeout 5 wget -q -O- http://${otherGw}:18080/`]);
  assert.equal(other.stdout, 'unreachable\nhello-tcp\n', other.stderr);
  const sealed = await d.docker(['run', '--rm', '--network', 'sealed', 'busybox', 'sh', '-c', `ip route | grep -c default; timeout 3 wget -q -O- http://${ip}/ || echo unreachable`]);
  assert.equal(sealed.stdout, '0\nunreachable\n', sealed.stderr);
  await ok(['rm', '-f', 'api']);
  for (const n of ['apps', 'other', 'sealed']) await ok(['network', 'rm', n]);
});

test('--ipv6: containers get an IPv6 address and route, AAAA records by name, isolation; the rules go with the network', async () => {
  await ok(['network', 'create', '--ipv6', '--subnet', '10.234.0.0/24', '--subnet', 'fd42:b:1::/64', 'six']);
  await ok(['network', 'create', '--ipv6', 'six2']);
  const cfg = JSON.parse(await ok(['network', 'inspect', 'six']))[0];
  assert.equal(cfg.EnableIPv6, true);
  assert.deepEqual(cfg.IPAM.Config, [{ Subnet: '10.234.0.0/24', Gateway: '10.234.0.1' }, { Subnet: 'fd42:b:1::/64', Gateway: 'fd42:b:1::1' }]);
  assert.match(JSON.parse(await ok(['network', 'inspect', 'six2']))[0].IPAM.Config[1].Subnet, /^fd[0-9a-f]{2}:[0-9a-f:]+::\/64$/, 'a ULA /64 when none is given');
  await ok(['run', '-d', '--name', 'v6srv', '--network', 'six', 'busybox', 'sleep', '300']);
  const net = JSON.parse(await inspect('v6srv', '{{json .NetworkSettings.Networks.six}}'));
  assert.equal(net.GlobalIPv6Address, 'fd42:b:1::2');
  assert.equal(net.GlobalIPv6PrefixLen, 64);
  assert.equal(net.IPv6Gateway, 'fd42:b:1::1');
  const out = await ok(['run', '--rm', '--network', 'six', 'busybox', 'sh', '-c',
    'ip -6 route | grep -c "^default via fd42:b:1::1"; nslookup -type=aaaa v6srv | grep -c "fd42:b:1::2"; ping6 -c1 -W3 v6srv >/dev/null && echo ping6-ok']);
  assert.equal(out, '1\n1\nping6-ok\n');
  const other = await d.docker(['run', '--rm', '--network', 'six2', 'busybox', 'sh', '-c', 'ping6 -c1 -W2 fd42:b:1::2 >/dev/null 2>&1 || echo unreachable']);
  assert.equal(other.stdout, 'unreachable\n');
  assert.ok(d.rules().some((r) => r.startsWith('6 ') && r.includes('fd42:b:1::/64')), 'IPv6 MASQUERADE for the subnet');
  // A published port of a container with IPv6: DNAT to its IPv6 address from the host's own
  // IPv6 address; [::1] through berthd's socket.
  await ok(['run', '-d', '--name', 'v6web', '--network', 'six', '-p', '18096:8080', 'busybox', ...WEB(8080, 'six-web')]);
  const web6 = JSON.parse(await inspect('v6web', '{{json .NetworkSettings.Networks.six}}')).GlobalIPv6Address as string;
  assert.ok(d.rules().some((r) => r.startsWith('6 ') && r.includes(`--to-destination [${web6}]:8080`)), 'an ip6tables DNAT rule');
  assert.equal(await get('::1', 18096), 'six-web\n');
  const addr6 = hostAddress6();
  if (addr6) assert.equal(await get(addr6, 18096), 'six-web\n');
  assert.equal(await get('127.0.0.1', 18096), 'six-web\n');
  await ok(['rm', '-f', 'v6web']);
  // The runtime's teardown trails the removal by a little: bounded wait.
  for (let i = 0; i < 50 && d.rules().some((r) => r.startsWith('6 ') && r.includes('--to-destination')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(d.rules().some((r) => r.startsWith('6 ') && r.includes('--to-destination')), false, 'the DNAT rule went with the container');
  await ok(['rm', '-f', 'v6srv']);
  await ok(['network', 'rm', 'six', 'six2']);
  assert.equal(d.rules().some((r) => r.startsWith('6 ')), false, 'no ip6tables rule of this daemon is left');
});

test('outbound traffic is masqueraded: a server outside (a namespace of the test, routed from the host) sees the host, not the container', async () => {
  const tag = randomBytes(3).toString('hex');
  const hostIf = `bxo${tag}`;
  const net = `10.97.${randomBytes(1)[0]! % 250}`;
  const sleeper = spawn('unshare', ['-n', 'sleep', '120'], { stdio: 'ignore' });
  const www = fs.mkdtempSync(join(os.tmpdir(), 'berth-outside-'));
  let httpd: ReturnType<typeof spawn> | undefined;
  try {
    const own = fs.readlinkSync('/proc/self/ns/net');
    for (let i = 0; i < 100 && fs.readlinkSync(`/proc/${sleeper.pid}/ns/net`) === own; i++) await new Promise((r) => setTimeout(r, 20));
    const inside = (...args: string[]) => execFileSync('nsenter', ['-t', String(sleeper.pid), '-n', ...args]);
    execFileSync('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'outside0', 'netns', String(sleeper.pid)]);
    execFileSync('ip', ['addr', 'add', `${net}.1/30`, 'dev', hostIf]);
    execFileSync('ip', ['link', 'set', hostIf, 'up']);
    inside('ip', 'addr', 'add', `${net}.2/30`, 'dev', 'outside0');
    inside('ip', 'link', 'set', 'outside0', 'up');
    // busybox httpd's CGI tells the client's address.
    fs.mkdirSync(join(www, 'cgi-bin'));
    fs.writeFileSync(join(www, 'cgi-bin', 'who'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n', { mode: 0o755 });
    httpd = spawn('nsenter', ['-t', String(sleeper.pid), '-n', 'busybox', 'httpd', '-f', '-p', '7000', '-h', www], { stdio: 'ignore' });
    const out = await ok(['run', '--rm', 'busybox', 'sh', '-c', `i=0; until timeout 3 wget -q -O- http://${net}.2:7000/cgi-bin/who; do i=$((i+1)); [ $i -lt 20 ] || exit 1; sleep 0.2; done`]);
    // httpd listens on IPv6 and shows IPv4 peers mapped ([::ffff:a.b.c.d]).
    assert.equal(out.replace(/^\[::ffff:(.*)\]\n$/, '$1\n'), `${net}.1\n`, "the host's address on the way out, not the container's");
  } finally {
    httpd?.kill('SIGKILL');
    sleeper.kill('SIGKILL');
    require('node:child_process').spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
    fs.rmSync(www, { recursive: true, force: true });
  }
});

test("names the embedded DNS does not know are forwarded to the daemon's --dns (here a server of the test on 127.0.0.1:53)", async (t) => {
  const upstream = dgram.createSocket('udp4');
  const asked: string[] = [];
  upstream.on('message', (msg, from) => {
    const q = parseQuery(msg);
    if (!q || isFormatError(q)) return;
    asked.push(q.question.name);
    upstream.send(answer(q, q.question.name === 'outside.test' ? [{ type: 'A', data: '10.1.2.3' }] : []), from.port, from.address);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      upstream.once('error', reject);
      upstream.bind(53, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    t.skip(`127.0.0.1:53 is taken on this machine: ${(e as Error).message}`);
    upstream.close();
    return;
  }
  try {
    await ok(['network', 'create', 'fwd']);
    const out = await ok(['run', '--rm', '--network', 'fwd', 'busybox', 'nslookup', '-type=a', 'outside.test']);
    assert.match(out, /Address: 10\.1\.2\.3/);
    assert.ok(asked.includes('outside.test'), 'berthd asked the upstream');
  } finally {
    upstream.close();
    await d.docker(['network', 'rm', 'fwd']);
  }
});

test('/etc/hosts and resolv.conf: own address, --add-host host-gateway, --link on the default bridge, --dns; --mac-address and --ip', async () => {
  await ok(['run', '-d', '--name', 'linked', 'busybox', 'sleep', '300']);
  const gw = JSON.parse(await ok(['network', 'inspect', 'bridge']))[0].IPAM.Config[0].Gateway as string;
  const out = await ok(['run', '--rm', '-h', 'me', '--add-host', 'gw:host-gateway', '--link', 'linked:db', '--dns', '127.0.0.9', 'busybox', 'sh', '-c', 'cat /etc/hosts; cat /etc/resolv.conf; ping -c1 -W2 db >/dev/null && echo ping-db']);
  assert.match(out, new RegExp(`\\n${gw.replace(/\./g, '\\.')}\\tgw\\n`));
  assert.match(out, /\n172\.\d+\.\d+\.\d+\tme\n/);
  assert.match(out, /\n172\.\d+\.\d+\.\d+\tdb [0-9a-f]{12} linked\n/);
  assert.match(out, /nameserver 127\.0\.0\.9/);
  assert.match(out, /ping-db\n$/);
  await ok(['rm', '-f', 'linked']);
  await ok(['network', 'create', '--subnet', '10.232.0.0/24', 'fixed']);
  const mac = await ok(['run', '--rm', '--network', 'fixed', '--ip', '10.232.0.77', '--mac-address', '02:aa:bb:cc:dd:ee', 'busybox', 'sh', '-c', 'cat /sys/class/net/eth0/address; ip -4 addr show eth0 | grep -o "inet [0-9./]*"']);
  assert.equal(mac, '02:aa:bb:cc:dd:ee\ninet 10.232.0.77/24\n');
  await ok(['network', 'rm', 'fixed']);
});

test('--network host, none and container:<name>', async () => {
  const hostLinks = execFileSync('ip', ['-o', 'link']).toString().split('\n').filter(Boolean).length;
  const inHost = await ok(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'ip -o link | wc -l; hostname']);
  assert.equal(inHost, `${hostLinks}\n${os.hostname()}\n`);
  assert.equal(await ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ip -o link | cut -d: -f2 | tr -d " "']), 'lo\n');
  await ok(['run', '-d', '--name', 'owner', 'busybox', ...WEB(8081, 'shared-ns')]);
  const shared = await ok(['run', '--rm', '--network', 'container:owner', 'busybox', 'sh', '-c', 'timeout 5 wget -q -O- http://127.0.0.1:8081/']);
  assert.equal(shared, 'shared-ns\n');
  await ok(['rm', '-f', 'owner']);
  const stopped = await d.docker(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']);
  assert.notEqual(stopped.code, 0);
});

test('100 containers started and removed on one network: no address twice, and then no veth, rule or namespace of theirs is left', async () => {
  const netId = (await ok(['network', 'create', 'many'])).trim();
  const bridge = `br-${netId.slice(0, 12)}`;
  const rulesBefore = d.rules().length;
  const ids: string[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const started = await Promise.all(Array.from({ length: 10 }, () => d.docker(['run', '-d', '--network', 'many', 'busybox', 'sleep', '600'])));
    for (const r of started) {
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
  }
  const addrs = (await ok(['inspect', '-f', '{{.NetworkSettings.Networks.many.IPAddress}}', ...ids])).trim().split('\n');
  assert.equal(addrs.length, 100);
  assert.equal(new Set(addrs).size, 100, 'every address once');
  const ports = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', bridge]).toString()) as unknown[];
  assert.equal(ports.length, 100);
  for (let i = 0; i < ids.length; i += 25) await ok(['rm', '-f', ...ids.slice(i, i + 25)]);
  // The runtime's teardown (veth, namespace) trails the removal by a little: bounded wait.
  const onBridge = () => (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', bridge]).toString()) as unknown[]).length;
  const namespaces = () => fs.readdirSync(join(d.execRoot, 'netns')).filter((n) => ids.includes(n));
  for (let i = 0; i < 100 && (onBridge() > 0 || namespaces().length > 0); i++) await new Promise((r) => setTimeout(r, 100));
  const left = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', bridge]).toString()) as unknown[];
  assert.equal(left.length, 0, 'no veth left on the bridge');
  assert.equal(d.rules().length, rulesBefore, 'only the networks\' own rules are left');
  assert.deepEqual(namespaces(), [], 'no namespace of theirs left');
  await ok(['network', 'rm', 'many']);
  assert.equal(execFileSync('ip', ['-o', 'link']).toString().includes(bridge), false, 'the bridge went with the network');
  assert.equal(d.rules().some((r) => r.includes(netId.slice(0, 12))), false, "and the network's rules with it");
}, { timeout: 600_000 });

test('a daemon restart keeps published ports working, rebuilds its rules and drops stale ones', async () => {
  await ok(['run', '-d', '--name', 'survivor', '-p', '18090:8080', 'busybox', ...WEB(8080, 'still-here')]);
  assert.equal(await get('127.0.0.1', 18090), 'still-here\n');
  const before = d.rules().sort();
  // A stale rule of this daemon (as a crash would leave one) is dropped at start.
  const tag = d.ruleTag()!;
  execFileSync('iptables', ['-t', 'nat', '-A', 'BERTH', '-p', 'tcp', '--dport', '18099', '-m', 'comment', '--comment', `${tag}:000000000000:000000000000`, '-j', 'RETURN']);
  await d.crash();
  // Kernel NAT keeps serving while the daemon is away.
  assert.equal(await get('127.0.0.1', 18090), 'still-here\n');
  await d.launch();
  assert.deepEqual(d.rules().sort(), before);
  assert.equal(await get('127.0.0.1', 18090), 'still-here\n');
  assert.equal(await ok(['port', 'survivor']), portLines('8080/tcp', 18090));
  if (V6) assert.equal(await get('::1', 18090), 'still-here\n', 'the IPv6 proxy is back too');
  // The host port is held again: a new claim on it fails.
  const r = await d.docker(['run', '-d', '-p', '18090:80', 'busybox', 'true']);
  assert.match(r.stderr, /port is already allocated/);
  await ok(['rm', '-f', 'survivor']);
});

test('--bip and --default-address-pool take effect at the next start', async () => {
  const running = (await ok(['ps', '-q'])).trim().split('\n').filter(Boolean);
  if (running.length) await ok(['rm', '-f', ...running]);
  d.extraArgs = ['--bip', '10.241.7.1/24', '--default-address-pool', 'base=10.240.0.0/16,size=24'];
  try {
    await d.stop();
    await d.launch();
    assert.deepEqual(JSON.parse(await ok(['network', 'inspect', 'bridge']))[0].IPAM.Config, [{ Subnet: '10.241.7.0/24', Gateway: '10.241.7.1' }]);
    assert.match(await ok(['run', '--rm', 'busybox', 'ip', '-4', 'addr', 'show', 'eth0']), /inet 10\.241\.7\.\d+\/24/);
    await ok(['network', 'create', 'pooled']);
    assert.equal(JSON.parse(await ok(['network', 'inspect', 'pooled']))[0].IPAM.Config[0].Subnet, '10.240.0.0/24');
    await ok(['network', 'rm', 'pooled']);
  } finally {
    d.extraArgs = [];
  }
});
