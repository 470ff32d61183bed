import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goJson, goQuote, goSprintf, goString, parseTemplate, renderTemplate } from './template';

const r = renderTemplate;
const tplErr = (src: string, data: unknown, message: string) => assert.throws(() => r(src, data), { message });

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
