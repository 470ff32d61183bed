import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../errors';
import { type RunConfig, applyChanges, hostArchitecture } from './image-config';

const BASE: RunConfig = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C'],
  Cmd: ['sh'],
  Labels: { a: '1' },
  ExposedPorts: { '22/tcp': {} },
  Volumes: { '/old': {} },
  WorkingDir: '/',
};

const invalidWith = (message: string | RegExp) => (e: unknown) => {
  assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
  assert.equal(e.kind, 'invalid');
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
};

describe('applyChanges: CMD and ENTRYPOINT', () => {
  it('takes the JSON (exec) form as-is', () => {
    assert.deepEqual(applyChanges({}, ['CMD ["nginx", "-g", "daemon off;"]']).Cmd, ['nginx', '-g', 'daemon off;']);
    assert.deepEqual(applyChanges({}, ['ENTRYPOINT ["/init"]']).Entrypoint, ['/init']);
  });

  it('wraps the shell form in /bin/sh -c', () => {
    assert.deepEqual(applyChanges({}, ['CMD echo "hi there" && ls']).Cmd, ['/bin/sh', '-c', 'echo "hi there" && ls']);
    assert.deepEqual(applyChanges({}, ['ENTRYPOINT exec top -b']).Entrypoint, ['/bin/sh', '-c', 'exec top -b']);
  });

  it('falls back to the shell form when the JSON does not parse', () => {
    assert.deepEqual(applyChanges({}, ['CMD [echo, hi]']).Cmd, ['/bin/sh', '-c', '[echo, hi]']);
  });

  it('replaces the previous value and leaves the other field alone', () => {
    const c = applyChanges({ Cmd: ['a'], Entrypoint: ['e'] }, ['CMD ["b"]']);
    assert.deepEqual(c.Cmd, ['b']);
    assert.deepEqual(c.Entrypoint, ['e']);
  });

  it('accepts keywords in any case and surrounding whitespace', () => {
    assert.deepEqual(applyChanges({}, ['  cmd   ["x"]  ']).Cmd, ['x']);
    assert.equal(applyChanges({}, ['Workdir /w']).WorkingDir, '/w');
  });

  it('applies several changes in order', () => {
    const c = applyChanges({}, ['CMD ["a"]', 'CMD ["b"]', 'USER u1', 'USER u2']);
    assert.deepEqual(c.Cmd, ['b']);
    assert.equal(c.User, 'u2');
  });

  it('skips blank changes', () => {
    assert.deepEqual(applyChanges(BASE, ['', '   ']), BASE);
  });
});

describe('applyChanges: ENV and LABEL', () => {
  it('adds several k=v pairs from one ENV, unquoting values', () => {
    const c = applyChanges({}, ['ENV A=1 B="hello world" C=\'single quoted\' D="esc \\"q\\"" E=']);
    assert.deepEqual(c.Env, ['A=1', 'B=hello world', 'C=single quoted', 'D=esc "q"', 'E=']);
  });

  it('replaces an existing key in place and appends new ones', () => {
    const c = applyChanges(BASE, ['ENV LANG=C.UTF-8 NEW=x']);
    assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8', 'NEW=x']);
  });

  it('supports the legacy "ENV key value" form, value running to the end of the line', () => {
    const c = applyChanges(BASE, ['ENV LANG en_US.UTF-8', 'ENV GREETING hello big world']);
    assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'LANG=en_US.UTF-8', 'GREETING=hello big world']);
  });

  it(
    'uses the legacy form whenever the first word has no "=" (ENV MSG hello=world)',
    () => {
      // buildkit parseNameVal: `if !strings.Contains(words[0], "=")` → old format, value = rest of line.
      assert.deepEqual(applyChanges({}, ['ENV MSG hello=world']).Env, ['MSG=hello=world']);
    },
  );

  it(
    'rejects a k=v list containing a word without "=" as Docker does',
    () => {
      assert.throws(() => applyChanges({}, ['ENV A=1 B']), invalidWith(/can't find = in "B"/));
    },
  );

  it('rejects ENV with only a name', () => {
    assert.throws(() => applyChanges({}, ['ENV ONLYNAME']), invalidWith(/ENV/));
  });

  it('merges LABEL pairs over existing labels', () => {
    const c = applyChanges(BASE, ['LABEL a=2 b="two words"', 'LABEL version 1.0']);
    assert.deepEqual(c.Labels, { a: '2', b: 'two words', version: '1.0' });
  });

  it('creates Env and Labels when the base has none', () => {
    const c = applyChanges({ Env: null, Labels: null }, ['ENV X=1', 'LABEL y=2']);
    assert.deepEqual(c.Env, ['X=1']);
    assert.deepEqual(c.Labels, { y: '2' });
  });
});

describe('applyChanges: EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD', () => {
  it('EXPOSE adds /tcp to bare ports and keeps explicit protocols', () => {
    const c = applyChanges(BASE, ['EXPOSE 80 443/tcp 53/udp']);
    assert.deepEqual(c.ExposedPorts, { '22/tcp': {}, '80/tcp': {}, '443/tcp': {}, '53/udp': {} });
  });

  it('VOLUME accepts the JSON and the plain form and adds to existing volumes', () => {
    assert.deepEqual(applyChanges(BASE, ['VOLUME ["/data", "/logs"]']).Volumes, { '/old': {}, '/data': {}, '/logs': {} });
    assert.deepEqual(applyChanges({}, ['VOLUME /a /b']).Volumes, { '/a': {}, '/b': {} });
  });

  it('VOLUME with a JSON value that is not an array of strings is an error', () => {
    assert.throws(() => applyChanges({}, ['VOLUME [1, 2]']), invalidWith('not a JSON array of strings: [1, 2]'));
  });

  it('sets WORKDIR, USER and STOPSIGNAL', () => {
    const c = applyChanges(BASE, ['WORKDIR /srv/app', 'USER nobody:nogroup', 'STOPSIGNAL SIGQUIT']);
    assert.equal(c.WorkingDir, '/srv/app');
    assert.equal(c.User, 'nobody:nogroup');
    assert.equal(c.StopSignal, 'SIGQUIT');
  });

  it(
    'resolves a relative WORKDIR against the current one, as the Dockerfile instruction does',
    () => {
      assert.equal(applyChanges({ WorkingDir: '/app' }, ['WORKDIR sub']).WorkingDir, '/app/sub');
      assert.equal(applyChanges({}, ['WORKDIR sub']).WorkingDir, '/sub');
    },
  );

  it('ONBUILD appends the trigger text', () => {
    const c = applyChanges({ OnBuild: ['RUN a'] }, ['ONBUILD RUN make install']);
    assert.deepEqual(c.OnBuild, ['RUN a', 'RUN make install']);
    assert.deepEqual(applyChanges({}, ['ONBUILD COPY . /src']).OnBuild, ['COPY . /src']);
  });
});

describe('applyChanges: errors and purity', () => {
  it('rejects keywords that are not allowed in --change', () => {
    for (const kw of ['RUN', 'FROM', 'COPY', 'ADD', 'HEALTHCHECK', 'BOGUS']) {
      assert.throws(() => applyChanges({}, [`${kw} something`]), invalidWith(`${kw} is not a valid change command`));
    }
  });

  it('fails on the first invalid change even after valid ones', () => {
    assert.throws(() => applyChanges({}, ['CMD ["a"]', 'RUN x']), invalidWith('RUN is not a valid change command'));
  });

  it('does not mutate its input', () => {
    const base: RunConfig = structuredClone(BASE);
    const snapshot = structuredClone(base);
    const out = applyChanges(base, ['ENV LANG=x', 'LABEL a=9', 'EXPOSE 1', 'VOLUME /v', 'ONBUILD RUN y', 'CMD ["z"]']);
    assert.deepEqual(base, snapshot);
    assert.notEqual(out.Env, base.Env);
    assert.notEqual(out.Labels, base.Labels);
    assert.notEqual(out.ExposedPorts, base.ExposedPorts);
    assert.notEqual(out.Volumes, base.Volumes);
  });

  it('returns an equal copy when there are no changes', () => {
    const out = applyChanges(BASE, []);
    assert.deepEqual(out, BASE);
    assert.notEqual(out, BASE);
  });
});

describe('hostArchitecture', () => {
  it('uses Go architecture names', () => {
    const arch = hostArchitecture();
    const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' };
    assert.equal(arch, expected[process.arch] ?? process.arch);
    assert.notEqual(arch, 'x64');
  });
});
