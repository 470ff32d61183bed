import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  ellipsis,
  formatFloatF,
  formatFloatG,
  formatSpec,
  goJson,
  goQuote,
  goSprintf,
  goString,
  humanDuration,
  humanSize,
  parseTemplate,
  renderList,
  renderTemplate,
  tabulate,
  tabwrite,
  truncateId,
} from './format';

const r = renderTemplate;
const tplErr = (src: string, data: unknown, message: string) => assert.throws(() => r(src, data), { message });

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

describe('Go value printing', () => {
  it('prints values as fmt %v and templates do', () => {
    assert.equal(r('{{.}}', ['a', 'b']), '[a b]');
    assert.equal(r('{{.}}', { b: 1, a: ['x', null], c: true }), 'map[a:[x <nil>] b:1 c:true]');
    assert.equal(r('{{.}}', new Map([['k', 'v']])), 'map[k:v]');
    assert.equal(r('{{.T}} {{.F}}', { T: true, F: false }), 'true false');
    assert.equal(r('{{.N}} {{.U}}', { N: null }), '<no value> <no value>');
    assert.equal(r('{{.A}} {{.B}} {{.C}}', { A: 42, B: -7, C: 2 ** 53 }), '42 -7 9007199254740992');
    assert.equal(goString(1.5), '1.5');
    assert.equal(goString(0.00001), '1e-05');
    assert.equal(goString(1234567.5), '1.2345675e+06');
    assert.equal(goString(100000.5), '100000.5');
    assert.equal(goString(1e21), '1e+21');
    assert.equal(goString(NaN), 'NaN');
    assert.equal(goString(-Infinity), '-Inf');
    assert.equal(goString(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '2024-01-02 03:04:05 +0000 UTC');
    assert.equal(goString(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120))), '2024-01-02 03:04:05.12 +0000 UTC');
    assert.equal(goString({ toString: () => 'stringer' }), 'stringer');
    assert.equal(goString(undefined), '<nil>');
    assert.equal(goString(undefined, true), '<no value>');
  });

  it('quotes like strconv.Quote', () => {
    assert.equal(goQuote('a"b\\'), '"a\\"b\\\\"');
    assert.equal(goQuote('\n\t\x01\x7f'), '"\\n\\t\\x01\\x7f"');
    assert.equal(goQuote('é日'), '"é日"');
    assert.equal(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"');
    assert.equal(goQuote('\u{e0001}'), '"\\U000e0001"');
    assert.equal(goQuote("'", "'"), "'\\''");
  });

  it('formats floats with strconv rounding (half to even on exact ties)', () => {
    assert.equal(formatFloatG(1.125, 3), '1.12');
    assert.equal(formatFloatG(1.375, 3), '1.38');
    assert.equal(formatFloatG(999.5, 3), '1e+03');
    assert.equal(formatFloatG(77.9, 3), '77.9');
    assert.equal(formatFloatG(0.0001234, 2), '0.00012');
    assert.equal(formatFloatG(0.00001234, 2), '1.2e-05');
    assert.equal(formatFloatG(-2.5, 1), '-2');
    assert.equal(formatFloatF(2.5, 0), '2');
    assert.equal(formatFloatF(3.5, 0), '4');
    assert.equal(formatFloatF(3.14159, 2), '3.14');
    assert.equal(formatFloatF(9.999, 2), '10.00');
    assert.equal(formatFloatF(0.006, 2), '0.01');
    assert.equal(formatFloatF(0.0004, 2), '0.00');
    assert.equal(formatFloatF(0, 3), '0.000');
    assert.equal(formatFloatF(-1.5, 1), '-1.5');
  });

  it('encodes json like docker (no HTML escaping, nil as null)', () => {
    assert.equal(goJson({ a: '<&>', b: [1, 'x'], c: null }), '{"a":"<&>","b":[1,"x"],"c":null}');
    assert.equal(goJson(undefined), 'null');
    assert.equal(goJson(new Map([['k', 1]])), '{"k":1}');
    assert.equal(goJson('\u2028'), '"\\u2028"');
  });

  it('implements the printf verbs templates use', () => {
    assert.equal(goSprintf('%s-%d', ['a', 2]), 'a-2');
    assert.equal(goSprintf('%v %v %v', [[1, 2], { k: 'v' }, null]), '[1 2] map[k:v] <nil>');
    assert.equal(goSprintf('%q %q', ['a"b', 97]), `"a\\"b" 'a'`);
    assert.equal(goSprintf('%5s|%-5s|%05d|%+d|%.2f|%x|%X|%t|%c|%T|%%', ['ab', 'cd', -42, 3, 3.14159, 255, 'hi', true, 65, 1.5]), '   ab|cd   |-0042|+3|3.14|ff|6869|true|A|float64|%');
    assert.equal(goSprintf('%.2s|%g|%.3g', ['abc', 0.5, 1234.5]), 'ab|0.5|1.23e+03');
    assert.equal(goSprintf('%s %s', ['a']), 'a %!s(MISSING)');
    assert.equal(goSprintf('%s', ['a', 1, 'b']), 'a%!(EXTRA int=1, string=b)');
    assert.equal(goSprintf('%d %s %d', ['x', 5, null]), '%!d(string=x) %!s(int=5) %!d(<nil>)');
    assert.equal(goSprintf('100%', []), '100%!(NOVERB)');
  });
});

describe('renderTemplate', () => {
  const c = { ID: 'abc', Names: 'web', Labels: { app: 'x', tier: 'db' }, Ports: ['80/tcp', '443/tcp'], Size: 3, State: { Running: true, Health: null } };

  it('renders fields, nested fields, dot and missing fields', () => {
    assert.equal(r('id={{.ID}} name={{ .Names }}', c), 'id=abc name=web');
    assert.equal(r('{{.State.Running}}', c), 'true');
    assert.equal(r('{{.Nope}} {{.Nope.Deeper}} {{.Labels.missing}}', c), '<no value> <no value> <no value>');
    assert.equal(r('{{.}}', 'plain'), 'plain');
    assert.equal(r('no actions', c), 'no actions');
    assert.equal(r('', c), '');
  });

  it('supports json, index, join, upper, lower, title, split, pad, truncate, len, println, printf, print', () => {
    assert.equal(r('{{json .Labels}}', c), '{"app":"x","tier":"db"}');
    assert.equal(r('{{json .}}', { a: 1 }), '{"a":1}');
    assert.equal(r('{{json .Missing}}', c), 'null');
    assert.equal(r('{{index .Labels "app"}}', c), 'x');
    assert.equal(r('[{{index .Labels "nope"}}]', c), '[]'); // map[string]string zero value
    assert.equal(r('{{index .M "nope"}}', { M: { a: 1 } }), '<no value>');
    assert.equal(r('{{index .Ports 1}}', c), '443/tcp');
    assert.equal(r('{{index .L 0 1}}', { L: [['a', 'b']] }), 'b');
    assert.equal(r('{{join .Ports ", "}}', c), '80/tcp, 443/tcp');
    assert.equal(r('{{upper .Names}} {{lower "AbC"}} {{title "hello big_world x-y"}}', c), 'WEB abc Hello Big_world X-Y');
    assert.equal(r('{{split "a,b" ","}} {{pad "x" 1 2}}| {{truncate "abcdef" 3}}', c), '[a b]  x  | abc');
    assert.equal(r('{{len .Ports}} {{len .Labels}} {{len "é"}}', c), '2 2 2');
    assert.equal(r('{{println .Names}}', c), 'web\n');
    assert.equal(r('{{println "a" 1}}', c), 'a 1\n');
    assert.equal(r('{{printf "%s-%d" .Names .Size}}', c), 'web-3');
    assert.equal(r('{{print "a" 1 2 "b"}}', c), 'a1 2b');
  });

  it('supports if / else if / else / with', () => {
    const t = '{{if .A}}a{{else if .B}}b{{else}}none{{end}}';
    assert.equal(r(t, { A: 1 }), 'a');
    assert.equal(r(t, { B: 'x' }), 'b');
    assert.equal(r(t, { A: 0, B: '' }), 'none');
    for (const falsy of [false, 0, '', [], {}, null, new Map()]) assert.equal(r('{{if .}}t{{else}}f{{end}}', falsy), 'f');
    for (const truthy of [true, 1, 'x', [0], { a: 0 }]) assert.equal(r('{{if .}}t{{else}}f{{end}}', truthy), 't');
    assert.equal(r('{{with .State}}{{.Running}}{{end}}', c), 'true');
    assert.equal(r('{{with .Nope}}x{{else}}empty{{end}}', c), 'empty');
    assert.equal(r('{{if .A}}{{else with .B}}[{{.}}]{{end}}', { B: 'w' }), '[w]');
  });

  it('supports range with the element as dot, variables, else and maps', () => {
    assert.equal(r('{{range .Ports}}<{{.}}>{{end}}', c), '<80/tcp><443/tcp>');
    assert.equal(r('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
    assert.equal(r('{{range $i, $p := .Ports}}{{$i}}={{$p}};{{end}}', c), '0=80/tcp;1=443/tcp;');
    assert.equal(r('{{range $k, $v := .Labels}}{{$k}}:{{$v}} {{end}}', c), 'app:x tier:db ');
    assert.equal(r('{{range .}}{{.}}{{end}}', { b: 2, a: 1 }), '12');
    assert.equal(r('{{range $v := .Ports}}{{$.Names}}/{{$v}} {{end}}', c), 'web/80/tcp web/443/tcp ');
    assert.equal(r('{{range 3}}{{.}}{{end}}', null), '012');
    assert.equal(r('{{range .Nope}}x{{end}}', c), '');
  });

  it('trims whitespace around {{- and -}} and skips comments', () => {
    assert.equal(r('a  \n {{- .Names -}} \n  b', c), 'awebb');
    assert.equal(r('{{.Size -}} {{- .Size}}', c), '33');
    assert.equal(r('x {{/* note */}} y {{- /* note */ -}} z', c), 'x  yz');
    assert.equal(r('{{-3}}', c), '-3');
  });

  it('supports pipes, parentheses, $ and variables', () => {
    assert.equal(r('{{.Names | upper | printf "%s!"}}', c), 'WEB!');
    assert.equal(r('{{(index .L 0).N}}', { L: [{ N: 5 }] }), '5');
    assert.equal(r('{{$x := .Size}}{{$x}}{{$x = 4}}{{$x}}', c), '34');
    assert.equal(r('{{if $n := .Names}}{{$n}}{{end}}', c), 'web');
    assert.equal(r('{{with .State}}{{$.ID}}{{end}}', c), 'abc');
  });

  it('supports literals and comparisons', () => {
    assert.equal(r('{{"a\\tb"}} {{`raw\\n`}} {{0x10}} {{1_000}} {{017}} {{1.5}} {{true}}', null), 'a\tb raw\\n 16 1000 15 1.5 true');
    assert.equal(r('{{eq .Names "web"}} {{eq 1 2 1}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}', c), 'true true true true true true false');
    assert.equal(r('{{and 1 0}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not .Size}}', c), '0 2 3  false');
    assert.equal(r('{{if eq .State.Running true}}up{{end}}', c), 'up');
  });

  it('calls methods and getters, and reads Maps', () => {
    const ctx = {
      labels: { a: '1' },
      Label(this: { labels: Record<string, string> }, k: string) {
        return this.labels[k] ?? '';
      },
      get Status() {
        return 'Up 2 minutes';
      },
    };
    assert.equal(r('{{.Label "a"}} {{.Status}}', ctx), '1 Up 2 minutes');
    assert.equal(r('{{.k}} {{index . "k"}}', new Map([['k', 'v']])), 'v v');
    assert.equal(r('{{.constructor}} {{.toString}}', {}), '<no value> <no value>');
  });

  it('reports parse errors the way Go does', () => {
    tplErr('{{foo .A}}', c, 'template: :1: function "foo" not defined');
    tplErr('line1\n{{bar}}', c, 'template: :2: function "bar" not defined');
    tplErr('{{.A', c, 'template: :1: unclosed action');
    tplErr('{{end}}', c, 'template: :1: unexpected {{end}}');
    tplErr('{{else}}', c, 'template: :1: unexpected {{else}}');
    tplErr('{{if .A}}x', c, 'template: :1: unexpected EOF');
    tplErr('{{range .A}}x{{else}}', c, 'template: :1: unexpected EOF');
    tplErr('{{"abc}}', c, 'template: :1: unterminated quoted string');
    tplErr('{{`abc}}', c, 'template: :1: unterminated raw quoted string');
    tplErr('{{@}}', c, "template: :1: unrecognized character in action: U+0040 '@'");
    tplErr('{{}}', c, 'template: :1: missing value for command');
    tplErr('{{if}}{{end}}', c, 'template: :1: missing value for if');
    tplErr('{{.A | }}', c, 'template: :1: missing value for command');
    tplErr('{{(.A}}', c, 'template: :1: unclosed left paren');
    tplErr('{{.A)}}', c, 'template: :1: unexpected ")" in operand');
    tplErr('{{if .A}}{{end .B}}', c, 'template: :1: unexpected ".B" in end');
    tplErr('{{/* open', c, 'template: :1: unclosed comment');
    tplErr('{{/* c */ .A}}', c, 'template: :1: comment ends before closing delimiter');
    tplErr('{{template "x"}}', c, 'template: :1: unsupported action {{template}}');
    assert.throws(() => parseTemplate('{{nope}}'), /^Error: template: /);
  });

  it('reports execution errors with the failing command', () => {
    tplErr('{{.State.Health.Status}}', c, 'template: :1:2: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status');
    tplErr('x {{.Names.First}}', c, 'template: :1:4: executing "" at <.Names.First>: can\'t evaluate field First in type string');
    tplErr('{{index .Ports 5}}', c, 'template: :1:2: executing "" at <index .Ports 5>: error calling index: index out of range: 5');
    tplErr('{{index .Size 0}}', c, "template: :1:2: executing \"\" at <index .Size 0>: error calling index: can't index item of type int");
    tplErr('{{join .Ports}}', c, 'template: :1:2: executing "" at <join .Ports>: wrong number of args for join: want 2 got 1');
    tplErr('{{printf}}', c, 'template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 got 0');
    tplErr('{{upper .Size}}', c, 'template: :1:2: executing "" at <upper .Size>: error calling upper: wrong type for value; expected string; got int');
    tplErr('{{.Names 1}}', c, 'template: :1:2: executing "" at <.Names 1>: can\'t give argument to non-function .Names');
    tplErr('{{len .Size}}', c, 'template: :1:2: executing "" at <len .Size>: error calling len: len of type int');
    tplErr('{{lt 1 "a"}}', c, 'template: :1:2: executing "" at <lt 1 "a">: error calling lt: incompatible types for comparison');
    tplErr('{{eq 1}}', c, 'template: :1:2: executing "" at <eq 1>: error calling eq: missing argument for comparison');
    tplErr('{{$x}}', c, 'template: :1:2: executing "" at <$x>: undefined variable: $x');
    tplErr('{{range .Names}}{{end}}', c, "template: :1: range can't iterate over web");
  });

  it('compiles once and executes many times', () => {
    const t = parseTemplate('{{.A}}');
    assert.equal(t.execute({ A: 1 }), '1');
    assert.equal(t.execute({ A: 2 }), '2');
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

describe('go-units', () => {
  it('humanDuration follows go-units thresholds', () => {
    const S = 1000;
    const M = 60 * S;
    const H = 60 * M;
    const D = 24 * H;
    const cases: [number, string][] = [
      [-5 * S, 'Less than a second'],
      [0, 'Less than a second'],
      [999, 'Less than a second'],
      [S, '1 second'],
      [1999, '1 second'],
      [2 * S, '2 seconds'],
      [59 * S + 999, '59 seconds'],
      [M, 'About a minute'],
      [2 * M - 1, 'About a minute'],
      [2 * M, '2 minutes'],
      [H - 1, '59 minutes'],
      [H, 'About an hour'],
      [1.5 * H - 1, 'About an hour'],
      [1.5 * H, '2 hours'],
      [47 * H + 29 * M, '47 hours'],
      [47.5 * H, '2 days'],
      [13 * D, '13 days'],
      [14 * D, '2 weeks'],
      [59 * D, '8 weeks'],
      [60 * D, '2 months'],
      [729 * D, '24 months'],
      [730 * D, '2 years'],
      [3650 * D, '10 years'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  });

  it('humanSize uses decimal units and 3 significant digits (docker images)', () => {
    const cases: [number, string][] = [
      [0, '0B'],
      [999, '999B'],
      [1000, '1kB'],
      [1500, '1.5kB'],
      [1125, '1.12kB'],
      [2140160, '2.14MB'],
      [4.26e6, '4.26MB'],
      [77.9e6, '77.9MB'],
      [999500, '1e+03kB'],
      [1e12, '1TB'],
      [1.5e27, '1.5e+03YB'],
    ];
    for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
    assert.equal(humanSize(2140160, 4), '2.14MB');
    assert.equal(humanSize(999500, 4), '999.5kB');
  });

  it('bytesSize uses binary units and 4 significant digits (docker info)', () => {
    assert.equal(bytesSize(0), '0B');
    assert.equal(bytesSize(1023), '1023B');
    assert.equal(bytesSize(1024), '1KiB');
    assert.equal(bytesSize(1536), '1.5KiB');
    assert.equal(bytesSize(1048576), '1MiB');
    assert.equal(bytesSize(23.47 * 2 ** 30), '23.47GiB');
  });

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
