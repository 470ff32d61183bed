import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClassicStreamParser, InPlaceView, qualified, viewLines } from './build-progress';

/** A parser on a clock the test moves. */
function parser() {
  let t = 1000;
  const p = new ClassicStreamParser(() => t);
  return { p, tick: (ms: number) => (t += ms), now: () => t };
}

const ID = 'sha256:' + 'ab'.repeat(32);

describe('ClassicStreamParser', () => {
  it('turns the classic lines into steps: cached, run with output, done', () => {
    const { p, tick } = parser();
    p.feed('Step 1/4 : FROM busybox\n ---> 0123456789ab\n');
    p.feed('Step 2/4 : ARG GREETING=hi\n ---> Using cache\n ---> 1123456789ab\n');
    p.feed('Step 3/4 : RUN echo hi\n ---> Running in c0ffee000000\n');
    tick(500);
    // Output arrives in pieces that split lines.
    p.feed('h');
    p.feed('i\nsecond li');
    assert.deepEqual(p.steps[2].logs, ['hi']);
    p.feed('ne\nRemoving intermediate container c0ffee000000\n ---> 2123456789ab\n');
    tick(100);
    p.feed('Step 4/4 : CMD ["sh"]\n ---> 3123456789ab\n');
    p.aux({ ID });
    p.feed('Successfully built 3123456789ab\nSuccessfully tagged x:latest\nSuccessfully tagged reg.io:5000/a/b:1\n');
    p.finish(false);
    assert.deepEqual(p.steps.map((s) => [s.label, s.cached, s.state]), [
      ['[1/4] FROM busybox', false, 'done'],
      ['[2/4] ARG GREETING=hi', true, 'done'],
      ['[3/4] RUN echo hi', false, 'done'],
      ['[4/4] CMD ["sh"]', false, 'done'],
      ['exporting to image', false, 'done'],
    ]);
    assert.deepEqual(p.steps[2].logs, ['hi', 'second line']);
    assert.equal(p.steps[2].ended! - p.steps[2].started, 500);
    assert.deepEqual(p.steps[4].details, [`writing image ${ID}`, 'naming to docker.io/library/x:latest', 'naming to reg.io:5000/a/b:1']);
    assert.equal(p.imageId, ID);
    assert.deepEqual([p.done, p.total], [4, 4]);
    assert.deepEqual(p.tags, ['x:latest', 'reg.io:5000/a/b:1']);
  });

  it('keeps only the last lines of a step, the last state of a \\r progress line, and warnings aside', () => {
    const { p } = parser();
    p.feed('Step 1/2 : FROM busybox\n ---> 0123456789ab\nStep 2/2 : RUN seq 20\n');
    for (let i = 1; i <= 20; i++) p.feed(`${i}\n`);
    p.feed('10%\r50%\r100%\n[Warning] One or more build-args [X] were not consumed\n');
    assert.deepEqual(p.steps[1].logs, ['16', '17', '18', '19', '20', '100%']);
    assert.deepEqual(p.warnings, ['[Warning] One or more build-args [X] were not consumed']);
  });

  it('marks the running step as the one that failed', () => {
    const { p } = parser();
    p.feed('Step 1/3 : FROM busybox\n ---> 0123456789ab\nStep 2/3 : RUN exit 3\n ---> Running in 0123\nboom\n');
    p.finish(true);
    assert.deepEqual(p.steps.map((s) => s.state), ['done', 'error']);
    assert.deepEqual(p.steps[1].logs, ['boom']);
    assert.deepEqual([p.done, p.total], [1, 3]);
  });

  it('follows stages built at once: interleaved steps end by their own lines, output goes to the running RUN', () => {
    const { p, tick } = parser();
    p.feed('Step 1/5 : FROM busybox AS a\n ---> 0123456789ab\nStep 2/5 : RUN slow\n ---> Running in aaaa\n');
    p.feed('Step 3/5 : FROM busybox AS b\n ---> 0123456789ab\nStep 4/5 : ENV X=1\n');
    p.feed('slow output\n');
    p.feed(' ---> 1123456789ab\n'); // ENV of stage b done
    p.feed('Step 5/5 : COPY --from=a /x /x\n');
    tick(1000);
    p.feed('Removing intermediate container aaaa\n ---> 2123456789ab\n');
    const [, run, , env, copy] = p.steps;
    assert.deepEqual([run.state, env.state, copy.state], ['done', 'done', 'running']);
    assert.equal(run.ended! - run.started, 1000);
    assert.deepEqual(run.logs, ['slow output']);
    p.feed(' ---> 3123456789ab\n');
    assert.equal(copy.state, 'done');
  });

  it('on a failure, the running RUN is the error and steps still waiting are canceled', () => {
    const { p } = parser();
    p.feed('Step 1/4 : FROM busybox AS a\n ---> 0123456789ab\nStep 2/4 : RUN exit 1\n ---> Running in aaaa\n');
    p.feed('Step 3/4 : FROM busybox\n ---> 0123456789ab\nStep 4/4 : COPY --from=a /x /x\n');
    p.finish(true);
    assert.deepEqual(p.steps.map((s) => s.state), ['done', 'error', 'done', 'canceled']);
    const lines = viewLines(p, { width: 60, height: 40, started: 0, now: 0, finished: true });
    assert.match(lines[2], /^ => ERROR \[2\/4\] RUN exit 1 /);
    assert.match(lines[4], /^ => CANCELED \[4\/4\] COPY/);
  });

  it('gives output before the first step (a pull) a step of its own', () => {
    const { p } = parser();
    p.feed('Pulling alpine\nlatest: Pulling from library/alpine\n');
    assert.equal(p.steps[0].label, '[internal] preparing');
    assert.deepEqual(p.steps[0].logs, ['Pulling alpine', 'latest: Pulling from library/alpine']);
  });
});

describe('viewLines', () => {
  it('draws BuildKit-like lines with durations aligned to the width', () => {
    const { p, tick, now } = parser();
    const started = now();
    const load = p.internal('load build context');
    load.details.push('transferring context: 2.05kB');
    tick(200);
    p.end(load);
    p.feed('Step 1/3 : FROM busybox\n ---> 0123456789ab\nStep 2/3 : ENV A=1\n ---> Using cache\n ---> 1123456789ab\nStep 3/3 : RUN make\n ---> Running in 00\ncc -o x x.c\n');
    tick(1300);
    const lines = viewLines(p, { width: 60, height: 40, started, now: now(), finished: false });
    assert.deepEqual(lines, [
      '[+] Building 1.5s (2/3)',
      ' => [internal] load build context                      0.2s',
      ' => => transferring context: 2.05kB                    0.0s',
      ' => [1/3] FROM busybox                                 0.0s',
      ' => CACHED [2/3] ENV A=1                               0.0s',
      ' => [3/3] RUN make                                     1.3s',
      ' => => # cc -o x x.c',
    ]);
    assert.ok(lines.every((l) => l.length < 60));
  });

  it('shows ERROR with the failed step output kept, and FINISHED at the end', () => {
    const { p, now } = parser();
    p.feed('Step 1/1 : RUN false\nsome output\n');
    p.finish(true);
    const lines = viewLines(p, { width: 50, height: 40, started: now(), now: now(), finished: true });
    assert.deepEqual(lines, ['[+] Building 0.0s (0/1) FINISHED', ' => ERROR [1/1] RUN false                    0.0s', ' => => # some output']);
  });

  it('cuts long lines and, while running, keeps the frame within the terminal height', () => {
    const { p, now } = parser();
    for (let i = 1; i <= 30; i++) p.feed(`Step ${i}/30 : RUN echo ${'x'.repeat(100)}\n ---> 0123456789ab\n`);
    const lines = viewLines(p, { width: 40, height: 10, started: now(), now: now(), finished: false });
    assert.equal(lines.length, 9);
    assert.ok(lines[8].startsWith(' => [30/30] RUN echo xxx'));
    assert.ok(lines.every((l) => l.length <= 39), lines.join('\n'));
    assert.equal(viewLines(p, { width: 40, height: 10, started: now(), now: now(), finished: true }).length, 31);
  });
});

describe('InPlaceView', () => {
  it('moves back over the previous frame and clears what it leaves below', () => {
    let out = '';
    const v = new InPlaceView({ write: (s: string) => (out += s) });
    v.draw(['a', 'b', 'c']);
    assert.equal(out, '\x1b[2Ka\n\x1b[2Kb\n\x1b[2Kc\n\x1b[J');
    out = '';
    v.draw(['a2']);
    assert.equal(out, '\x1b[3A\r\x1b[2Ka2\n\x1b[J');
  });
});

it('qualified names tags as BuildKit does', () => {
  assert.equal(qualified('x:latest'), 'docker.io/library/x:latest');
  assert.equal(qualified('me/x:1'), 'docker.io/me/x:1');
  assert.equal(qualified('localhost/x:1'), 'localhost/x:1');
  assert.equal(qualified('r.example:5000/x:1'), 'r.example:5000/x:1');
});
