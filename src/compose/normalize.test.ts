import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LoadOptions, loadProject } from './loader';
import type { Service } from './model';
import { project, yaml } from './test-fixture';

const HOME = '/home/tester';
const load = (dir: string, opts: LoadOptions = {}) => loadProject({ workingDir: dir, env: { HOME }, warn: () => {}, projectName: 'p', ...opts });

/** Loads one service `s` written as the given lines (indented under it) plus top-level `extra` lines. */
function service(lines: string[], extra: string[] = [], files: Record<string, string> = {}): { s: Service; dir: string } {
  const dir = project({ 'compose.yaml': yaml('services:', '  s:', ...lines.map((l) => `    ${l}`), ...extra), ...files });
  const p = load(dir);
  return { s: p.services.find((x) => x.name === 's')!, dir };
}
const fails = (lines: string[], message: string | RegExp, extra: string[] = []) => {
  const dir = project({ 'compose.yaml': yaml('services:', '  s:', ...lines.map((l) => `    ${l}`), ...extra) });
  assert.throws(() => load(dir), typeof message === 'string' ? { message } : message);
};

describe('service normalization', () => {
  it('gives every list and map a value when the file has none', () => {
    const { s } = service(['image: alpine']);
    assert.deepEqual(s, {
      name: 's',
      image: 'alpine',
      environment: {},
      ports: [],
      expose: [],
      volumes: [],
      networks: { default: { aliases: [] } },
      dependsOn: {},
      replicas: 1,
      labels: {},
      extraHosts: [],
      dns: [],
      capAdd: [],
      capDrop: [],
      tmpfs: [],
      secrets: [],
      configs: [],
      profiles: [],
    });
  });

  it('expands ports, long and short', () => {
    const { s } = service(['image: x', 'ports:', '  - "127.0.0.1:8080:80/tcp"', '  - "8080-8081:80-81"', '  - 9000', '  - {target: "53", published: 5353, protocol: udp, host_ip: "::1"}']);
    assert.deepEqual(s.ports, [
      { target: 80, protocol: 'tcp', hostIp: '127.0.0.1', published: '8080' },
      { target: 80, protocol: 'tcp', published: '8080' },
      { target: 81, protocol: 'tcp', published: '8081' },
      { target: 9000, protocol: 'tcp' },
      { target: 53, published: '5353', hostIp: '::1', protocol: 'udp' },
    ]);
    fails(['image: x', 'ports: ["80:80/icmp"]'], 'compose.yaml:4: services.s.ports[0]: invalid protocol "icmp" (tcp, udp or sctp)');
  });

  it('expands volumes into mounts, resolving host paths', () => {
    const { s, dir } = service(
      [
        'image: x',
        'volumes:',
        '  - data:/data:ro',
        '  - ./src:/src',
        '  - /abs:/x',
        '  - ~/cache:/cache',
        '  - /anon',
        '  - {type: bind, source: ../up, target: /up, read_only: true, bind: {create_host_path: false}}',
        '  - {type: volume, source: data, target: /v2, volume: {nocopy: true}}',
        '  - {type: tmpfs, target: /t, tmpfs: {size: 64m, mode: 01777}}',
      ],
      ['volumes:', '  data: {}'],
    );
    assert.deepEqual(s.volumes, [
      { type: 'volume', source: 'data', target: '/data', readOnly: true },
      { type: 'bind', source: path.join(dir, 'src'), target: '/src', readOnly: false, createHostPath: true },
      { type: 'bind', source: '/abs', target: '/x', readOnly: false, createHostPath: true },
      { type: 'bind', source: `${HOME}/cache`, target: '/cache', readOnly: false, createHostPath: true },
      { type: 'volume', target: '/anon', readOnly: false },
      { type: 'bind', source: path.resolve(dir, '../up'), target: '/up', readOnly: true, createHostPath: false },
      { type: 'volume', source: 'data', target: '/v2', readOnly: false, nocopy: true },
      { type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024, mode: 0o1777 },
    ]);
  });

  it('requires named volumes to be declared, naming service and line', () => {
    fails(['image: x', 'volumes:', '  - ./ok:/ok', '  - undeclared:/data'], 'compose.yaml:6: services.s.volumes[1]: service "s" refers to undefined volume "undeclared": declare it under the top-level volumes key');
    fails(['image: x', 'volumes: ["v:relative"]'], /the mount target "relative" must be an absolute path/, ['volumes: {v: }']);
  });

  it('reads environment, labels and extra_hosts as lists or maps', () => {
    const list = service(['image: x', 'environment: [A=1, "B=two words", C=, EMPTY_LOOKUP, FROM_ENV]', 'labels: [com.x=1, flag]', 'extra_hosts: ["h1=1.2.3.4", "h2:::1", "h3=[::2]"]'], [], {});
    const dir = project({ 'compose.yaml': yaml('services:', '  s:', '    image: x', '    environment: [FROM_ENV, A=1]') });
    assert.deepEqual(load(dir, { env: { FROM_ENV: 'set' } }).services[0].environment, { FROM_ENV: 'set', A: '1' });
    assert.deepEqual(list.s.environment, { A: '1', B: 'two words', C: '' });
    assert.deepEqual(list.s.labels, { 'com.x': '1', flag: '' });
    assert.deepEqual(list.s.extraHosts, ['h1:1.2.3.4', 'h2:::1', 'h3:::2']);
    const map = service(['image: x', 'environment: {A: 1.10, B: true, C: null, D: ""}', 'labels: {x: 1, y: null}', 'extra_hosts: {h1: 1.2.3.4, h2: ["::1", 10.0.0.1]}']);
    assert.deepEqual(map.s.environment, { A: '1.10', B: 'true', D: '' });
    assert.deepEqual(map.s.labels, { x: '1', y: '' });
    assert.deepEqual(map.s.extraHosts, ['h1:1.2.3.4', 'h2:::1', 'h2:10.0.0.1']);
  });

  it('reads env_file relative to the project, with environment winning', () => {
    const { s } = service(['image: x', 'env_file: [common.env, {path: missing.env, required: false}, {path: raw.env, format: raw}]', 'environment: {B: own, C: null}'], [], {
      'common.env': 'A=1\nB=from-file\nC=kept\nD="${A}-quoted"\n',
      'raw.env': 'R="$A"\n',
    });
    assert.deepEqual(s.environment, { A: '1', B: 'own', C: 'kept', D: '1-quoted', R: '"$A"' });
    fails(['image: x', 'env_file: nope.env'], /compose.yaml:4: services.s.env_file: env file .*nope.env not found/);
  });

  it('reads label_file, with labels winning', () => {
    const { s } = service(['image: x', 'label_file: [a.labels, b.labels]', 'labels: {c: own}'], [], { 'a.labels': 'a=1\nb=1\nc=1\n', 'b.labels': 'b=2\n' });
    assert.deepEqual(s.labels, { a: '1', b: '2', c: 'own' });
  });

  it('reads depends_on lists and maps', () => {
    const extra = ['  db: {image: db}', '  cache: {image: cache}'];
    const list = service(['image: x', 'depends_on: [db, cache]'], extra);
    assert.deepEqual(list.s.dependsOn, {
      db: { condition: 'service_started', restart: false, required: true },
      cache: { condition: 'service_started', restart: false, required: true },
    });
    const map = service(['image: x', 'depends_on:', '  db: {condition: service_healthy, restart: true}', '  cache: {condition: service_completed_successfully, required: false}'], extra);
    assert.deepEqual(map.s.dependsOn, {
      db: { condition: 'service_healthy', restart: true, required: true },
      cache: { condition: 'service_completed_successfully', restart: false, required: false },
    });
  });

  it('converts healthchecks', () => {
    const hc = (lines: string[]) => service(['image: x', 'healthcheck:', ...lines.map((l) => `  ${l}`)]).s.healthcheck;
    assert.deepEqual(hc(['test: curl -f http://localhost || exit 1', 'interval: 1m30s', 'timeout: 10s', 'start_period: 40s', 'retries: 3']), {
      test: ['CMD-SHELL', 'curl -f http://localhost || exit 1'],
      interval: 90e9,
      timeout: 10e9,
      startPeriod: 40e9,
      retries: 3,
    });
    assert.deepEqual(hc(['test: [CMD, curl, -f, http://localhost]']), { test: ['CMD', 'curl', '-f', 'http://localhost'] });
    assert.deepEqual(hc(['disable: true']), { test: ['NONE'] });
    assert.deepEqual(hc(['interval: 5s']), { test: [], interval: 5e9 });
    fails(['image: x', 'healthcheck: {test: [curl, x]}'], /services.s.healthcheck.test: a test list must start with "CMD"/);
    fails(['image: x', 'healthcheck: {interval: 5}'.replace('5', '"5 seconds"')], /compose.yaml:4: services.s.healthcheck.interval: invalid duration "5 seconds"/);
  });

  it('splits shell-form command and entrypoint and keeps exec form', () => {
    const { s } = service(['image: x', `command: sh -c 'echo "$$HOME" done'`, 'entrypoint: ["/bin/tini", "--"]']);
    assert.deepEqual(s.command, ['sh', '-c', 'echo "$HOME" done']);
    assert.deepEqual(s.entrypoint, ['/bin/tini', '--']);
    assert.deepEqual(service(['image: x', "command: ''", 'entrypoint: []']).s.command, []);
    assert.equal(service(['image: x', 'command: null']).s.command, undefined);
  });

  it('reads replicas, scale, resource limits, restart and stop_grace_period', () => {
    const { s } = service(['image: x', 'deploy:', '  replicas: 3', '  resources: {limits: {memory: 512m, cpus: "0.5", pids: 100}}', 'restart: on-failure:5', 'stop_grace_period: 1m30s']);
    assert.equal(s.replicas, 3);
    assert.deepEqual(s.limits, { memory: 512 * 1024 ** 2, cpus: 0.5, pids: 100 });
    assert.equal(s.restart, 'on-failure:5');
    assert.equal(s.stopGracePeriod, 90);
    const legacy = service(['image: x', 'scale: 2', 'mem_limit: 1g', 'cpus: 1.5', 'deploy: {restart_policy: {condition: on-failure, max_attempts: 3}}']).s;
    assert.equal(legacy.replicas, 2);
    assert.deepEqual(legacy.limits, { memory: 1024 ** 3, cpus: 1.5 });
    assert.equal(legacy.restart, 'on-failure:3');
    fails(['image: x', 'scale: 2', 'deploy: {replicas: 3}'], /scale \(2\) and deploy.replicas \(3\) disagree/);
    fails(['image: x', 'restart: sometimes'], 'compose.yaml:4: services.s.restart: invalid restart policy "sometimes" (no, always, on-failure[:N], unless-stopped)');
    fails(['image: x', 'deploy: {resources: {limits: {memory: lots}}}'], /services.s.deploy.resources.limits.memory: invalid byte value "lots"/);
    fails(['image: x', 'container_name: one', 'scale: 2'], /sets container_name, so it cannot have 2 replicas/);
  });

  it('takes numbers and booleans from interpolated strings', () => {
    const dir = project({ 'compose.yaml': yaml('services:', '  s:', '    image: x', '    scale: ${N}', '    tty: ${T}', '    init: "${MISSING:-false}"') });
    const s = load(dir, { env: { N: '4', T: 'true' } }).services[0];
    assert.equal(s.replicas, 4);
    assert.equal(s.tty, true);
    assert.equal(s.init, false);
    assert.throws(() => load(dir, { env: { N: 'four', T: 'true' } }), { message: 'compose.yaml:4: services.s.scale: must be an integer, not "four"' });
  });

  it('reads build as a string or a mapping, with an absolute context', () => {
    const { s, dir } = service(['build: ./app']);
    assert.deepEqual(s.build, { context: path.join(dir, 'app'), dockerfile: 'Dockerfile', args: {}, cacheFrom: [], labels: {} });
    const dir2 = project({
      'compose.yaml': yaml('services:', '  s:', '    image: mine', '    build:', '      context: ctx', '      dockerfile: docker/Dockerfile.dev', '      args: [A=1, FROM_ENV, UNSET]', '      target: dev', '      cache_from: [x:cache]', '      labels: {l: v}'),
    });
    assert.deepEqual(load(dir2, { env: { FROM_ENV: 'e' } }).services[0].build, {
      context: path.join(dir2, 'ctx'),
      dockerfile: 'docker/Dockerfile.dev',
      args: { A: '1', FROM_ENV: 'e' },
      target: 'dev',
      cacheFrom: ['x:cache'],
      labels: { l: 'v' },
    });
    const empty = service(['build: {}']);
    assert.equal(empty.s.build!.context, empty.dir);
    fails(['command: x'], 'compose.yaml:2: services.s: service "s" has neither an image nor a build context');
  });

  it('reads secrets and configs, short and long', () => {
    const { s, dir } = service(
      ['image: x', 'secrets: [db_pass, {source: cert, target: server.crt, mode: 0440}, {source: cert, target: /etc/abs.crt}]', 'configs: [app_conf, {source: app_conf, target: /etc/app.conf, mode: "0644"}]'],
      ['secrets:', '  db_pass: {file: ./pass.txt}', '  cert: {file: /certs/c.pem}', 'configs:', '  app_conf: {file: conf/app.conf}', '  unused: {file: u}'],
    );
    assert.deepEqual(s.secrets, [
      { source: 'db_pass', target: '/run/secrets/db_pass' },
      { source: 'cert', target: '/run/secrets/server.crt', mode: 0o440 },
      { source: 'cert', target: '/etc/abs.crt' },
    ]);
    assert.deepEqual(s.configs, [
      { source: 'app_conf', target: '/app_conf' },
      { source: 'app_conf', target: '/etc/app.conf', mode: 0o644 },
    ]);
    const p = load(dir);
    assert.deepEqual(p.secrets, { cert: { file: '/certs/c.pem' }, db_pass: { file: path.join(dir, 'pass.txt') } });
    assert.deepEqual(p.configs, { app_conf: { file: path.join(dir, 'conf/app.conf') } });
    fails(['image: x', 'secrets: [nope]'], /compose.yaml:4: services.s.secrets\[0\]: service "s" refers to undefined secret "nope"/);
    fails(['image: x', 'secrets: [tok]'], /secret "tok": only file-based secrets are supported/, ['secrets: {tok: {environment: TOKEN}}']);
  });

  it('reads networks as a list or a map, and adds the default network', () => {
    const extra = ['  other: {image: o}', 'networks:', '  front: {}', '  back: {}'];
    const list = service(['image: x', 'networks: [front, back]'], extra);
    assert.deepEqual(list.s.networks, { front: { aliases: [] }, back: { aliases: [] } });
    const map = service(['image: x', 'networks:', '  front: {aliases: [web, www], ipv4_address: 172.16.0.10}', '  back:'], extra);
    assert.deepEqual(map.s.networks, { front: { aliases: ['web', 'www'], ipv4Address: '172.16.0.10' }, back: { aliases: [] } });
    const p = load(map.dir);
    assert.deepEqual(Object.keys(p.networks), ['back', 'default', 'front']); // `other` is on the default network
    assert.equal(p.networks.default.name, 'p_default');
    const hostOnly = service(['image: x', 'network_mode: host']);
    assert.deepEqual(hostOnly.s.networks, {});
    assert.equal(hostOnly.s.networkMode, 'host');
    assert.deepEqual(Object.keys(load(hostOnly.dir).networks), []);
    fails(['image: x', 'network_mode: host', 'networks: [front]'], /network_mode and networks cannot be used together/, extra.slice(1));
    fails(['image: x', 'networks: [nope]'], 'compose.yaml:4: services.s.networks[0]: service "s" refers to undefined network "nope": declare it under the top-level networks key');
  });

  it('reads the remaining scalar and list keys', () => {
    const { s } = service([
      'image: x',
      'user: 1000',
      'working_dir: /app',
      'hostname: h',
      'dns: 8.8.8.8',
      'cap_add: [NET_ADMIN]',
      'cap_drop: [ALL]',
      'init: true',
      'read_only: true',
      'tmpfs: /run:size=64m',
      'stop_signal: SIGINT',
      'logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}',
      'pid: host',
      'ipc: shareable',
      'container_name: my-s',
      'tty: true',
      'stdin_open: true',
      'privileged: false',
      'expose: ["3000", 8080-8085/tcp]',
      'profiles: []',
      'platform: linux/amd64',
      'pull_policy: always',
    ]);
    assert.equal(s.user, '1000');
    assert.equal(s.workingDir, '/app');
    assert.deepEqual(s.dns, ['8.8.8.8']);
    assert.deepEqual(s.tmpfs, ['/run:size=64m']);
    assert.deepEqual(s.logging, { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
    assert.deepEqual(s.expose, ['3000', '8080-8085/tcp']);
    assert.deepEqual([s.init, s.readOnly, s.tty, s.stdinOpen, s.privileged], [true, true, true, true, false]);
    assert.deepEqual([s.pid, s.ipc, s.containerName, s.stopSignal, s.hostname], ['host', 'shareable', 'my-s', 'SIGINT', 'h']);
    assert.deepEqual([s.capAdd, s.capDrop], [['NET_ADMIN'], ['ALL']]);
  });
});
