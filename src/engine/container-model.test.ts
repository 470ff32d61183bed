import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../errors';
import { type ContainerConfig, type CreateRequest, buildSpec, initialState, mergeEnv, processEnv, ZERO_TIME } from './container-model';
import type { RunConfig } from './image-config';

const IMAGE: RunConfig = {
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'APP_MODE=prod'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  Entrypoint: ['/docker-entrypoint.sh'],
  WorkingDir: '/srv',
  Labels: { maintainer: 'img', 'org.version': '1' },
  ExposedPorts: { '80/tcp': {} },
  StopSignal: 'SIGQUIT',
  User: 'www',
};
const CMD_ONLY: RunConfig = { Cmd: ['sh'] };

const fails = (fn: () => unknown, kind: string, message: string | RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });

describe('buildSpec: command resolution', () => {
  it("uses the image's Entrypoint and Cmd when the request gives neither", () => {
    const s = buildSpec({}, IMAGE, 'nginx');
    assert.deepEqual(s.Config.Entrypoint, ['/docker-entrypoint.sh']);
    assert.deepEqual(s.Config.Cmd, ['nginx', '-g', 'daemon off;']);
    assert.equal(s.Path, '/docker-entrypoint.sh');
    assert.deepEqual(s.Args, ['nginx', '-g', 'daemon off;']);
  });

  it("uses the image Cmd alone when the image has no entrypoint", () => {
    const s = buildSpec({}, { Cmd: ['sh', '-c', 'echo hi'] }, 'busybox');
    assert.equal(s.Config.Entrypoint, null);
    assert.equal(s.Path, 'sh');
    assert.deepEqual(s.Args, ['-c', 'echo hi']);
  });

  it("a user Cmd replaces the image Cmd but keeps the image Entrypoint", () => {
    const s = buildSpec({ Cmd: ['echo', 'hi'] }, IMAGE, 'nginx');
    assert.deepEqual(s.Config.Entrypoint, ['/docker-entrypoint.sh']);
    assert.deepEqual(s.Config.Cmd, ['echo', 'hi']);
    assert.equal(s.Path, '/docker-entrypoint.sh');
    assert.deepEqual(s.Args, ['echo', 'hi']);
  });

  it('an empty user Cmd falls back to the image Cmd', () => {
    const s = buildSpec({ Cmd: [] }, IMAGE, 'nginx');
    assert.deepEqual(s.Config.Cmd, ['nginx', '-g', 'daemon off;']);
  });

  it("a user Entrypoint drops the image's Cmd as well as its Entrypoint", () => {
    const s = buildSpec({ Entrypoint: ['/bin/top', '-b'] }, IMAGE, 'nginx');
    assert.deepEqual(s.Config.Entrypoint, ['/bin/top', '-b']);
    assert.equal(s.Config.Cmd, null);
    assert.equal(s.Path, '/bin/top');
    assert.deepEqual(s.Args, ['-b']);
  });

  it('a user Entrypoint and Cmd are both used', () => {
    const s = buildSpec({ Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo $0', 'x'] }, IMAGE, 'nginx');
    assert.equal(s.Path, '/bin/sh');
    assert.deepEqual(s.Args, ['-c', 'echo $0', 'x']);
  });

  it('Entrypoint [""] clears the image entrypoint (docker run --entrypoint "")', () => {
    const s = buildSpec({ Entrypoint: [''], Cmd: ['ls', '-l'] }, IMAGE, 'nginx');
    assert.equal(s.Config.Entrypoint, null);
    assert.deepEqual(s.Config.Cmd, ['ls', '-l']);
    assert.equal(s.Path, 'ls');
    assert.deepEqual(s.Args, ['-l']);
  });

  it('Entrypoint [""] with no Cmd leaves nothing to run', () => {
    fails(() => buildSpec({ Entrypoint: [''] }, IMAGE, 'nginx'), 'invalid', 'no command specified');
  });

  it('Entrypoint "" given as a string behaves like [""]', () => {
    const s = buildSpec({ Entrypoint: '', Cmd: ['ls'] }, IMAGE, 'nginx');
    assert.equal(s.Config.Entrypoint, null);
    assert.equal(s.Path, 'ls');
  });

  it(
    'Entrypoint [] clears the image entrypoint but keeps the image Cmd, as moby merge() does',
    () => {
      // moby daemon merge(): `if len(userConf.Entrypoint) == 0 { if len(userConf.Cmd) == 0 { Cmd = image.Cmd } ... }`
      // docker compose sends "Entrypoint": [] for `entrypoint: []`.
      const s = buildSpec({ Entrypoint: [] }, IMAGE, 'nginx');
      assert.equal(s.Config.Entrypoint?.length ?? 0, 0);
      assert.deepEqual(s.Config.Cmd, ['nginx', '-g', 'daemon off;']);
      assert.equal(s.Path, 'nginx');
    },
  );

  it('accepts Cmd and Entrypoint given as strings (Docker StrSlice)', () => {
    const s = buildSpec({ Cmd: 'top' }, { Entrypoint: ['/init'] }, 'x');
    assert.deepEqual(s.Config.Cmd, ['top']);
    assert.deepEqual(s.Args, ['top']);
    const t = buildSpec({ Entrypoint: '/bin/date' }, CMD_ONLY, 'x');
    assert.deepEqual(t.Config.Entrypoint, ['/bin/date']);
    assert.equal(t.Config.Cmd, null);
    assert.equal(t.Path, '/bin/date');
    assert.deepEqual(t.Args, []);
  });

  it('fails with "no command specified" when neither image nor request has a command', () => {
    fails(() => buildSpec({}, {}, 'scratch-img'), 'invalid', 'no command specified');
    fails(() => buildSpec({ Cmd: null, Entrypoint: null }, { Cmd: null, Entrypoint: null }, 'x'), 'invalid', 'no command specified');
  });
});

describe('buildSpec: validation', () => {
  it('rejects a relative working directory with Docker\'s message', () => {
    fails(
      () => buildSpec({ WorkingDir: 'app' }, CMD_ONLY, 'x'),
      'invalid',
      "the working directory 'app' is invalid, it needs to be an absolute path",
    );
  });

  it('takes the image WorkingDir unless the request sets one', () => {
    assert.equal(buildSpec({}, IMAGE, 'x').Config.WorkingDir, '/srv');
    assert.equal(buildSpec({ WorkingDir: '/work' }, IMAGE, 'x').Config.WorkingDir, '/work');
    assert.equal(buildSpec({}, CMD_ONLY, 'x').Config.WorkingDir, '');
  });

  it('rejects wrongly typed Env, Cmd and Entrypoint as a JSON unmarshal error', () => {
    fails(() => buildSpec({ Env: 5 as unknown as string[] }, CMD_ONLY, 'x'), 'invalid', /^json: cannot unmarshal number into Go struct field .*Env of type \[\]string$/);
    fails(() => buildSpec({ Cmd: { a: 1 } as unknown as string[] }, CMD_ONLY, 'x'), 'invalid', /cannot unmarshal object .*Cmd/);
    fails(() => buildSpec({ Entrypoint: true as unknown as string[] }, CMD_ONLY, 'x'), 'invalid', /cannot unmarshal boolean .*Entrypoint/);
    fails(() => buildSpec({ Cmd: ['ok', 3] as unknown as string[] }, CMD_ONLY, 'x'), 'invalid', /Cmd/);
  });

  it(
    'rejects Env given as a string (Env is []string, not a StrSlice)',
    () => {
      fails(() => buildSpec({ Env: 'A=1' as unknown as string[] }, CMD_ONLY, 'x'), 'invalid', /cannot unmarshal string .*Env/);
    },
  );

  it('keeps the network mode for the network service to resolve (none given is the default)', () => {
    for (const mode of ['default', 'bridge', 'none', 'host', 'container:abc', 'mynet']) {
      assert.equal(buildSpec({ HostConfig: { NetworkMode: mode } }, CMD_ONLY, 'x').HostConfig.NetworkMode, mode, mode);
    }
    assert.equal(buildSpec({ HostConfig: {} }, CMD_ONLY, 'x').HostConfig.NetworkMode, 'default');
  });

  it('keeps valid restart policies and refuses bad ones with Docker\'s messages', () => {
    assert.deepEqual(buildSpec({ HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } }, CMD_ONLY, 'x').HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.equal(buildSpec({ HostConfig: { RestartPolicy: { Name: '', MaximumRetryCount: 0 } } }, CMD_ONLY, 'x').HostConfig.RestartPolicy.Name, '');
    assert.equal(buildSpec({ HostConfig: { RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } } }, CMD_ONLY, 'x').HostConfig.RestartPolicy.Name, 'no');
    fails(() => buildSpec({ HostConfig: { RestartPolicy: { Name: 'never', MaximumRetryCount: 0 } } }, CMD_ONLY, 'x'), 'invalid', /unknown policy 'never'/);
    fails(() => buildSpec({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } }, CMD_ONLY, 'x'), 'invalid', /AutoRemove/);
  });
});

describe('buildSpec: merging with the image config', () => {
  it('merges Env by key: the request overrides image values, new keys are added', () => {
    const s = buildSpec({ Env: ['APP_MODE=dev', 'EXTRA=1'] }, IMAGE, 'x');
    assert.deepEqual([...s.Config.Env].sort(), [
      'APP_MODE=dev',
      'EXTRA=1',
      'LANG=C.UTF-8',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    assert.equal(s.Config.Env.filter((e) => e.startsWith('APP_MODE=')).length, 1);
  });

  it('keeps the image Env unchanged (same order) without request Env', () => {
    assert.deepEqual(buildSpec({}, IMAGE, 'x').Config.Env, IMAGE.Env);
    assert.deepEqual(buildSpec({ Env: null }, IMAGE, 'x').Config.Env, IMAGE.Env);
    assert.deepEqual(buildSpec({}, CMD_ONLY, 'x').Config.Env, []);
  });

  it('mergeEnv keeps each side\'s relative order and one entry per key', () => {
    const merged = mergeEnv(['A=1', 'B=2', 'C=3'], ['E=5', 'B=two', 'D=4']);
    assert.deepEqual([...merged].sort(), ['A=1', 'B=two', 'C=3', 'D=4', 'E=5']);
    const pos = (e: string) => merged.indexOf(e);
    assert.ok(pos('A=1') < pos('C=3'), 'image entries keep their order');
    assert.ok(pos('E=5') < pos('D=4'), 'request entries keep their order');
    assert.deepEqual(mergeEnv(null, ['X=1']), ['X=1']);
    assert.deepEqual(mergeEnv(['X=1'], undefined), ['X=1']);
    // A key without "=" still matches by name.
    assert.deepEqual(mergeEnv(['A=1'], ['A']), ['A']);
  });

  it(
    'orders Env as Docker does: the request entries first, then image entries not overridden',
    () => {
      const s = buildSpec({ Env: ['FOO=bar', 'APP_MODE=dev'] }, IMAGE, 'x');
      assert.deepEqual(s.Config.Env, [
        'FOO=bar',
        'APP_MODE=dev',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'LANG=C.UTF-8',
      ]);
    },
  );

  it('merges Labels, the request winning on conflicts', () => {
    const s = buildSpec({ Labels: { 'org.version': '2', team: 'a' } }, IMAGE, 'x');
    assert.deepEqual(s.Config.Labels, { maintainer: 'img', 'org.version': '2', team: 'a' });
    assert.deepEqual(buildSpec({ Labels: null }, CMD_ONLY, 'x').Config.Labels, {});
  });

  it('merges ExposedPorts and inherits User and StopSignal from the image', () => {
    const s = buildSpec({ ExposedPorts: { '443/tcp': {} } }, IMAGE, 'x');
    assert.deepEqual(s.Config.ExposedPorts, { '80/tcp': {}, '443/tcp': {} });
    assert.equal(s.Config.User, 'www');
    assert.equal(s.Config.StopSignal, 'SIGQUIT');
    const t = buildSpec({ User: '1000:1000', StopSignal: 'SIGTERM' }, IMAGE, 'x');
    assert.equal(t.Config.User, '1000:1000');
    assert.equal(t.Config.StopSignal, 'SIGTERM');
    assert.equal('ExposedPorts' in buildSpec({}, CMD_ONLY, 'x').Config, false);
    assert.equal('StopSignal' in buildSpec({}, CMD_ONLY, 'x').Config, false);
  });

  it(
    'unions request Volumes with the image Volumes (the docker CLI always sends "Volumes": {})',
    () => {
      const image: RunConfig = { Cmd: ['sh'], Volumes: { '/data': {} } };
      assert.deepEqual(buildSpec({ Volumes: {} }, image, 'x').Config.Volumes, { '/data': {} });
      assert.deepEqual(buildSpec({ Volumes: { '/cache': {} } }, image, 'x').Config.Volumes, { '/cache': {}, '/data': {} });
    },
  );

  it('takes image Volumes when the request has none', () => {
    assert.deepEqual(buildSpec({}, { Cmd: ['sh'], Volumes: { '/data': {} } }, 'x').Config.Volumes, { '/data': {} });
    assert.equal(buildSpec({}, CMD_ONLY, 'x').Config.Volumes, null);
  });

  it('records the image name and copies OnBuild', () => {
    const s = buildSpec({}, { Cmd: ['sh'], OnBuild: ['RUN true'] }, 'docker.io/library/busybox:latest');
    assert.equal(s.Config.Image, 'docker.io/library/busybox:latest');
    assert.deepEqual(s.Config.OnBuild, ['RUN true']);
  });
});

describe('buildSpec: defaults', () => {
  it('fills Config defaults', () => {
    const c = buildSpec({}, CMD_ONLY, 'x').Config;
    assert.equal(c.Hostname, '');
    assert.equal(c.Domainname, '');
    assert.equal(c.User, '');
    assert.equal(c.Tty, false);
    assert.equal(c.OpenStdin, false);
    assert.equal(c.StdinOnce, false);
    assert.equal(c.AttachStdin, false);
    assert.equal(c.AttachStdout, false);
    assert.equal(c.AttachStderr, false);
    assert.equal('StopTimeout' in c, false);
    assert.equal(buildSpec({ StopTimeout: 0 }, CMD_ONLY, 'x').Config.StopTimeout, 0);
  });

  it('fills HostConfig defaults: AutoRemove false, ShmSize 64 MiB, restart "no", json-file logs', () => {
    const hc = buildSpec({}, CMD_ONLY, 'x').HostConfig;
    assert.equal(hc.AutoRemove, false);
    assert.equal(hc.ShmSize, 67108864);
    assert.equal(hc.ReadonlyRootfs, false);
    assert.equal(hc.GroupAdd, null);
    assert.deepEqual(hc.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(hc.LogConfig, { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '20m' } });
    assert.equal(hc.Runtime, 'runc');
  });

  it('keeps HostConfig values the client sent', () => {
    const hc = buildSpec(
      { HostConfig: { AutoRemove: true, ShmSize: 1 << 20, ReadonlyRootfs: true, GroupAdd: ['audio'], Memory: 64 << 20 } },
      CMD_ONLY,
      'x',
    ).HostConfig;
    assert.equal(hc.AutoRemove, true);
    assert.equal(hc.ShmSize, 1 << 20);
    assert.equal(hc.ReadonlyRootfs, true);
    assert.deepEqual(hc.GroupAdd, ['audio']);
    assert.equal(hc.Memory, 64 << 20);
  });

  it('ShmSize 0 or a non-number means the default', () => {
    assert.equal(buildSpec({ HostConfig: { ShmSize: 0 } }, CMD_ONLY, 'x').HostConfig.ShmSize, 64 * 1024 * 1024);
    assert.equal(buildSpec({ HostConfig: { ShmSize: '1g' } }, CMD_ONLY, 'x').HostConfig.ShmSize, 64 * 1024 * 1024);
  });

  it('initialState is "created" with Go zero times', () => {
    const s = initialState();
    assert.equal(s.Status, 'created');
    assert.equal(s.StartedAt, ZERO_TIME);
    assert.equal(s.FinishedAt, '0001-01-01T00:00:00Z');
    assert.equal(s.Pid, 0);
  });
});

describe('processEnv', () => {
  const cfg = (Env: string[], Tty = false): ContainerConfig => buildSpec({ Env, Tty } as CreateRequest, CMD_ONLY, 'x').Config;
  const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

  it('puts the defaults first: PATH, then HOSTNAME', () => {
    assert.deepEqual(processEnv(cfg(['A=1']), 'abc123'), [DEFAULT_PATH, 'HOSTNAME=abc123', 'A=1']);
  });

  it('adds PATH only when the container has none; a given PATH takes the default\'s place', () => {
    const env = processEnv(cfg(['PATH=/bin', 'A=1']), 'h');
    assert.deepEqual(env, ['PATH=/bin', 'HOSTNAME=h', 'A=1']);
    assert.equal(env.filter((e) => e.startsWith('PATH=')).length, 1);
  });

  it('does not override a HOSTNAME the container sets', () => {
    assert.deepEqual(processEnv(cfg(['HOSTNAME=mine']), 'h'), [DEFAULT_PATH, 'HOSTNAME=mine']);
  });

  it('adds TERM=xterm only with a TTY, and not over a given TERM', () => {
    assert.deepEqual(processEnv(cfg([], true), 'h'), [DEFAULT_PATH, 'HOSTNAME=h', 'TERM=xterm']);
    assert.deepEqual(processEnv(cfg([], false), 'h'), [DEFAULT_PATH, 'HOSTNAME=h']);
    assert.deepEqual(processEnv(cfg(['TERM=dumb'], true), 'h'), [DEFAULT_PATH, 'HOSTNAME=h', 'TERM=dumb']);
  });

  it('does not mutate the config', () => {
    const c = cfg(['A=1'], true);
    processEnv(c, 'h');
    assert.deepEqual(c.Env, ['A=1']);
  });
});
