import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeDaemon } from '../fake-daemon';
import { historyRow, imagePruneFilters } from './image-usage';

process.env.TZ = 'UTC';

const fake = new FakeDaemon();
before(() => fake.start());
after(() => fake.stop());
const berth = (argv: string[], stdin = '') => fake.berth(argv, stdin);

const ID = `sha256:${'ab'.repeat(32)}`;
const now = Math.floor(Date.now() / 1000);
const HISTORY = [
  { Id: ID, Created: now - 2 * 3600, CreatedBy: '/bin/sh -c #(nop)  CMD ["sh"]', Tags: ['busybox:latest'], Size: 0, Comment: '' },
  { Id: '<missing>', Created: now - 3 * 86400, CreatedBy: '/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ', Tags: null, Size: 4_261_550, Comment: 'Imported from -' },
];

describe('history', () => {
  it('rows follow docker\'s historyContext', () => {
    const r = historyRow({ Id: ID, Created: 1735787045, CreatedBy: 'a\tb', Tags: null, Size: 1980000, Comment: 'c' }, true, true, 1735787045_000 + 7_200_000);
    assert.deepEqual(r, { Comment: 'c', CreatedAt: '2025-01-02T03:04:05Z', CreatedBy: 'a b', CreatedSince: '2 hours ago', ID: 'abababababab', Size: '1.98MB' });
    const raw = historyRow({ Id: ID, Created: 1735787045, CreatedBy: 'x'.repeat(50), Tags: null, Size: 1980000, Comment: '' }, false, false);
    assert.deepEqual([raw.CreatedSince, raw.Size, raw.ID, raw.CreatedBy.length], ['2025-01-02T03:04:05Z', '1980000', ID, 50]);
    assert.equal(historyRow({ ...HISTORY[1]!, CreatedBy: 'x'.repeat(50) }, true, true).CreatedBy, `${'x'.repeat(44)}…`);
  });

  it('prints docker\'s table: short ids, <missing>, ages, sizes, truncated CREATED BY', async () => {
    fake.reply = (s) => (s.url === '/images/busybox/history' ? { status: 200, body: HISTORY } : undefined);
    const r = await berth(['history', 'busybox']);
    assert.deepEqual([r.code, r.err], [0, '']);
    assert.equal(r.out, [
      'IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT',
      'abababababab   2 hours ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        ',
      '<missing>      3 days ago    /bin/sh -c #(nop) ADD file:0123456789abcdef0…   4.26MB    Imported from -',
      '',
    ].join('\n'));
    assert.deepEqual([fake.seen[0]!.method, fake.seen[0]!.url], ['GET', '/images/busybox/history']);
  });

  it('-H=false prints RFC 3339 dates and bytes; --no-trunc full ids and commands', async () => {
    fake.reply = () => ({ status: 200, body: HISTORY });
    const raw = (await berth(['image', 'history', '-H=false', 'busybox'])).out.split('\n');
    assert.match(raw[0]!, /^IMAGE +CREATED AT +CREATED BY +SIZE +COMMENT$/);
    assert.match(raw[2]!, /^<missing> +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\/bin\/sh .*… +4261550 +Imported from -$/);
    const full = (await berth(['history', '--no-trunc', 'busybox'])).out;
    assert.ok(full.includes(ID) && full.includes('ADD file:0123456789abcdef0123456789abcdef in / '));
  });

  it('-q prints ids (<missing> too); --format renders each entry, with table support', async () => {
    fake.reply = () => ({ status: 200, body: HISTORY });
    assert.deepEqual(await berth(['history', '-q', 'busybox']), { code: 0, out: 'abababababab\n<missing>\n', err: '' });
    assert.equal((await berth(['history', '-q', '--no-trunc', 'busybox'])).out, `${ID}\n<missing>\n`);
    assert.equal((await berth(['history', '--format', '{{.ID}}|{{.Size}}|{{.Comment}}', 'busybox'])).out, 'abababababab|0B|\n<missing>|4.26MB|Imported from -\n');
    assert.equal((await berth(['history', '--format', 'table {{.ID}}\t{{.Size}}', 'busybox'])).out, 'IMAGE          SIZE\nabababababab   0B\n<missing>      4.26MB\n');
    const json = JSON.parse((await berth(['history', '--format', 'json', 'busybox'])).out.split('\n')[1]!);
    assert.deepEqual(Object.keys(json), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']);
  });

  it('reports the daemon\'s error and wants exactly one image', async () => {
    fake.reply = () => ({ status: 404, body: { message: 'No such image: nope:latest' } });
    assert.deepEqual(await berth(['history', 'nope']), { code: 1, out: '', err: 'Error response from daemon: No such image: nope:latest\n' });
    const none = await berth(['history']);
    assert.equal(none.code, 1);
    assert.match(none.err, /^"berth history" requires exactly 1 argument\./);
  });
});

describe('image prune', () => {
  const dangling = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ';
  const all = 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ';
  const q = (f: string) => `/images/prune?filters=${encodeURIComponent(f)}`;

  it('filters: dangling=true, or dangling=false with --all, plus --filter, keys sorted', () => {
    assert.equal(imagePruneFilters([], false), '{"dangling":{"true":true}}');
    assert.equal(imagePruneFilters([], true), '{"dangling":{"false":true}}');
    assert.equal(imagePruneFilters(['until=24h', 'label=a=b'], false), '{"dangling":{"true":true},"label":{"a=b":true},"until":{"24h":true}}');
  });

  it('asks first, then prints what went and the space reclaimed', async () => {
    fake.reply = (s) => (s.url.startsWith('/images/prune')
      ? { status: 200, body: { ImagesDeleted: [{ Untagged: 'busybox:latest' }, { Deleted: ID }], SpaceReclaimed: 1980000 } } : undefined);
    assert.deepEqual(await berth(['image', 'prune'], 'n\n'), { code: 0, out: dangling, err: '' });
    assert.equal(fake.seen.length, 0);
    assert.deepEqual(await berth(['image', 'prune'], 'y\n'), {
      code: 0, err: '', out: `${dangling}Deleted Images:\nuntagged: busybox:latest\ndeleted: ${ID}\n\nTotal reclaimed space: 1.98MB\n`,
    });
    assert.deepEqual([fake.seen[0]!.method, fake.seen[0]!.url], ['POST', q('{"dangling":{"true":true}}')]);
    assert.equal((await berth(['image', 'prune', '-a'], 'y\n')).out.startsWith(all), true);
    assert.equal(fake.seen[0]!.url, q('{"dangling":{"false":true}}'));
    await berth(['image', 'prune', '-af', '--filter', 'label=x']);
    assert.equal(fake.seen[0]!.url, q('{"dangling":{"false":true},"label":{"x":true}}'));
  });

  it('nothing pruned: just the total; a bad filter is a usage error', async () => {
    fake.reply = () => ({ status: 200, body: { ImagesDeleted: null, SpaceReclaimed: 0 } });
    assert.deepEqual(await berth(['image', 'prune', '-f']), { code: 0, out: 'Total reclaimed space: 0B\n', err: '' });
    const bad = await berth(['image', 'prune', '-f', '--filter', 'oops']);
    assert.deepEqual([bad.code, bad.err, fake.seen.length],
      [125, 'invalid argument "oops" for "--filter" flag: bad format of filter (expected name=value)\nSee \'berth image prune --help\'.\n', 0]);
  });
});
