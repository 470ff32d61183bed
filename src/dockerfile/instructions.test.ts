import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseGoDuration } from './go-duration';
import { type Instruction, InstructionError, toInstruction, toStages } from './instructions';
import { parseDockerfile } from './parser';
import { parseRunMount } from './run-mounts';

/** The typed instructions after `FROM scratch`, line 1. */
function body(text: string): Instruction[] {
  return toStages(parseDockerfile(`FROM scratch\n${text}`)).stages[0]!.instructions;
}
const first = (text: string) => body(text)[0]!;

function fails(text: string): InstructionError {
  try {
    toStages(parseDockerfile(text));
  } catch (e) {
    assert.ok(e instanceof InstructionError, `expected an InstructionError, got ${String(e)}`);
    return e;
  }
  assert.fail(`no error for ${JSON.stringify(text)}`);
}
const reason = (text: string) => fails(`FROM scratch\n${text}`).message.replace(/^dockerfile parse error on line 2: /, '');

describe('stages', () => {
  test('meta args, stage names, platform and indexes', () => {
    const { metaArgs, stages } = toStages(
      parseDockerfile('ARG BASE=alpine\nARG V\nFROM --platform=linux/amd64 $BASE AS Build\nRUN make\nFROM scratch\nCOPY --from=build /a /b\n'),
    );
    assert.deepEqual(metaArgs.map((a) => a.args), [[{ name: 'BASE', value: 'alpine' }], [{ name: 'V' }]]);
    assert.equal(stages.length, 2);
    assert.deepEqual(
      { ...stages[0]!.from },
      { kind: 'from', line: 3, original: 'FROM --platform=linux/amd64 $BASE AS Build', image: '$BASE', stageName: 'build', platform: 'linux/amd64' },
    );
    assert.equal(stages[0]!.name, 'build');
    assert.equal(stages[0]!.instructions.length, 1);
    assert.deepEqual([stages[1]!.index, stages[1]!.name], [1, undefined]);
  });

  test('an instruction before the first FROM other than ARG has no stage', () => {
    const err = fails('# c\nRUN x\nFROM a\n');
    assert.equal(err.message, 'no build stage in current context');
    assert.equal(err.line, 2);
  });

  test('FROM argument errors', () => {
    assert.equal(fails('FROM a b\n').message, 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    assert.equal(
      fails('FROM a AS 1x\n').message,
      'dockerfile parse error on line 1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols',
    );
  });

  test('unknown instructions and flags name the line, with a suggestion', () => {
    assert.equal(fails('FROM a\n\nXYZZY bar\n').message, 'dockerfile parse error on line 3: unknown instruction: XYZZY');
    assert.equal(reason('FOO bar'), 'unknown instruction: FOO (did you mean FROM?)');
    assert.equal(reason('constructor x'), 'unknown instruction: constructor');
    assert.equal(reason('RUNN x'), 'unknown instruction: RUNN (did you mean RUN?)');
    const err = fails('FROM a\nRUN x\nCOPY --frm=a b c\n');
    assert.equal(err.line, 3);
    assert.equal(err.message, 'dockerfile parse error on line 3: unknown flag: --frm (did you mean from?)');
    assert.equal(reason('COPY --zzzz a b'), 'unknown flag: --zzzz');
    assert.equal(reason('COPY --chown a b'), 'missing a value on flag: --chown');
    assert.equal(reason('COPY --link=maybe a b'), 'expecting boolean value for flag --link, not: maybe');
    assert.equal(reason('COPY --from=a --from=b a b'), 'duplicate flag specified: --from');
  });
});

describe('instructions', () => {
  test('ARG keeps values raw', () => {
    const arg = first('ARG a="x y" b c=');
    assert.deepEqual(arg.kind === 'arg' && arg.args, [
      { name: 'a', value: '"x y"' },
      { name: 'b' },
      { name: 'c', value: '' },
    ]);
    assert.equal(reason('ARG =x'), 'ARG names can not be blank');
  });

  test('ENV and LABEL pairs in both forms', () => {
    assert.deepEqual(first('ENV A=1 B="two words"'), {
      kind: 'env', line: 2, original: 'ENV A=1 B="two words"', pairs: [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }],
    });
    const label = first('LABEL maintainer Jane Doe');
    assert.deepEqual(label.kind === 'label' && label.pairs, [{ key: 'maintainer', value: 'Jane Doe' }]);
    assert.equal(reason('ENV'), 'ENV requires at least one argument');
    assert.equal(reason('LABEL'), 'LABEL requires at least one argument');
    assert.equal(reason('ENV --x=1 A=1'), 'unknown flag: --x');
  });

  test('RUN: shell and exec form, mounts, network, security, heredocs', () => {
    const run = first('RUN --mount=type=cache,target=/root/.cache,sharing=locked --network=none --security=insecure apt-get update && make');
    assert.ok(run.kind === 'run');
    assert.deepEqual(run.command, ['apt-get update && make']);
    assert.equal(run.json, false);
    assert.deepEqual(run.mounts, [{ type: 'cache', target: '/root/.cache', sharing: 'locked', readonly: false }]);
    assert.deepEqual(run.mountSpecs, ['type=cache,target=/root/.cache,sharing=locked']);
    assert.equal(run.network, 'none');
    assert.equal(run.security, 'insecure');
    const exec = first('RUN ["sh", "-c", "echo hi"]');
    assert.ok(exec.kind === 'run');
    assert.deepEqual([exec.command, exec.json, exec.network], [['sh', '-c', 'echo hi'], true, undefined]);
    const here = first('RUN <<EOF\necho hi\nEOF');
    assert.ok(here.kind === 'run');
    assert.deepEqual(here.heredocs, [{ name: 'EOF', content: 'echo hi\n', expand: true, chomp: false, fd: 0 }]);
    assert.equal(reason('RUN --network=bridge x'), 'invalid network mode "bridge"');
    assert.equal(reason('RUN --security=none x'), 'security "none" is not valid');
    assert.equal(reason('RUN --mount=type=bind,tpye=x x'), "unexpected key 'tpye' in 'tpye=x' (did you mean type?)");
  });

  test('CMD and ENTRYPOINT', () => {
    assert.deepEqual(first('CMD ["a", "b"]'), { kind: 'cmd', line: 2, original: 'CMD ["a", "b"]', command: ['a', 'b'], json: true });
    const ep = first('ENTRYPOINT exec  top -b');
    assert.ok(ep.kind === 'entrypoint');
    assert.deepEqual([ep.command, ep.json], [['exec  top -b'], false]);
    const empty = first('ENTRYPOINT []');
    assert.ok(empty.kind === 'entrypoint');
    assert.deepEqual(empty.command, []);
  });

  test('SHELL must be JSON', () => {
    const sh = first('SHELL ["/bin/bash", "-c"]');
    assert.deepEqual(sh.kind === 'shell' && sh.shell, ['/bin/bash', '-c']);
    assert.equal(reason('SHELL /bin/bash -c'), 'SHELL requires the arguments to be in JSON form');
    assert.equal(reason('SHELL []'), 'SHELL requires at least one argument');
  });

  test('WORKDIR, USER, STOPSIGNAL, MAINTAINER take exactly one argument', () => {
    assert.deepEqual(body('WORKDIR /a b\nUSER 1:2\nSTOPSIGNAL SIGKILL\nMAINTAINER Jane <j@x>').map((i) => ({ ...i, line: 0, original: '' })), [
      { kind: 'workdir', path: '/a b', line: 0, original: '' },
      { kind: 'user', user: '1:2', line: 0, original: '' },
      { kind: 'stopsignal', signal: 'SIGKILL', line: 0, original: '' },
      { kind: 'maintainer', name: 'Jane <j@x>', line: 0, original: '' },
    ]);
    assert.equal(reason('WORKDIR'), 'WORKDIR requires exactly one argument');
    assert.equal(reason('USER'), 'USER requires exactly one argument');
    assert.equal(reason('WORKDIR --x=1 /a'), 'unknown flag: --x');
  });

  test('EXPOSE sorts; VOLUME takes JSON or words', () => {
    const ex = first('EXPOSE 8080/udp 80 443');
    assert.deepEqual(ex.kind === 'expose' && ex.ports, ['443', '80', '8080/udp']);
    const vol = first('VOLUME ["/data", "/logs"]');
    assert.deepEqual(vol.kind === 'volume' && vol.paths, ['/data', '/logs']);
    assert.equal(reason('EXPOSE'), 'EXPOSE requires at least one argument');
    assert.equal(reason('VOLUME [" "]'), 'VOLUME specified can not be an empty string');
  });

  test('HEALTHCHECK with durations in nanoseconds', () => {
    const hc = first('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0s --retries=3 CMD curl -f http://localhost/');
    assert.deepEqual(
      { ...hc, original: '' },
      { kind: 'healthcheck', line: 2, original: '', test: ['CMD-SHELL', 'curl -f http://localhost/'], interval: 90e9, timeout: 500e6, startPeriod: 0, retries: 3 },
    );
    const exec = first('HEALTHCHECK CMD ["true"]');
    assert.deepEqual(exec.kind === 'healthcheck' && exec.test, ['CMD', 'true']);
    const none = first('HEALTHCHECK NONE');
    assert.deepEqual(none.kind === 'healthcheck' && none.test, ['NONE']);
    assert.equal(reason('HEALTHCHECK --interval=10us CMD x'), 'Interval "interval" cannot be less than 1ms');
    assert.equal(reason('HEALTHCHECK --timeout=abc CMD x'), 'time: invalid duration "abc"');
    assert.equal(reason('HEALTHCHECK --retries=-1 CMD x'), '--retries cannot be negative (-1)');
    assert.equal(reason('HEALTHCHECK NONE x'), 'HEALTHCHECK NONE takes no arguments');
    assert.equal(reason('HEALTHCHECK CMD'), 'Missing command after HEALTHCHECK CMD');
    assert.equal(reason('HEALTHCHECK CONNECT x'), 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
    assert.equal(reason('HEALTHCHECK'), 'HEALTHCHECK requires at least one argument');
  });

  test('COPY and ADD flags, heredoc sources', () => {
    const cp = first('COPY --from=build --chown=1:1 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/');
    assert.deepEqual(
      { ...cp, original: '' },
      {
        kind: 'copy', line: 2, original: '', sources: ['a', 'b'], dest: '/dst/', heredocs: [],
        from: 'build', chown: '1:1', chmod: '755', link: true, parents: true, exclude: ['*.md', 'x'],
      },
    );
    const add = first('ADD --checksum=sha256:abc --keep-git-dir=false https://x/y.tgz /y');
    assert.ok(add.kind === 'add');
    assert.deepEqual([add.sources, add.checksum, add.keepGitDir, add.link], [['https://x/y.tgz'], 'sha256:abc', false, false]);
    const here = first('COPY <<-EOF f /x/\n\thello\nEOF');
    assert.ok(here.kind === 'copy');
    assert.deepEqual([here.sources, here.heredocs], [['f'], [{ name: 'EOF', content: '\thello\n', expand: true, chomp: true, fd: 0 }]]);
    assert.equal(reason('COPY a'), 'COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    assert.equal(reason('ADD a'), 'ADD requires at least two arguments, but only one was provided. Destination could not be determined');
    assert.equal(reason('COPY a <<EOF\nEOF'), 'COPY cannot accept a heredoc as a destination');
    assert.equal(reason('ADD --from=x a b'), 'unknown flag: --from');
  });

  test('ONBUILD keeps its trigger text and refuses ONBUILD, FROM and MAINTAINER', () => {
    const ob = first('ONBUILD  COPY --from=x a b');
    assert.deepEqual(ob.kind === 'onbuild' && ob.trigger, 'COPY --from=x a b');
    const here = first('onbuild RUN <<EOF\necho hi\nEOF');
    assert.deepEqual(here.kind === 'onbuild' && here.trigger, 'RUN <<EOF\necho hi\nEOF');
    assert.equal(reason('ONBUILD ONBUILD RUN x'), 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    assert.equal(reason('ONBUILD from x'), "FROM isn't allowed as an ONBUILD trigger");
    assert.equal(reason('ONBUILD MAINTAINER x'), "MAINTAINER isn't allowed as an ONBUILD trigger");
    assert.equal(reason('ONBUILD'), 'ONBUILD requires at least one argument');
  });

  test('toInstruction works on a single node (ONBUILD triggers replayed by the builder)', () => {
    const ins = toInstruction(parseDockerfile('RUN <<EOF\necho hi\nEOF').nodes[0]!);
    assert.ok(ins.kind === 'run' && ins.heredocs[0]!.content === 'echo hi\n');
  });
});

describe('RUN --mount', () => {
  test('defaults per type', () => {
    assert.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', readonly: true });
    assert.deepEqual(parseRunMount('type=bind,src=.,dst=/src,from=build,rw'), { type: 'bind', target: '/src', source: '.', from: 'build', readonly: false });
    assert.deepEqual(parseRunMount('type=cache,destination=/c,id=x,mode=0700,uid=1000,gid=1000,ro=true'), {
      type: 'cache', target: '/c', id: 'x', sharing: 'shared', readonly: true, mode: 0o700, uid: 1000, gid: 1000,
    });
    assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024 });
    assert.deepEqual(parseRunMount('type=secret,id=tok,required,env=TOKEN'), { type: 'secret', id: 'tok', required: true, env: 'TOKEN' });
    assert.deepEqual(parseRunMount('type=secret,target=/run/secrets/npmrc,mode=0444'), {
      type: 'secret', id: 'npmrc', target: '/run/secrets/npmrc', required: false, mode: 0o444,
    });
    assert.deepEqual(parseRunMount('type=ssh'), { type: 'ssh', id: 'default', required: false });
    assert.deepEqual(parseRunMount('"type=bind","target=/a,b"'), { type: 'bind', target: '/a,b', readonly: true });
  });

  test('errors', () => {
    const msg = (spec: string) => {
      try {
        parseRunMount(spec);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    assert.equal(msg('type=volume,target=/x'), 'unsupported mount type "volume"');
    assert.equal(msg('type=cahce,target=/x'), 'unsupported mount type "cahce" (did you mean cache?)');
    assert.equal(msg('type=cache,target=/x,sharing=all'), 'unsupported sharing value "all"');
    assert.equal(msg('target=/x,mode=0755'), 'mode not allowed for "bind" type mounts');
    assert.equal(msg('type=cache,mode=9'), 'invalid value 9 for mode');
    assert.equal(msg('type=tmpfs,target=/x,size=lots'), 'invalid value for size: lots');
    assert.equal(msg('target=/x,size=1m'), "unexpected key 'size' for mount type 'bind'");
    assert.equal(msg('target=/x,required'), "unexpected key 'required' for mount type 'bind'");
    assert.equal(msg('target=/x,exec'), "invalid field 'exec' must be a key=value pair");
    assert.equal(msg('type=secret'), 'invalid secret mount. one of source, target required');
    assert.equal(msg('target=/x,sharing=locked'), 'invalid cache sharing set for bind mount');
    assert.equal(msg('from=$STAGE,target=/x'), "'from' doesn't support variable expansion, define alias stage instead");
    assert.equal(msg('target=/a"b'), 'failed to parse csv mounts: bare " in non-quoted-field');
  });

  test('values can be expanded by the builder', () => {
    assert.deepEqual(parseRunMount('type=cache,target=$DIR,uid=$UID', (v) => v.replace('$DIR', '/d').replace('$UID', '7')), {
      type: 'cache', target: '/d', sharing: 'shared', readonly: false, uid: 7,
    });
  });
});

describe('Go durations', () => {
  test('parse like time.ParseDuration', () => {
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('2us'), 2000);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-5ms'), -5e6);
    assert.throws(() => parseGoDuration('10'), /^Error: time: missing unit in duration "10"$/);
    assert.throws(() => parseGoDuration('3d'), /^Error: time: unknown unit "d" in duration "3d"$/);
    assert.throws(() => parseGoDuration('.s'), /invalid duration/);
    assert.throws(() => parseGoDuration('1constructor'), /unknown unit "constructor"/);
  });
});
