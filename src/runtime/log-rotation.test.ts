import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readContainerLog, toSeconds } from './container-log';
import { fromHumanSize, heldPath, logFiles, logOptions, normalizeLogConfig, reconcileRotation } from './log-rotation';

const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-rotation-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => {
  const d = join(root, `c${n++}`);
  fs.mkdirSync(d);
  return join(d, 'ctr.log');
};
const ts = (s: number) => `2026-11-27T17:38:${String(s).padStart(2, '0')}.000000000+00:00`;
const rec = (s: number, text: string, tag = 'F', stream = 'stdout') => `${ts(s)} ${stream} ${tag} ${text}\n`;

/** What conmon does at a cut: a new file renamed over the log's name. */
function conmonCut(log: string, content = ''): void {
  fs.writeFileSync(`${log}.tmp`, content);
  fs.renameSync(`${log}.tmp`, log);
}

async function read(log: string, o = {}) {
  const out: string[] = [];
  for await (const r of readContainerLog(log, o)) out.push(r.data.toString());
  return out;
}

describe('log options', () => {
  it('fills berth\'s bounded defaults under the request\'s options', () => {
    assert.deepEqual(normalizeLogConfig(undefined), { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '20m' } });
    assert.deepEqual(normalizeLogConfig({ Type: '', Config: { 'max-size': '10k' } }), { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '10k' } });
    assert.deepEqual(normalizeLogConfig({ Type: 'none', Config: {} }), { Type: 'none', Config: {} });
  });

  it('refuses what json-file refuses, with its words', () => {
    assert.throws(() => normalizeLogConfig({ Config: { bogus: '1' } }), /^BerthError: unknown log opt 'bogus' for json-file log driver$/);
    assert.throws(() => normalizeLogConfig({ Config: { 'max-size': 'big' } }), /invalid size: 'big'/);
    assert.throws(() => normalizeLogConfig({ Config: { 'max-size': '0' } }), /max-size must be a positive number/);
    assert.throws(() => normalizeLogConfig({ Config: { 'max-file': '0' } }), /max-file cannot be less than 1/);
    assert.throws(() => normalizeLogConfig({ Config: { 'max-file': 'x' } }), /strconv.Atoi: parsing "x": invalid syntax/);
  });

  it('sizes are go-units decimal sizes', () => {
    assert.equal(fromHumanSize('10k'), 10_000);
    assert.equal(fromHumanSize('20m'), 20_000_000);
    assert.equal(fromHumanSize('1.5g'), 1_500_000_000);
    assert.equal(fromHumanSize('512'), 512);
    assert.equal(fromHumanSize('3KiB'), 3000);
    assert.deepEqual(logOptions({ 'max-size': '1m', 'max-file': '3' }), { maxSize: 1_000_000, maxFile: 3 });
    assert.deepEqual(logOptions({}), { maxSize: 0, maxFile: 1 });
  });
});

describe('reconcileRotation', () => {
  it('links the live file as held, then shifts each cut into .1, .2 and drops past max-file', () => {
    const log = newDir();
    fs.writeFileSync(log, rec(1, 'a'));
    reconcileRotation(log, 3);
    assert.equal(fs.statSync(heldPath(log)).ino, fs.statSync(log).ino);
    for (const [i, s] of [[2, 'b'], [3, 'c'], [4, 'd']] as const) {
      conmonCut(log, rec(i, s));
      reconcileRotation(log, 3);
      reconcileRotation(log, 3); // idempotent
    }
    assert.equal(fs.readFileSync(log, 'utf8'), rec(4, 'd'));
    assert.equal(fs.readFileSync(`${log}.1`, 'utf8'), rec(3, 'c'));
    assert.equal(fs.readFileSync(`${log}.2`, 'utf8'), rec(2, 'b'));
    assert.equal(fs.existsSync(`${log}.3`), false);
    assert.deepEqual(logFiles(log).map((f) => f.path.slice(log.length)), ['.2', '.1', '']);
  });

  it('max-file 1 keeps only the live file', () => {
    const log = newDir();
    fs.writeFileSync(log, rec(1, 'a'));
    reconcileRotation(log, 1);
    conmonCut(log, rec(2, 'b'));
    reconcileRotation(log, 1);
    assert.deepEqual(fs.readdirSync(join(log, '..')).sort(), ['ctr.log', 'ctr.log.held']);
    assert.deepEqual(logFiles(log).length, 1);
  });

  it('a cut not yet shifted is read between the numbered files and the live one', async () => {
    const log = newDir();
    fs.writeFileSync(log, rec(1, 'one'));
    reconcileRotation(log, 5);
    conmonCut(log, rec(2, 'two'));
    reconcileRotation(log, 5);
    conmonCut(log, rec(3, 'three')); // berthd has not seen this one yet
    assert.deepEqual(await read(log), ['one\n', 'two\n', 'three\n']);
  });
});

describe('reading across rotated files', () => {
  it('tail and since span files, and a line split across a cut is joined', async () => {
    const log = newDir();
    fs.writeFileSync(`${log}.2`, rec(1, 'l1') + rec(2, 'l2'));
    fs.writeFileSync(`${log}.1`, rec(3, 'l3') + rec(4, 'l4-', 'P'));
    fs.writeFileSync(log, rec(5, 'end') + rec(6, 'l6'));
    assert.deepEqual(await read(log), ['l1\n', 'l2\n', 'l3\n', 'l4-end\n', 'l6\n']);
    assert.deepEqual(await read(log, { tail: 2 }), ['l4-end\n', 'l6\n']);
    assert.deepEqual(await read(log, { tail: 4 }), ['l2\n', 'l3\n', 'l4-end\n', 'l6\n']);
    assert.deepEqual(await read(log, { since: toSeconds(ts(3).replace('+00:00', 'Z')) }), ['l3\n', 'l4-end\n', 'l6\n']);
    assert.deepEqual(await read(log, { until: toSeconds(ts(2).replace('+00:00', 'Z')) }), ['l1\n', 'l2\n']);
  });

  it('tail keeps a partial line of the other stream whole', async () => {
    const log = newDir();
    fs.writeFileSync(log, rec(1, 'x') + rec(2, 'e1 ', 'P', 'stderr') + rec(3, 'o1') + rec(4, 'e2', 'F', 'stderr'));
    assert.deepEqual(await read(log, { tail: 2 }), ['o1\n', 'e1 e2\n']);
  });

  it('since bisects a large file', async () => {
    const log = newDir();
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(`2026-11-27T17:${String(Math.floor(i / 600)).padStart(2, '0')}:${String(Math.floor(i / 10) % 60).padStart(2, '0')}.${String((i % 10) * 100_000_000).padStart(9, '0')}+00:00 stdout F line ${i}\n`);
    fs.writeFileSync(log, lines.join(''));
    const since = toSeconds('2026-11-27T17:30:00.500000000Z');
    const out = await read(log, { since });
    assert.equal(out[0], 'line 18005\n');
    assert.equal(out.length, 20000 - 18005);
  });

  it('follow continues across conmon\'s cuts without losing or repeating lines', async () => {
    const log = newDir();
    fs.writeFileSync(log, rec(1, 'a'));
    reconcileRotation(log, 3);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const reader = (async () => {
      for await (const r of readContainerLog(log, { follow: true, stopped })) got.push(r.data.toString());
    })();
    await new Promise((r) => setTimeout(r, 100));
    fs.appendFileSync(log, rec(2, 'b'));
    conmonCut(log, rec(3, 'c'));
    await new Promise((r) => setTimeout(r, 100));
    conmonCut(log, rec(4, 'd')); // two cuts before the keeper runs
    reconcileRotation(log, 3);
    fs.appendFileSync(log, rec(5, 'e'));
    await new Promise((r) => setTimeout(r, 200));
    stop();
    await reader;
    assert.deepEqual(got, ['a\n', 'b\n', 'c\n', 'd\n', 'e\n']);
  });
});
