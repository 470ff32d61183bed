import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsis, formatSpec, renderList, tabulate, tabwrite, truncateId } from './format';

describe('tabulate / tabwrite', () => {
  it('pads every column but the last to max(10, widest + 3)', () => {
    assert.equal(
      tabulate([
        ['CONTAINER ID', 'IMAGE', 'COMMAND'],
        ['abc', 'busybox', 'sh'],
      ]),
      'CONTAINER ID   IMAGE     COMMAND\nabc            busybox   sh\n',
    );
    assert.equal(tabulate([['a', 'b'], ['c', 'd']]), 'a         b\nc         d\n');
  });

  it('never pads the last cell, so lines carry no trailing spaces', () => {
    const out = tabulate([['NAME', 'DRIVER'], ['bridge', 'bridge'], ['host-network-long', 'host']]);
    for (const line of out.split('\n')) assert.equal(line, line.trimEnd());
    assert.equal(out, 'NAME                DRIVER\nbridge              bridge\nhost-network-long   host\n');
  });

  it('keeps Go padding before an empty last cell', () => {
    assert.equal(tabulate([['a', '']]), 'a         \n');
  });

  it('counts code points, not UTF-16 units or bytes', () => {
    assert.equal(tabulate([['日本', 'x'], ['😀😀😀😀😀😀😀😀', 'y']]), '日本         x\n😀😀😀😀😀😀😀😀   y\n');
  });

  it('aligns per column block, as text/tabwriter does', () => {
    assert.equal(
      tabwrite('a\tb\nlonger-than-ten-chars\tc\nsingle\nx\ty\n'),
      `a${' '.repeat(23)}b\nlonger-than-ten-chars   c\nsingle\nx         y\n`,
    );
    assert.equal(tabulate([['a', 'b', 'c'], ['dd', 'e']]), 'a         b         c\ndd        e\n');
    assert.equal(tabwrite('no newline\tat end'), 'no newline   at end');
    assert.equal(tabulate([]), '');
  });
});

describe('formatSpec / renderList', () => {
  const headers = { ID: 'CONTAINER ID', Image: 'IMAGE', Names: 'NAMES' };
  const items = [
    { ID: 'abc123', Image: 'busybox', Names: 'web' },
    { ID: 'def456', Image: 'nginx:latest-and-long', Names: 'proxy' },
  ];

  it('parses table, json and escaped tabs/newlines', () => {
    assert.deepEqual(formatSpec('table {{.ID}}\\t{{.Image}}'), { table: true, template: '{{.ID}}\t{{.Image}}' });
    assert.deepEqual(formatSpec('  {{.ID}}\\n  '), { table: false, template: '{{.ID}}\n' });
    assert.deepEqual(formatSpec('json'), { table: false, template: '{{json .}}' });
    assert.deepEqual(formatSpec('table'), { table: true, template: '' });
  });

  it('renders a table with a header row built from the same template', () => {
    assert.equal(
      renderList('table {{.ID}}\\t{{.Image}}\\t{{.Names}}', items, headers),
      'CONTAINER ID   IMAGE                   NAMES\nabc123         busybox                 web\ndef456         nginx:latest-and-long   proxy\n',
    );
    assert.equal(renderList('table {{.ID}}', [], headers), 'CONTAINER ID\n');
  });

  it('passes header cells through docker header functions', () => {
    assert.equal(renderList('table {{upper .Names}}\t{{truncate .ID 3}}', items.slice(0, 1), headers), 'NAMES     CONTAINER ID\nWEB       abc\n');
  });

  it('keeps the header printed before an error, as docker ignores header errors', () => {
    const rows = [{ ID: 'abc', Label: (k: string) => 'L' + k }];
    assert.equal(renderList('table {{.ID}}\t{{.Label "x"}}', rows, headers), 'CONTAINER ID   \nabc            Lx\n');
  });

  it('renders plain formats one item per line', () => {
    assert.equal(renderList('{{.ID}}: {{.Names}}', items, headers), 'abc123: web\ndef456: proxy\n');
    assert.equal(renderList('{{.ID}}\\t{{.Names}}', items.slice(0, 1)), 'abc123\tweb\n');
    assert.equal(renderList('json', items.slice(0, 1)), '{"ID":"abc123","Image":"busybox","Names":"web"}\n');
    assert.equal(renderList('{{.ID}}', []), '');
  });

  it('uses the default table for an empty format or bare "table"', () => {
    const def = 'table {{.ID}}\t{{.Names}}';
    const want = 'CONTAINER ID   NAMES\nabc123         web\n';
    assert.equal(renderList('', items.slice(0, 1), headers, def), want);
    assert.equal(renderList('table', items.slice(0, 1), headers, def), want);
  });

  it('propagates item template errors', () => {
    assert.throws(() => renderList('{{.ID.X}}', items), /^Error: template: :1:2: executing "" at <.ID.X>/);
    assert.throws(() => renderList('{{oops}}', items), { message: 'template: :1: function "oops" not defined' });
  });
});

describe('ids and widths', () => {
  it('truncateId drops the algorithm and keeps 12 characters', () => {
    assert.equal(truncateId('sha256:0123456789abcdef0123'), '0123456789ab');
    assert.equal(truncateId('0123456789abcdef0123'), '0123456789ab');
    assert.equal(truncateId('abc'), 'abc');
  });

  it('ellipsis truncates to a display width ending in …', () => {
    const cmd = '/bin/sh -c "while true; do sleep 1; done"';
    assert.equal(ellipsis(cmd, 20), '/bin/sh -c "while t…');
    assert.equal([...ellipsis(cmd, 20)].length, 20);
    assert.equal(ellipsis('abc', 3), 'abc');
    assert.equal(ellipsis('abcd', 3), 'ab…');
    assert.equal(ellipsis('abc', 1), 'a');
    assert.equal(ellipsis('abc', 0), '');
    assert.equal(ellipsis('', 1), '');
    assert.equal(ellipsis('日本語テキスト', 6), '日本…');
  });
});
