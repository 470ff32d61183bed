import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { type LogReadOptions, type LogRecord, LogParser, readContainerLog, toSeconds } from './container-log';

const T0 = '2026-11-27T17:38:00.796012810+00:00';
const line = (ts: string, stream: string, tag: string, content: string | Buffer) =>
  Buffer.concat([Buffer.from(`${ts} ${stream} ${tag} `), Buffer.isBuffer(content) ? content : Buffer.from(content), Buffer.from('\n')]);
const ts = (sec: number) => `2026-11-27T17:38:${String(sec).padStart(2, '0')}.000000000+00:00`;
const text = (rs: LogRecord[]) => rs.map((r) => `${r.stream}:${r.data.toString()}`);

describe('LogParser', () => {
  it('parses an F record and adds the newline back', () => {
    const p = new LogParser();
    const [r, ...rest] = p.push(line(T0, 'stdout', 'F', 'hello'));
    assert.equal(rest.length, 0);
    assert.equal(r.stream, 'stdout');
    assert.equal(r.data.toString(), 'hello\n');
    assert.equal(r.time, '2026-11-27T17:38:00.796012810Z');
    assert.ok(Math.abs(r.seconds - (Date.UTC(2026, 10, 27, 17, 38, 0) / 1000 + 0.79601281)) < 1e-6);
  });

  it('keeps stderr records apart from stdout', () => {
    const p = new LogParser();
    const out = p.push(Buffer.concat([line(T0, 'stderr', 'F', 'oops'), line(T0, 'stdout', 'F', 'ok')]));
    assert.deepEqual(text(out), ['stderr:oops\n', 'stdout:ok\n']);
  });

  it('joins P records until the F record, keeping the first record\'s time', () => {
    const p = new LogParser();
    const out = p.push(
      Buffer.concat([line(ts(1), 'stdout', 'P', 'abc'), line(ts(2), 'stdout', 'P', 'def'), line(ts(3), 'stdout', 'F', 'ghi')]),
    );
    assert.equal(out.length, 1);
    assert.equal(out[0].data.toString(), 'abcdefghi\n');
    assert.equal(out[0].time, '2026-11-27T17:38:01.000000000Z');
  });

  it('joins partials per stream when stdout and stderr interleave', () => {
    const p = new LogParser();
    const out = p.push(
      Buffer.concat([
        line(ts(1), 'stdout', 'P', 'out-a '),
        line(ts(2), 'stderr', 'P', 'err-a '),
        line(ts(3), 'stdout', 'F', 'out-b'),
        line(ts(4), 'stderr', 'P', 'err-b '),
        line(ts(5), 'stderr', 'F', 'err-c'),
      ]),
    );
    assert.deepEqual(text(out), ['stdout:out-a out-b\n', 'stderr:err-a err-b err-c\n']);
    assert.equal(out[1].time, '2026-11-27T17:38:02.000000000Z');
  });

  it('keeps content with spaces (including leading/trailing) and empty lines', () => {
    const p = new LogParser();
    const out = p.push(Buffer.concat([line(T0, 'stdout', 'F', '  a  b   c  '), line(T0, 'stdout', 'F', '')]));
    assert.deepEqual(text(out), ['stdout:  a  b   c  \n', 'stdout:\n']);
  });

  it('keeps arbitrary binary bytes (other than newline) untouched', () => {
    const bin = Buffer.from([0x00, 0xff, 0xfe, 0x20, 0x0d, 0x80, 0xc3, 0x28, 0x1b]);
    const p = new LogParser();
    const out = p.push(line(T0, 'stdout', 'F', bin));
    assert.ok(out[0].data.equals(Buffer.concat([bin, Buffer.from('\n')])));
  });

  it('skips malformed lines and carries on', () => {
    const p = new LogParser();
    const out = p.push(
      Buffer.concat([
        Buffer.from('garbage\n'),
        Buffer.from('\n'),
        Buffer.from(`${T0} stdout\n`),
        Buffer.from(`${T0} stdin F nope\n`),
        Buffer.from(`${T0} STDOUT F nope\n`),
        line(T0, 'stdout', 'F', 'good'),
      ]),
    );
    assert.deepEqual(text(out), ['stdout:good\n']);
  });

  it('reassembles records split across push() chunks at every position', () => {
    const bytes = Buffer.concat([line(ts(1), 'stdout', 'P', 'part '), line(ts(2), 'stdout', 'F', 'end'), line(ts(3), 'stderr', 'F', 'e')]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = new LogParser();
      const out = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
      assert.deepEqual(text(out), ['stdout:part end\n', 'stderr:e\n'], `cut at ${cut}`);
    }
  });

  it('does not let later pushes corrupt data already returned', () => {
    const p = new LogParser();
    const chunk = Buffer.from(line(T0, 'stdout', 'F', 'first'));
    const [r] = p.push(chunk);
    chunk.fill(0x41);
    p.push(line(T0, 'stdout', 'F', 'second'));
    assert.equal(r.data.toString(), 'first\n');
  });

  it('flush() returns an open partial without a newline, once', () => {
    const p = new LogParser();
    assert.deepEqual(p.push(Buffer.concat([line(ts(1), 'stdout', 'P', 'no newline '), line(ts(2), 'stdout', 'P', 'at end')])), []);
    const out = p.flush();
    assert.deepEqual(text(out), ['stdout:no newline at end']);
    assert.equal(out[0].time, '2026-11-27T17:38:01.000000000Z');
    assert.deepEqual(p.flush(), []);
  });

  it('flush() returns nothing when every line was complete', () => {
    const p = new LogParser();
    p.push(line(T0, 'stdout', 'F', 'done'));
    assert.deepEqual(p.flush(), []);
  });
});

describe('toSeconds', () => {
  it('keeps nanoseconds as the fraction', () => {
    const base = Date.UTC(2026, 10, 27, 17, 38, 0) / 1000;
    assert.ok(Math.abs(toSeconds('2026-11-27T17:38:00.796012810Z') - (base + 0.79601281)) < 1e-6);
    assert.equal(toSeconds('2026-11-27T17:38:00Z'), base);
    assert.equal(toSeconds('2026-11-27T17:38:00.5Z'), base + 0.5);
  });

  it('honours a numeric zone offset', () => {
    const base = Date.UTC(2026, 10, 27, 17, 38, 0) / 1000;
    assert.equal(toSeconds('2026-11-27T18:38:00+01:00'), base);
    assert.equal(toSeconds('2026-11-27T17:38:00+00:00'), base);
  });

  it('distinguishes timestamps a microsecond apart', () => {
    assert.ok(toSeconds('2026-11-27T17:38:00.000001000Z') > toSeconds('2026-11-27T17:38:00.000000000Z'));
  });

  it('returns 0 for text that is not RFC 3339', () => {
    assert.equal(toSeconds('yesterday'), 0);
    assert.equal(toSeconds('2026-11-27 17:38:00Z'), 0);
  });
});

describe('readContainerLog', () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-log-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const logFile = (...records: Buffer[]) => {
    const p = join(dir, `ctr-${n++}.log`);
    fs.writeFileSync(p, Buffer.concat(records));
    return p;
  };
  const collect = async (path: string, o: LogReadOptions) => {
    const out: LogRecord[] = [];
    for await (const r of readContainerLog(path, o)) out.push(r);
    return out;
  };
  const five = () => logFile(...[1, 2, 3, 4, 5].map((s) => line(ts(s), s % 2 ? 'stdout' : 'stderr', 'F', `line ${s}`)));
  const sec = (s: number) => toSeconds(ts(s).replace('+00:00', 'Z'));

  it('reads every record in order', async () => {
    assert.deepEqual(text(await collect(five(), {})), [
      'stdout:line 1\n',
      'stderr:line 2\n',
      'stdout:line 3\n',
      'stderr:line 4\n',
      'stdout:line 5\n',
    ]);
  });

  it('returns nothing for a missing file', async () => {
    assert.deepEqual(await collect(join(dir, 'nope.log'), {}), []);
  });

  it('tail keeps the last N lines; tail 0 keeps none; a large tail keeps all', async () => {
    const p = five();
    assert.deepEqual(text(await collect(p, { tail: 2 })), ['stderr:line 4\n', 'stdout:line 5\n']);
    assert.deepEqual(await collect(p, { tail: 0 }), []);
    assert.equal((await collect(p, { tail: 100 })).length, 5);
  });

  it('tail counts joined lines, not P records', async () => {
    const p = logFile(line(ts(1), 'stdout', 'F', 'a'), line(ts(2), 'stdout', 'P', 'b1 '), line(ts(3), 'stdout', 'P', 'b2 '), line(ts(4), 'stdout', 'F', 'b3'));
    assert.deepEqual(text(await collect(p, { tail: 1 })), ['stdout:b1 b2 b3\n']);
  });

  it('includes a final unterminated partial line when not following', async () => {
    const p = logFile(line(ts(1), 'stdout', 'F', 'a'), line(ts(2), 'stdout', 'P', 'tail-less'));
    assert.deepEqual(text(await collect(p, {})), ['stdout:a\n', 'stdout:tail-less']);
  });

  it('since and until filter by timestamp, both inclusive', async () => {
    const p = five();
    assert.deepEqual(text(await collect(p, { since: sec(4) })), ['stderr:line 4\n', 'stdout:line 5\n']);
    assert.deepEqual(text(await collect(p, { until: sec(2) })), ['stdout:line 1\n', 'stderr:line 2\n']);
    assert.deepEqual(text(await collect(p, { since: sec(2), until: sec(3) })), ['stderr:line 2\n', 'stdout:line 3\n']);
    assert.deepEqual(await collect(p, { since: sec(6) }), []);
    assert.deepEqual(text(await collect(p, { since: sec(3) + 0.5 })), ['stderr:line 4\n', 'stdout:line 5\n']);
  });

  it('combines since with tail', async () => {
    assert.deepEqual(text(await collect(five(), { since: sec(2), tail: 1 })), ['stdout:line 5\n']);
  });

  it('follow: yields the existing lines, then lines appended later, and ends when stopped resolves', async () => {
    const p = logFile(line(ts(1), 'stdout', 'F', 'before'));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const started = Date.now();
    const reader = (async () => {
      for await (const r of readContainerLog(p, { follow: true, stopped })) {
        got.push(r.data.toString());
        if (r.data.toString() === 'before\n') {
          fs.appendFileSync(p, line(ts(2), 'stdout', 'F', 'appended 1'));
        }
        if (r.data.toString() === 'appended 1\n') {
          // Written just before the container stops: must still be delivered.
          fs.appendFileSync(p, Buffer.concat([line(ts(3), 'stderr', 'F', 'appended 2'), line(ts(4), 'stdout', 'P', 'partial')]));
          stop();
        }
      }
    })();
    await reader;
    assert.deepEqual(got, ['before\n', 'appended 1\n', 'appended 2\n', 'partial']);
    assert.ok(Date.now() - started < 5000, 'follow should end promptly after stop');
  });

  it('follow with tail 0 skips history but delivers new lines', async () => {
    const p = logFile(line(ts(1), 'stdout', 'F', 'old 1'), line(ts(2), 'stdout', 'F', 'old 2'));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const reader = (async () => {
      for await (const r of readContainerLog(p, { follow: true, tail: 0, stopped })) got.push(r.data.toString());
    })();
    await new Promise((r) => setTimeout(r, 50));
    fs.appendFileSync(p, line(ts(3), 'stdout', 'F', 'new'));
    await new Promise((r) => setTimeout(r, 50));
    stop();
    await reader;
    assert.deepEqual(got, ['new\n']);
  });

  it('follow ends on an already-resolved stopped promise after draining the file', async () => {
    const p = five();
    const out = await collect(p, { follow: true, stopped: Promise.resolve() });
    assert.equal(out.length, 5);
  });

  it('follow ends when the abort signal fires', async () => {
    const p = five();
    const ac = new AbortController();
    const got: LogRecord[] = [];
    const reader = (async () => {
      for await (const r of readContainerLog(p, { follow: true, tail: 1, signal: ac.signal })) got.push(r);
    })();
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await reader;
    assert.deepEqual(text(got), ['stdout:line 5\n']);
  });
});
