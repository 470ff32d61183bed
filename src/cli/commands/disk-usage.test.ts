import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeDaemon } from '../fake-daemon';
import { type DiskUsage, renderDiskUsage, summaryRows, systemPruneWarning } from './disk-usage';

process.env.TZ = 'UTC';

const fake = new FakeDaemon();
before(() => fake.start());
after(() => fake.stop());
const berth = (argv: string[], stdin = '') => fake.berth(argv, stdin);

const now = Math.floor(Date.now() / 1000);
const IMG = `sha256:${'ab'.repeat(32)}`;
const DANGLING = `sha256:${'cd'.repeat(32)}`;
const vol = (Name: string, RefCount: number, Size: number) => ({ Name, Driver: 'local', Mountpoint: `/var/lib/berth/volumes/${Name}/_data`, Labels: null, Options: null, Scope: 'local', UsageData: { Size, RefCount } });
const DF: DiskUsage = {
  LayersSize: 6_241_550,
  Images: [
    { Id: IMG, RepoTags: ['busybox:latest'], RepoDigests: [], Created: now - 2 * 3600, Size: 4_261_550, SharedSize: 0, Containers: 1 },
    { Id: DANGLING, RepoTags: [], RepoDigests: [], Created: now - 3 * 86400, Size: 1_980_000, SharedSize: 0, Containers: 0 },
  ],
  Containers: [
    { Id: '1'.repeat(64), Names: ['/web'], Image: 'busybox', ImageID: IMG, Command: 'sleep 1000', Created: now - 600, State: 'running', Status: 'Up 10 minutes', SizeRw: 100, SizeRootFs: 4_261_650 },
    { Id: '2'.repeat(64), Names: ['/old'], Image: IMG, ImageID: IMG, Command: 'sh -c "echo a very long command line"', Created: now - 7200, State: 'exited', Status: 'Exited (0) 2 hours ago', SizeRw: 12_000, SizeRootFs: 0 },
  ],
  Volumes: [vol('data', 1, 2000), vol('junk', 0, 1_980_000)],
  BuildCache: [],
};

describe('system df', () => {
  it('summarizes as docker does: active images have containers, reclaimable with a percentage', () => {
    assert.deepEqual(summaryRows(DF).map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable]), [
      ['Images', '2', '1', '6.242MB', '1.98MB (31%)'],
      ['Containers', '2', '1', '12.1kB', '12kB (99%)'],
      ['Local Volumes', '2', '1', '1.982MB', '1.98MB (99%)'],
      ['Build Cache', '0', '0', '0B', '0B'],
    ]);
    const empty = summaryRows({ LayersSize: 0, Images: null, Containers: null, Volumes: null, BuildCache: null });
    assert.deepEqual(empty.map((r) => r.Reclaimable), ['0B', '0B', '0B', '0B']);
  });

  it('prints the summary table; --format renders each row, json with docker\'s fields', async () => {
    fake.reply = (s) => (s.url === '/system/df' ? { status: 200, body: DF } : undefined);
    assert.deepEqual(await berth(['system', 'df']), {
      code: 0, err: '',
      out: [
        'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
        'Images          2         1         6.242MB   1.98MB (31%)',
        'Containers      2         1         12.1kB    12kB (99%)',
        'Local Volumes   2         1         1.982MB   1.98MB (99%)',
        'Build Cache     0         0         0B        0B',
        '',
      ].join('\n'),
    });
    assert.deepEqual([fake.seen[0]!.method, fake.seen[0]!.url], ['GET', '/system/df']);
    assert.equal((await berth(['system', 'df', '--format', '{{.Type}}: {{.Size}}'])).out, 'Images: 6.242MB\nContainers: 12.1kB\nLocal Volumes: 1.982MB\nBuild Cache: 0B\n');
    assert.equal((await berth(['system', 'df', '--format', 'table {{.Type}}\t{{.Active}}'])).out.split('\n')[0], 'TYPE            ACTIVE');
    assert.equal((await berth(['system', 'df', '--format', 'json'])).out.split('\n')[0],
      '{"Active":"1","Reclaimable":"1.98MB (31%)","Size":"6.242MB","TotalCount":"2","Type":"Images"}');
  });

  it('-v prints docker\'s four sections', async () => {
    fake.reply = () => ({ status: 200, body: DF });
    const r = await berth(['system', 'df', '-v']);
    assert.deepEqual([r.code, r.err], [0, '']);
    const lines = r.out.split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      'Images space usage:',
      '',
      'REPOSITORY   TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS',
      'busybox      latest    abababababab   2 hours ago   4.26MB    0B            4.26MB        1',
      '<none>       <none>    cdcdcdcdcdcd   3 days ago    1.98MB    0B            1.98MB        0',
    ]);
    assert.deepEqual(lines.slice(5, 11), [
      '',
      'Containers space usage:',
      '',
      'CONTAINER ID   IMAGE          COMMAND                   LOCAL VOLUMES   SIZE      CREATED          STATUS                   NAMES',
      '111111111111   busybox        "sleep 1000"              0               100B      10 minutes ago   Up 10 minutes            web',
      '222222222222   abababababab   "sh -c \\"echo a very …"   0               12kB      2 hours ago      Exited (0) 2 hours ago   old',
    ]);
    assert.deepEqual(lines.slice(11), [
      '',
      'Local Volumes space usage:',
      '',
      'VOLUME NAME   LINKS     SIZE',
      'data          1         2kB',
      'junk          0         1.98MB',
      '',
      'Build cache usage: 0B',
      '',
      'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED',
      '',
    ]);
  });

  it('-v with --format runs the template once over the sections, as docker does', () => {
    assert.equal(renderDiskUsage(DF, '{{json .Volumes}}', true),
      '[{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"1","Mountpoint":"/var/lib/berth/volumes/data/_data","Name":"data","Scope":"local","Size":"2kB","Status":"N/A"},' +
      '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"0","Mountpoint":"/var/lib/berth/volumes/junk/_data","Name":"junk","Scope":"local","Size":"1.98MB","Status":"N/A"}]');
    assert.equal(renderDiskUsage(DF, '{{range .Images}}{{.ID}} {{end}}', true), `${IMG} ${DANGLING} `);
    assert.equal(renderDiskUsage(DF, '{{len .Containers}}', true), '2');
  });

  it('takes no arguments', async () => {
    const r = await berth(['system', 'df', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^"berth system df" accepts no arguments\./);
  });
});

describe('system prune', () => {
  const base = 'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n';

  it('warns with docker\'s template', () => {
    assert.equal(systemPruneWarning(false, false, []), `${base}  - all dangling images\n\nAre you sure you want to continue?`);
    assert.equal(systemPruneWarning(true, true, ['label=b', 'until=24h', 'label=a', 'dangling=true']),
      `${base}  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n\n` +
      '  Items to be pruned will be filtered with:\n  - label=a\n  - label=b\n  - until=24h\n\nAre you sure you want to continue?');
  });

  const reply = (s: { url: string }) => {
    if (s.url.startsWith('/containers/prune')) return { status: 200, body: { ContainersDeleted: ['c1', 'c2'], SpaceReclaimed: 1000 } };
    if (s.url.startsWith('/networks/prune')) return { status: 200, body: { NetworksDeleted: ['n1'] } };
    if (s.url.startsWith('/volumes/prune')) return { status: 200, body: { VolumesDeleted: ['v1'], SpaceReclaimed: 2000 } };
    if (s.url.startsWith('/images/prune')) return { status: 200, body: { ImagesDeleted: [{ Untagged: 'busybox:latest' }, { Deleted: IMG }], SpaceReclaimed: 1_977_000 } };
    return undefined;
  };

  it('asks, then prunes containers, networks, images in docker\'s order and totals the space', async () => {
    fake.reply = reply;
    assert.deepEqual(await berth(['system', 'prune'], 'n\n'), { code: 0, out: `${base}  - all dangling images\n\nAre you sure you want to continue? [y/N] `, err: '' });
    assert.equal(fake.seen.length, 0);
    const r = await berth(['system', 'prune'], 'y\n');
    assert.deepEqual([r.code, r.err], [0, '']);
    assert.equal(r.out.slice(r.out.indexOf('[y/N] ') + 6),
      'Deleted Containers:\nc1\nc2\n\nDeleted Networks:\nn1\n\nDeleted Images:\nuntagged: busybox:latest\ndeleted: ' + IMG + '\n\nTotal reclaimed space: 1.978MB\n');
    assert.deepEqual(fake.seen.map((s) => `${s.method} ${s.url}`), [
      'POST /containers/prune', 'POST /networks/prune', `POST /images/prune?filters=${encodeURIComponent('{"dangling":{"true":true}}')}`,
    ]);
  });

  it('--volumes adds the volume prune (anonymous ones: no all filter); -a prunes every unused image; --filter goes to each', async () => {
    fake.reply = reply;
    const r = await berth(['system', 'prune', '-af', '--volumes', '--filter', 'label=x']);
    assert.equal(r.out, 'Deleted Containers:\nc1\nc2\n\nDeleted Networks:\nn1\n\nDeleted Volumes:\nv1\n\nDeleted Images:\nuntagged: busybox:latest\ndeleted: ' + IMG + '\n\nTotal reclaimed space: 1.98MB\n');
    const f = encodeURIComponent('{"label":{"x":true}}');
    assert.deepEqual(fake.seen.map((s) => s.url), [
      `/containers/prune?filters=${f}`, `/networks/prune?filters=${f}`, `/volumes/prune?filters=${f}`,
      `/images/prune?filters=${encodeURIComponent('{"dangling":{"false":true},"label":{"x":true}}')}`,
    ]);
  });

  it('nothing to prune: just the total; until with --volumes is refused before anything', async () => {
    fake.reply = (s) => ({ status: 200, body: s.url.startsWith('/images') ? { ImagesDeleted: null, SpaceReclaimed: 0 } : {} });
    assert.deepEqual(await berth(['system', 'prune', '-f']), { code: 0, out: 'Total reclaimed space: 0B\n', err: '' });
    const until = await berth(['system', 'prune', '-f', '--volumes', '--filter', 'until=24h']);
    assert.deepEqual([until.code, until.out, until.err, fake.seen.length], [1, '', 'ERROR: The "until" filter is not supported with "--volumes"\n', 0]);
  });

  it('the system group lists df and prune', async () => {
    const r = await berth(['system']);
    for (const c of ['df', 'prune']) assert.match(r.out, new RegExp(`\\n  ${c} `));
  });
});
