import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeDocuments, mergeService } from './merge';
import { locOf } from './meta';
import { validateFile } from './validate';
import { parseYaml } from './yaml-tree';

const plain = (v: unknown) => JSON.parse(JSON.stringify(v));
const merge = (a: string, b: string) => mergeDocuments(parseYaml(a, 'a.yaml'), parseYaml(b, 'b.yaml'));

describe('YAML parsing', () => {
  it('records the line of every key and item', () => {
    const t = parseYaml('services:\n  web:\n    image: x\n    ports:\n      - "80"\n      - "81"\n', 'compose.yaml');
    const web = (t.services as Record<string, Record<string, unknown>>).web;
    assert.deepEqual(locOf(web, 'image'), { file: 'compose.yaml', line: 3 });
    assert.deepEqual(locOf(web.ports, 1), { file: 'compose.yaml', line: 6 });
  });

  it('expands anchors, aliases and merge keys (explicit keys win, earlier sources win)', () => {
    const t = parseYaml(
      [
        'x-a: &a {image: a, user: ua, tty: true}',
        'x-b: &b {image: b, user: ub, init: true}',
        'services:',
        '  s1:',
        '    <<: [*a, *b]',
        '    user: own',
        '  s2: *a',
        '  s3:',
        '    labels: &l [x=1]',
        '    environment: *l',
      ].join('\n'),
      'c.yaml',
    );
    assert.deepEqual(plain(t.services), {
      s1: { user: 'own', image: 'a', tty: true, init: true },
      s2: { image: 'a', user: 'ua', tty: true },
      s3: { labels: ['x=1'], environment: ['x=1'] },
    });
    const s = t.services as Record<string, Record<string, unknown>>;
    assert.notEqual(s.s3.labels, s.s3.environment); // aliases are copies
  });

  it('keeps the written form of numbers and reports YAML errors with their line', () => {
    assert.throws(() => parseYaml('a: 1\nb: [1\n', 'bad.yaml'), /^BerthError: bad.yaml:3: invalid YAML/);
    assert.throws(() => parseYaml('a: 1\na: 2\n', 'dup.yaml'), /dup.yaml:2: invalid YAML: Map keys must be unique/);
    assert.throws(() => parseYaml('- a\n', 'list.yaml'), /the top level must be a mapping/);
  });

  it('bounds alias expansion', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill('*' + String.fromCharCode(96 + i)).join(', ')}]`);
    assert.throws(() => parseYaml(lines.join('\n'), 'bomb.yaml'), /too large/);
  });
});

describe('merging files', () => {
  it('merges mappings and replaces scalars', () => {
    const m = merge('services:\n  foo:\n    image: a\n    user: root\n', 'services:\n  foo:\n    image: b\n    tty: true\n  bar:\n    image: c\n');
    assert.deepEqual(plain(m), { services: { foo: { image: 'b', user: 'root', tty: true }, bar: { image: 'c' } } });
  });

  it('appends sequences, and replaces command, entrypoint and healthcheck.test', () => {
    const m = merge(
      'services:\n  foo:\n    dns: [1.1.1.1]\n    command: [echo, foo]\n    entrypoint: a b\n    healthcheck: {test: [CMD, a], retries: 3}\n',
      'services:\n  foo:\n    dns: 8.8.8.8\n    command: [echo, bar]\n    entrypoint: [c]\n    healthcheck: {test: [CMD, b]}\n',
    );
    assert.deepEqual(plain(m).services.foo, {
      dns: ['1.1.1.1', '8.8.8.8'],
      command: ['echo', 'bar'],
      entrypoint: ['c'],
      healthcheck: { test: ['CMD', 'b'], retries: 3 },
    });
  });

  it('merges ports, volumes, secrets and configs by their unique key', () => {
    const m = merge(
      'services:\n  foo:\n    ports: ["8080:80", "9000:9000"]\n    volumes: [foo:/work, /tmp:/tmp]\n    secrets: [a, {source: b, target: t}]\n    configs: [c]\n',
      'services:\n  foo:\n    ports: [{target: 80, published: "8080"}, "9001:9001"]\n    volumes: [bar:/work]\n    secrets: [{source: a, mode: 0400}, {source: c, target: t}]\n    configs: [{source: c, target: /c, mode: 0440}]\n',
    );
    assert.deepEqual(plain(m).services.foo, {
      ports: [{ target: 80, published: '8080' }, '9000:9000', '9001:9001'],
      volumes: ['bar:/work', '/tmp:/tmp'],
      secrets: [{ source: 'a', mode: 400 }, { source: 'c', target: 't' }], // YAML 1.2 numbers; the normalizer reads 0400 as octal
      configs: [{ source: 'c', target: '/c', mode: 440 }],
    });
  });

  it('merges environment, labels and extra_hosts by key whatever their syntax', () => {
    const m = merge(
      'services:\n  foo:\n    environment: [A=1, B=2]\n    labels: {x: "1"}\n    extra_hosts: ["h1=1.1.1.1", "h2:2.2.2.2"]\n    cap_add: [NET_ADMIN]\n    expose: ["80"]\n',
      'services:\n  foo:\n    environment: {B: 3, C: null}\n    labels: [y=2, x=0]\n    extra_hosts: {h2: 3.3.3.3}\n    cap_add: [NET_ADMIN, SYS_TIME]\n    expose: ["80", "81"]\n',
    );
    assert.deepEqual(plain(m).services.foo, {
      environment: { A: '1', B: 3, C: null },
      labels: { x: '0', y: '2' },
      extra_hosts: { h1: ['1.1.1.1'], h2: '3.3.3.3' },
      cap_add: ['NET_ADMIN', 'SYS_TIME'],
      expose: ['80', '81'],
    });
  });

  it('merges networks and depends_on whether listed or mapped', () => {
    const m = merge(
      'services:\n  foo:\n    networks: {front: {aliases: [f]}}\n    depends_on: {db: {condition: service_healthy}}\n',
      'services:\n  foo:\n    networks: [front, back]\n    depends_on: [db, cache]\n',
    );
    assert.deepEqual(plain(m).services.foo, {
      networks: { front: { aliases: ['f'] }, back: null },
      depends_on: { db: { condition: 'service_healthy' }, cache: null },
    });
  });

  it('honours !reset and !override', () => {
    const m = merge(
      'services:\n  app:\n    image: myapp\n    ports: ["8080:80"]\n    environment: {FOO: BAR, KEEP: 1}\n',
      'services:\n  app:\n    image: myapp\n    ports: !override ["8443:443"]\n    environment:\n      FOO: !reset null\n',
    );
    assert.deepEqual(plain(m).services.app, { image: 'myapp', ports: ['8443:443'], environment: { KEEP: 1 } });
    const r = merge('services:\n  app:\n    image: a\n    ports: ["80"]\n', 'services:\n  app:\n    ports: !reset []\n');
    assert.deepEqual(plain(r).services.app, { image: 'a' });
  });

  it('turns a build string into a context when merged with a mapping', () => {
    const m = merge('services:\n  a:\n    build: ./dir\n', 'services:\n  a:\n    build: {dockerfile: Other, args: [X=1]}\n');
    assert.deepEqual(plain(m).services.a.build, { context: './dir', dockerfile: 'Other', args: ['X=1'] });
  });

  it('keeps the location of each value through the merge', () => {
    const m = merge('services:\n  a:\n    image: x\n    user: u\n', 'services:\n  a:\n\n    image: y\n');
    const a = (m.services as Record<string, unknown>).a;
    assert.deepEqual(locOf(a, 'image'), { file: 'b.yaml', line: 4 });
    assert.deepEqual(locOf(a, 'user'), { file: 'a.yaml', line: 4 });
  });

  it('merges a service on its base for extends, dropping duplicate capabilities', () => {
    const base = parseYaml('image: busybox\nsecurity_opt: [label:role:ROLE]\nenvironment: {TZ: utc, PORT: 80}\nvolumes: [common:/data:rw]\n', 'base.yaml');
    const own = parseYaml('security_opt: [label:user:USER, label:role:ROLE]\nenvironment: [PORT=8080]\nvolumes: [cli:/data:ro]\n', 'own.yaml');
    assert.deepEqual(plain(mergeService(base, own)), {
      image: 'busybox',
      security_opt: ['label:role:ROLE', 'label:user:USER'],
      environment: { TZ: 'utc', PORT: '8080' },
      volumes: ['cli:/data:ro'],
    });
  });
});

describe('validation', () => {
  const check = (text: string) => validateFile(parseYaml(text, 'compose.yaml'));

  it('accepts a broad valid file with extensions', () => {
    check(
      [
        'version: "3.9"',
        'x-anything: {whatever: [1]}',
        'services:',
        '  web:',
        '    x-custom: 1',
        '    image: nginx',
        '    platform: linux/amd64',
        '    pull_policy: always',
        '    develop: {watch: [{path: ., action: sync}]}',
        '    deploy: {replicas: "2", resources: {limits: {cpus: "0.5", memory: 1g}}, x-ext: 1}',
        '    healthcheck: {test: curl x, interval: 10s, disable: false}',
        '    ports: [80, "443:443", {target: 8080, published: 8081}]',
        '    build: {context: ., args: {A: 1}, x-foo: bar}',
        'networks: {n: null, m: {external: true}}',
        'volumes: {v: {}}',
        'secrets: {s: {file: ./s}}',
        'configs: {c: {content: hello}}',
        'include: [other.yaml, {path: [a.yaml, b.yaml], env_file: .env}]',
      ].join('\n'),
    );
  });

  it('names file, line and key path of an unknown key', () => {
    assert.throws(() => check('services:\n  web:\n    image: x\n    imag: y\n'), { message: 'compose.yaml:4: services.web.imag: unknown key (not allowed here)' });
    assert.throws(() => check('service:\n  web: {}\n'), { message: 'compose.yaml:1: service: unknown key (not allowed here)' });
  });

  it('names file, line and key path of a wrong type', () => {
    assert.throws(() => check('services:\n  web:\n    image: x\n    ports:\n      - [80]\n'), {
      message: 'compose.yaml:5: services.web.ports[0]: must be string or number or object',
    });
    assert.throws(() => check('services:\n  web:\n    image: [x]\n'), { message: 'compose.yaml:3: services.web.image: must be string' });
    assert.throws(() => check('services:\n  web:\n    depends_on: {db: {condition: started}}\n'), /compose.yaml:3: services.web.depends_on.db.condition: must be one of "service_started"/);
    assert.throws(() => check('services:\n  web:\n    volumes: [{source: a, target: /a}]\n'), { message: 'compose.yaml:3: services.web.volumes[0]: missing required key "type"' });
  });

  it('lists several problems, in line order', () => {
    assert.throws(() => check('services:\n  web:\n    tty: [1]\n    bogus: 1\n'), {
      message: 'compose.yaml:3: services.web.tty: must be boolean or string\ncompose.yaml:4: services.web.bogus: unknown key (not allowed here)',
    });
  });
});
