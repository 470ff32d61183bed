import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LoadOptions, loadProject, normalizeProjectName } from './loader';
import { project, yaml } from './test-fixture';

const load = (dir: string, opts: LoadOptions = {}) => loadProject({ workingDir: dir, env: {}, warn: () => {}, ...opts });
const svc = (p: ReturnType<typeof loadProject>, name: string) => p.services.find((s) => s.name === name)!;

describe('finding files', () => {
  it('takes compose.yaml and its override file from the project directory', () => {
    const dir = project({
      'compose.yaml': yaml('services:', '  web:', '    image: nginx', '    ports: ["8080:80"]', '    environment: [A=1, B=2]'),
      'compose.override.yaml': yaml('services:', '  web:', '    ports: ["8443:443"]', '    environment: {B: over}'),
      'docker-compose.yml': yaml('services:', '  ignored:', '    image: x'),
    });
    const p = load(dir);
    assert.deepEqual(p.files, [path.join(dir, 'compose.yaml'), path.join(dir, 'compose.override.yaml')]);
    assert.deepEqual(p.services.map((s) => s.name), ['web']);
    assert.deepEqual(svc(p, 'web').ports, [
      { target: 80, protocol: 'tcp', published: '8080' },
      { target: 443, protocol: 'tcp', published: '8443' },
    ]);
    assert.deepEqual(svc(p, 'web').environment, { A: '1', B: 'over' });
  });

  it('falls back to docker-compose.yml and docker-compose.override.yml', () => {
    const dir = project({
      'docker-compose.yml': yaml('services:', '  a:', '    image: x', '    command: one two'),
      'docker-compose.override.yml': yaml('services:', '  a:', '    command: [three]'),
    });
    const p = load(dir);
    assert.deepEqual(p.files.map((f) => path.basename(f)), ['docker-compose.yml', 'docker-compose.override.yml']);
    assert.deepEqual(svc(p, 'a').command, ['three']);
  });

  it('looks in parent directories when no project directory is given', () => {
    const dir = project({ 'compose.yml': yaml('services:', '  a:', '    image: x'), 'sub/deeper/.keep': '' });
    const cwd = process.cwd();
    process.chdir(path.join(dir, 'sub', 'deeper'));
    try {
      const p = loadProject({ env: {}, warn: () => {} });
      assert.equal(p.workingDir, dir);
      assert.equal(p.name, 'proj');
    } finally {
      process.chdir(cwd);
    }
  });

  it('merges -f files in order, without the override file, relative to the first file', () => {
    const dir = project({
      'a.yaml': yaml('services:', '  s:', '    image: a', '    labels: {x: "1"}', '    volumes: [./data:/data]'),
      'conf/b.yaml': yaml('services:', '  s:', '    image: b', '    labels: [y=2]'),
      'c.yaml': yaml('services:', '  s:', '    labels: {x: "3"}', '    volumes: [./other:/data:ro]'),
      'compose.override.yaml': yaml('services:', '  s:', '    image: never'),
    });
    const p = loadProject({ files: [path.join(dir, 'a.yaml'), path.join(dir, 'conf/b.yaml'), path.join(dir, 'c.yaml')], env: {}, warn: () => {} });
    assert.equal(p.workingDir, dir);
    const s = svc(p, 's');
    assert.equal(s.image, 'b');
    assert.deepEqual(s.labels, { x: '3', y: '2' });
    assert.deepEqual(s.volumes, [{ type: 'bind', source: path.join(dir, 'other'), target: '/data', readOnly: true, createHostPath: true }]);
  });

  it('reads COMPOSE_FILE', () => {
    const dir = project({ 'one.yml': yaml('services:', '  a:', '    image: one'), 'two.yml': yaml('services:', '  a:', '    image: two') });
    const p = load(dir, { env: { COMPOSE_FILE: 'one.yml:two.yml' } });
    assert.equal(svc(p, 'a').image, 'two');
  });

  it('fails clearly without a file', () => {
    const dir = project({ 'README': 'nothing' });
    assert.throws(() => load(dir), /no configuration file provided/);
    assert.throws(() => loadProject({ files: [path.join(dir, 'nope.yaml')], env: {} }), /nope.yaml: no such file/);
  });
});

describe('variables', () => {
  const file = yaml('services:', '  web:', '    image: "nginx:${TAG}"', '    environment:', '      - FROM_DOTENV', '      - LITERAL=$$HOME', '      - MISSING');

  it('takes .env from the project directory, with the environment winning', () => {
    const dir = project({ 'compose.yaml': file, '.env': 'TAG=fromdotenv\nFROM_DOTENV=yes\n' });
    assert.equal(svc(load(dir), 'web').image, 'nginx:fromdotenv');
    const p = load(dir, { env: { TAG: 'fromenv' } });
    assert.equal(svc(p, 'web').image, 'nginx:fromenv');
    assert.deepEqual(svc(p, 'web').environment, { FROM_DOTENV: 'yes', LITERAL: '$HOME' });
  });

  it('reads --env-file files instead of .env, later ones winning', () => {
    const dir = project({ 'compose.yaml': file, '.env': 'TAG=dotenv\n', 'a.env': 'TAG=a\nFROM_DOTENV=a\n', 'b.env': 'TAG=b\n' });
    const p = load(dir, { envFiles: [path.join(dir, 'a.env'), path.join(dir, 'b.env')] });
    assert.equal(svc(p, 'web').image, 'nginx:b');
    assert.equal(svc(p, 'web').environment.FROM_DOTENV, 'a');
    assert.throws(() => load(dir, { envFiles: [path.join(dir, 'missing.env')] }), /env file .*missing.env: no such file/);
  });

  it('warns about an unset variable once and substitutes the empty string', () => {
    const dir = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x${NOPE}', '    user: ${NOPE}') });
    const warnings: string[] = [];
    const p = load(dir, { warn: (m) => warnings.push(m) });
    assert.equal(svc(p, 'a').image, 'x');
    assert.deepEqual(warnings, ['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });

  it('reports a missing required variable with file, line and key path', () => {
    const dir = project({
      'compose.yaml': yaml('services:', '  web:', '    image: nginx'),
      'compose.override.yaml': yaml('services:', '  web:', '    ports:', '      - "${PORT:?set PORT}:80"'),
    });
    assert.throws(() => load(dir), { message: 'compose.override.yaml:4: services.web.ports[0]: required variable PORT is missing a value: set PORT' });
  });

  it('validates each file before merging, naming the right file', () => {
    const dir = project({
      'compose.yaml': yaml('services:', '  web:', '    image: nginx'),
      'compose.override.yaml': yaml('services:', '  web:', '    image: nginx', '    restrat: always'),
    });
    assert.throws(() => load(dir), { message: 'compose.override.yaml:4: services.web.restrat: unknown key (not allowed here)' });
  });
});

describe('project name', () => {
  const files = { 'compose.yaml': yaml('name: From_File', 'services:', '  a:', '    image: x', '    environment: ["P=${COMPOSE_PROJECT_NAME}"]') };

  it('prefers -p, then COMPOSE_PROJECT_NAME, then name:, then the directory', () => {
    const dir = project(files, 'My.Dir');
    assert.equal(load(dir, { projectName: 'Given', env: { COMPOSE_PROJECT_NAME: 'env' } }).name, 'given');
    assert.equal(load(dir, { env: { COMPOSE_PROJECT_NAME: 'env' } }).name, 'env');
    const p = load(dir);
    assert.equal(p.name, 'from_file');
    assert.equal(svc(p, 'a').environment.P, 'from_file'); // exposed to interpolation
    const bare = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x') }, 'My.Dir');
    assert.equal(load(bare).name, 'mydir');
  });

  it('normalizes names', () => {
    assert.equal(normalizeProjectName('My App!'), 'myapp');
    assert.equal(normalizeProjectName('__-x_y-Z9'), 'x_y-z9');
    const dir = project(files);
    assert.throws(() => load(dir, { projectName: '___' }), /invalid project name "___"/);
  });

  it('names networks and volumes <project>_<key> unless named or external', () => {
    const dir = project({
      'compose.yaml': yaml(
        'services:',
        '  a:',
        '    image: x',
        '    networks: [front, back, ext, legacy]',
        '    volumes: [data:/d, named:/n, outside:/o]',
        'networks:',
        '  front: {driver: bridge, internal: true, labels: [k=v], ipam: {config: [{subnet: 10.1.0.0/16, ip_range: 10.1.1.0/24, gateway: 10.1.0.1}]}}',
        '  back: {name: custom-back, enable_ipv6: true, driver_opts: {mtu: 1400}}',
        '  ext: {external: true}',
        '  legacy: {external: {name: old-style}}',
        '  unused: {}',
        'volumes:',
        '  data:',
        '  named: {name: my-data, driver: local, driver_opts: {type: tmpfs}}',
        '  outside: {external: true, name: real-outside}',
      ),
    });
    const p = load(dir, { projectName: 'p' });
    assert.deepEqual(Object.keys(p.networks), ['back', 'ext', 'front', 'legacy']);
    assert.deepEqual(p.networks.front, {
      name: 'p_front',
      external: false,
      driver: 'bridge',
      driverOpts: {},
      internal: true,
      enableIpv6: false,
      labels: { k: 'v' },
      ipam: { config: [{ subnet: '10.1.0.0/16', ipRange: '10.1.1.0/24', gateway: '10.1.0.1' }] },
    });
    assert.deepEqual(p.networks.back, { name: 'custom-back', external: false, driverOpts: { mtu: '1400' }, internal: false, enableIpv6: true, labels: {} });
    assert.equal(p.networks.ext.name, 'ext');
    assert.equal(p.networks.ext.external, true);
    assert.equal(p.networks.legacy.name, 'old-style');
    assert.deepEqual(p.volumes, {
      data: { name: 'p_data', external: false, driverOpts: {}, labels: {} },
      named: { name: 'my-data', external: false, driver: 'local', driverOpts: { type: 'tmpfs' }, labels: {} },
      outside: { name: 'real-outside', external: true, driverOpts: {}, labels: {} },
    });
  });
});

describe('profiles', () => {
  const files = {
    'compose.yaml': yaml(
      'services:',
      '  foo: {image: foo}',
      '  bar: {image: bar, profiles: [test]}',
      '  baz: {image: baz, profiles: [test], depends_on: [bar]}',
      '  zot: {image: zot, profiles: [debug], depends_on: [bar]}',
    ),
  };
  const names = (opts: LoadOptions) => load(project(files), opts).services.map((s) => s.name);

  it('keeps services without profiles and those of the selected ones', () => {
    assert.deepEqual(names({}), ['foo']);
    assert.deepEqual(names({ profiles: ['test'] }), ['bar', 'baz', 'foo']);
    assert.deepEqual(names({ env: { COMPOSE_PROFILES: 'test,debug' } }), ['bar', 'baz', 'foo', 'zot']);
    assert.deepEqual(names({ profiles: ['*'] }), ['bar', 'baz', 'foo', 'zot']);
    assert.deepEqual(names({ profiles: ['test'], env: { COMPOSE_PROFILES: 'debug' } }), ['bar', 'baz', 'foo']); // the option wins
  });

  it('activates what an active service depends on', () => {
    assert.deepEqual(names({ profiles: ['debug'] }), ['bar', 'foo', 'zot']);
  });

  it('rejects a dependency on an undefined service, unless not required', () => {
    const dir = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x', '    depends_on:', '      db: {condition: service_healthy}', '      opt: {required: false}') });
    assert.throws(() => load(dir), { message: 'compose.yaml:5: services.a.depends_on.db: service "a" depends on undefined service "db"' });
    const ok = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x', '    depends_on:', '      opt: {required: false}') });
    assert.deepEqual(svc(load(ok), 'a').dependsOn, {});
  });
});
