import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { type JsonMessage, JsonMessageRenderer, progressText, renderJsonStream } from './progress';

const ESC = '\x1b';

function draw(msgs: JsonMessage[], o: { tty: boolean; width?: number; quiet?: boolean; onAux?: (a: unknown) => void }): string {
  let out = '';
  const r = new JsonMessageRenderer({ write: (s: string) => (out += s) }, { width: 200, now: () => 0, ...o });
  for (const m of msgs) r.render(m);
  return out;
}

const PULL: JsonMessage[] = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'bbb' },
  { status: 'Downloading', progressDetail: { current: 1_000_000, total: 4_000_000 }, progress: '[daemon bar]', id: 'aaa' },
  { status: 'Download complete', progressDetail: {}, id: 'bbb' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa' },
  { status: 'Digest: sha256:abc' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
];

describe('JSON-message rendering', () => {
  it('off a terminal: one line per status, progress updates skipped', () => {
    assert.equal(draw(PULL, { tty: false }), [
      'latest: Pulling from library/busybox', 'aaa: Pulling fs layer', 'bbb: Pulling fs layer', 'bbb: Download complete',
      'aaa: Pull complete', 'Digest: sha256:abc', 'Status: Downloaded newer image for busybox:latest', '',
    ].join('\n'));
  });

  it('on a terminal: a line per id, rewritten in place with cursor movement', () => {
    const bar = `[${'='.repeat(12)}>${' '.repeat(38)}]      1MB/4MB`;
    assert.equal(draw(PULL, { tty: true }), [
      'latest: Pulling from library/busybox\n',
      // A new id opens a line below and draws it from the line above; the cursor stays below the last id line.
      `\n${ESC}[1A${ESC}[2K\raaa: Pulling fs layer \r${ESC}[1B`,
      `\n${ESC}[1A${ESC}[2K\rbbb: Pulling fs layer \r${ESC}[1B`,
      // The bar comes from progressDetail (docker's CLI redraws it for its own width).
      `${ESC}[2A${ESC}[2K\raaa: Downloading ${bar}\r${ESC}[2B`,
      `${ESC}[1A${ESC}[2K\rbbb: Download complete \r${ESC}[1B`,
      `${ESC}[2A${ESC}[2K\raaa: Pull complete \r${ESC}[2B`,
      'Digest: sha256:abc\n',
      'Status: Downloaded newer image for busybox:latest\n',
    ].join(''));
  });

  it('a message without an id forgets the lines: the next id starts a fresh one', () => {
    const out = draw([{ status: 'x', progressDetail: {}, id: 'a' }, { status: 'next tag' }, { status: 'y', progressDetail: {}, id: 'a' }], { tty: true });
    assert.equal(out, `\n${ESC}[1A${ESC}[2K\ra: x \r${ESC}[1B` + 'next tag\n' + `\n${ESC}[1A${ESC}[2K\ra: y \r${ESC}[1B`);
  });

  it('uses the preformatted progress text when there is no progressDetail', () => {
    assert.equal(draw([{ status: 'Extracting', progress: '[==>  ] 1MB/2MB', id: 'a' }], { tty: true }), `\n${ESC}[1A${ESC}[2K\ra: Extracting [==>  ] 1MB/2MB\r${ESC}[1B`);
    assert.equal(draw([{ status: 'Extracting', progress: '[==>  ] 1MB/2MB', id: 'a' }], { tty: false }), '');
  });

  it('writes stream text as is, hands aux to the callback, and prints nothing when quiet', () => {
    const aux: unknown[] = [];
    assert.equal(draw([{ stream: 'Loaded image: busybox:latest\n' }, { aux: { Tag: 'latest', Digest: 'sha256:1', Size: 527 } }], { tty: false, onAux: (a) => aux.push(a) }),
      'Loaded image: busybox:latest\n');
    assert.deepEqual(aux, [{ Tag: 'latest', Digest: 'sha256:1', Size: 527 }]);
    assert.equal(draw(PULL, { tty: true, quiet: true }), '');
  });

  it('an error ends the stream with its message', () => {
    assert.throws(() => draw([{ status: 'a' }, { errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }], { tty: false }), { message: 'manifest unknown' });
    assert.throws(() => draw([{ error: 'old style' }], { tty: false, quiet: true }), { message: 'old style' });
  });
});

describe('progressText (docker\'s JSONProgress.String)', () => {
  it('draws a 50-step bar only on terminals wider than 110 columns', () => {
    assert.equal(progressText({ current: 12_300_000, total: 45_600_000 }, 200, 0), `[${'='.repeat(13)}>${' '.repeat(37)}]   12.3MB/45.6MB`);
    assert.equal(progressText({ current: 12_345_678, total: 45_678_901 }, 100, 0), ' 12.35MB/45.68MB');
    assert.equal(progressText({ current: 50, total: 50 }, 200, 0), `[${'='.repeat(50)}>] ${'50B'.padStart(8)}/50B`);
  });

  it('handles no total, wonky counts, units and hidden counts', () => {
    assert.equal(progressText({}, 200, 0), '');
    assert.equal(progressText({ current: 1234 }, 200, 0), ' 1.234kB');
    assert.equal(progressText({ current: 7, units: 'items' }, 200, 0), '7 items');
    assert.equal(progressText({ current: 5000, total: 1000 }, 80, 0), '     5kB');
    assert.equal(progressText({ current: 3, total: 10, units: 'items' }, 80, 0), '3/10 items');
    assert.equal(progressText({ current: 3, total: 10, hidecounts: true }, 80, 0), '');
  });

  it('estimates the time left from the start time on terminals wider than 50', () => {
    const now = 1_700_000_100_000;
    assert.equal(progressText({ current: 1_000_000, total: 4_000_000, start: 1_700_000_090 }, 80, now), '     1MB/4MB 30s');
    assert.equal(progressText({ current: 100, total: 10_000, start: 1_700_000_090 }, 80, now), '    100B/10kB 16m30s');
    assert.equal(progressText({ current: 1_000_000, total: 4_000_000, start: 1_700_000_090 }, 50, now), '     1MB/4MB');
  });
});

describe('renderJsonStream', () => {
  it('reads CRLF-separated messages and rethrows an in-band error as a plain Error', async () => {
    let out = '';
    const body = Readable.from(['{"status":"Loading layer","progressDetail":{"current":1,"total":2},"id":"x"}\r\n{"stream":"Loaded image: a:b\\n"}\r\n']);
    await renderJsonStream(body, { write: (s: string) => (out += s) });
    assert.equal(out, 'Loaded image: a:b\n');
    const bad = Readable.from(['{"status":"x"}\r\n{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized: authentication required"}\r\n']);
    await assert.rejects(renderJsonStream(bad, { write: () => true }), (e: Error) => e.name === 'Error' && e.message === 'unauthorized: authentication required');
  });
});
