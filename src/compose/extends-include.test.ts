import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LoadOptions, loadProject } from './loader';
import { project, yaml } from './test-fixture';

const load = (dir: string, opts: LoadOptions = {}) => loadProject({ workingDir: dir, env: {}, warn: () => {}, projectName: 'p', ...opts });
const svc = (p: ReturnType<typeof loadProject>, name: string) => p.services.find((s) => s.name === name)!;

describe('extends', () => {
  it('extends a service of the same file, through a chain', () => {
    const dir = project({
      'compose.yaml': yaml(
        'services:',
        '  base:',
        '    image: busybox',
        '    user: root',
        '    environment: {TZ: utc, PORT: "80"}',
        '    cap_add: [NET_ADMIN]',
        '  common:',
        '    extends: base',
        '    command: [common]',
        '  cli:',
        '    extends: {service: common}',
        '    environment: [PORT=8080]',
        '    cap_add: [NET_ADMIN, SYS_TIME]',
      ),
    });
    const cli = svc(load(dir), 'cli');
    assert.equal(cli.image, 'busybox');
    assert.equal(cli.user, 'root');
    assert.deepEqual(cli.command, ['common']);
    assert.deepEqual(cli.environment, { TZ: 'utc', PORT: '8080' });
    assert.deepEqual(cli.capAdd, ['NET_ADMIN', 'SYS_TIME']);
  });

  it('extends a service of another file, whose relative paths stay relative to that file', () => {
    const dir = project({
      'compose.yaml': yaml('services:', '  web:', '    extends: {file: shared/common.yml, service: webapp}', '    ports: ["8080:80"]', '    volumes: [./mine:/mine]'),
      'shared/common.yml': yaml(
        'services:',
        '  webapp:',
        '    extends: {file: ../deeper/base.yml, service: base}',
        '    build: ./app',
        '    env_file: common.env',
        '    volumes: [./static:/static, "/abs:/abs"]',
        '    ports: ["8080:80", "9090:90"]',
      ),
      'shared/common.env': 'FROM_COMMON=1\n',
      'deeper/base.yml': yaml('services:', '  base:', '    image: base-img', '    labels: [tier=web]', '    volumes: [{type: bind, source: ./conf, target: /conf}]'),
    });
    const web = svc(load(dir), 'web');
    assert.equal(web.image, 'base-img');
    assert.deepEqual(web.labels, { tier: 'web' });
    assert.equal(web.build!.context, path.join(dir, 'shared/app'));
    assert.deepEqual(web.environment, { FROM_COMMON: '1' });
    assert.deepEqual(
      web.volumes.map((v) => (v.type === 'bind' ? `${v.source}:${v.target}` : '')),
      [`${path.join(dir, 'deeper/conf')}:/conf`, `${path.join(dir, 'shared/static')}:/static`, '/abs:/abs', `${path.join(dir, 'mine')}:/mine`],
    );
    assert.deepEqual(web.ports.map((p) => `${p.published}:${p.target}`), ['8080:80', '9090:90']);
  });

  it('reports a missing service, a missing file and a cycle', () => {
    const missing = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x', '    extends: {service: nope}') });
    assert.throws(() => load(missing), { message: 'compose.yaml:4: services.a.extends: extended service "nope" not found' });
    const noFile = project({ 'compose.yaml': yaml('services:', '  a:', '    extends: {file: gone.yml, service: b}') });
    assert.throws(() => load(noFile), { message: 'compose.yaml:3: services.a.extends: extends file gone.yml not found' });
    const cycle = project({ 'compose.yaml': yaml('services:', '  a:', '    image: x', '    extends: b', '  b:', '    extends: a') });
    assert.throws(() => load(cycle), /circular extends: a → b → a/);
  });

  it('checks the extended file like any other', () => {
    const dir = project({
      'compose.yaml': yaml('services:', '  a:', '    extends: {file: other.yml, service: b}'),
      'other.yml': yaml('services:', '  b:', '    image: x', '    wrong: 1'),
    });
    assert.throws(() => load(dir), { message: 'other.yml:4: services.b.wrong: unknown key (not allowed here)' });
  });
});

describe('include', () => {
  it('adds the services, networks and volumes of included projects, with their own directories and .env', () => {
    const dir = project({
      'compose.yaml': yaml('include:', '  - ../commons/compose.yaml', 'services:', '  webapp:', '    image: web', '    depends_on: [included-service]'),
      '../commons/compose.yaml': yaml(
        'services:',
        '  included-service:',
        '    image: "svc:${TAG}"',
        '    build: .',
        '    volumes: [./data:/data, shared:/shared]',
        '    networks: [inner]',
        'networks:',
        '  inner: {}',
        'volumes:',
        '  shared: {}',
      ),
      '../commons/.env': 'TAG=from-included-env\n',
    });
    const commons = path.resolve(dir, '../commons');
    const p = load(dir);
    assert.deepEqual(p.services.map((s) => s.name), ['included-service', 'webapp']);
    const inc = svc(p, 'included-service');
    assert.equal(inc.image, 'svc:from-included-env');
    assert.equal(inc.build!.context, commons);
    assert.deepEqual(inc.volumes[0], { type: 'bind', source: path.join(commons, 'data'), target: '/data', readOnly: false, createHostPath: true });
    assert.equal(p.networks.inner.name, 'p_inner');
    assert.equal(p.volumes.shared.name, 'p_shared');
    // The including project's variables win over the included .env.
    assert.equal(svc(load(dir, { env: { TAG: 'mine' } }), 'included-service').image, 'svc:mine');
  });

  it('reads the long syntax: several files, project_directory and env_file', () => {
    const dir = project({
      'compose.yaml': yaml('include:', '  - path: [sub/a.yaml, sub/b.yaml]', '    project_directory: sub/root', '    env_file: [vars/one.env, vars/two.env]', 'services: {}'),
      'sub/a.yaml': yaml('services:', '  s:', '    image: "${IMG}"', '    volumes: [./rel:/rel]'),
      'sub/b.yaml': yaml('services:', '  s:', '    labels: [from=b]'),
      'vars/one.env': 'IMG=one\n',
      'vars/two.env': 'IMG=two\n',
    });
    const s = svc(load(dir), 's');
    assert.equal(s.image, 'two');
    assert.deepEqual(s.labels, { from: 'b' });
    assert.equal(s.volumes[0].type === 'bind' && s.volumes[0].source, path.join(dir, 'sub/root/rel'));
  });

  it('rejects a conflicting local definition and include cycles', () => {
    const dir = project({
      'compose.yaml': yaml('include: [other.yaml]', 'services:', '  s:', '    image: local'),
      'other.yaml': yaml('services:', '  s:', '    image: included'),
    });
    assert.throws(() => load(dir), { message: 'compose.yaml:3: services.s: conflicts with the service of the same name imported by include[0] (compose.yaml:1)' });
    const same = project({ 'compose.yaml': yaml('include: [other.yaml]', 'services:', '  s:', '    image: same'), 'other.yaml': yaml('services:', '  s:', '    image: same') });
    assert.equal(svc(load(same), 's').image, 'same');
    const cycle = project({ 'compose.yaml': yaml('include: [a.yaml]', 'services: {}'), 'a.yaml': yaml('include: [compose.yaml]', 'services: {}') });
    assert.throws(() => load(cycle), /include cycle: compose.yaml → a.yaml → compose.yaml/);
    const gone = project({ 'compose.yaml': yaml('services: {}', 'include:', '  - nothere.yaml') });
    assert.throws(() => load(gone), { message: 'compose.yaml:3: include[0]: included file nothere.yaml not found' });
  });
});
