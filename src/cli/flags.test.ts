import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, type FlagSpec, formatFlagUsages, formatHelp, parseFlags, parseGoBool, parseGoInt } from './flags';

const RUN: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container when it exits' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
];
const STOP: FlagSpec[] = [
  { name: 'time', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
  { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
  { name: 'count', type: 'int', description: 'A count' },
  { name: 'force', short: 'f', type: 'bool', description: 'Force' },
];

const run = (...argv: string[]) => parseFlags(argv, RUN, { interspersed: false });
const stop = (...argv: string[]) => parseFlags(argv, STOP);
const fails = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof FlagError && e.message === message && e.name === 'FlagError');

describe('parseFlags: forms', () => {
  it('accepts long flags with a separate or attached value', () => {
    assert.equal(run('--name', 'web', 'img').flags.name, 'web');
    assert.equal(run('--name=web', 'img').flags.name, 'web');
    assert.equal(run('--name=', 'img').flags.name, '');
    assert.equal(run('--name=a=b', 'img').flags.name, 'a=b');
  });

  it('accepts short flags as -e v, -ev and -e=v', () => {
    assert.deepEqual(run('-e', 'A=1', 'img').flags.env, ['A=1']);
    assert.deepEqual(run('-eFOO=1', 'img').flags.env, ['FOO=1']);
    assert.deepEqual(run('-e=FOO=1', 'img').flags.env, ['FOO=1']);
  });

  it('combines short bools, and a group may end in a value flag', () => {
    const r = run('-it', 'busybox', 'sh');
    assert.equal(r.flags.interactive, true);
    assert.equal(r.flags.tty, true);
    assert.deepEqual(r.args, ['busybox', 'sh']);
    const dit = run('-dit', 'busybox');
    assert.deepEqual([dit.flags.detach, dit.flags.interactive, dit.flags.tty], [true, true, true]);
    const de = run('-de', 'FOO=1', 'busybox');
    assert.equal(de.flags.detach, true);
    assert.deepEqual(de.flags.env, ['FOO=1']);
    assert.deepEqual(de.args, ['busybox']);
    assert.deepEqual(run('-deX=2', 'img').flags.env, ['X=2']);
  });

  it('gives bools no separate argument but accepts =value', () => {
    const r = run('--rm', 'false');
    assert.equal(r.flags.rm, true);
    assert.deepEqual(r.args, ['false']);
    assert.equal(run('--rm=false', 'x').flags.rm, false);
    assert.equal(run('--rm=true', 'x').flags.rm, true);
    assert.equal(run('-d=false', 'x').flags.detach, false);
    assert.equal(run('-d=0', 'x').flags.detach, false);
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(run(`--rm=${v}`, 'x').flags.rm, true, v);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(v), false, v);
    assert.equal(parseGoBool('yes'), undefined);
  });

  it('takes the next argument as a value even when it starts with a dash', () => {
    assert.equal(run('--name', '--rm', 'img').flags.name, '--rm');
    assert.equal(run('--name', '-', 'img').flags.name, '-');
    const r = stop('-t', '-1', 'c1');
    assert.equal(r.flags.time, -1);
    assert.deepEqual(r.args, ['c1']);
  });

  it('accumulates list values in order; the last string or int wins', () => {
    const r = run('-e', 'A=1', '--env', 'B=2', '-eC=3', '--env=D=4', '--name', 'x', '--name', 'y', 'img');
    assert.deepEqual(r.flags.env, ['A=1', 'B=2', 'C=3', 'D=4']);
    assert.equal(r.flags.name, 'y');
    assert.equal(stop('-t', '1', '--time', '2').flags.time, 2);
  });

  it('fills every flag with its default, keyed by long name', () => {
    const r = parseFlags([], [
      ...STOP,
      { name: 'restart', type: 'string', description: '', default: 'no' },
      { name: 'timeout', type: 'int', description: '', default: 10 },
      { name: 'sig-proxy', type: 'bool', description: '', default: true },
      { name: 'label', short: 'l', type: 'list', description: '', default: ['a'] },
    ]);
    assert.deepEqual(r.flags, { time: 0, signal: '', count: 0, force: false, restart: 'no', timeout: 10, 'sig-proxy': true, label: ['a'] });
    assert.deepEqual(r.args, []);
    assert.equal(r.help, false);
    assert.equal(r.changed.size, 0);
  });

  it('lets the first use of a list flag replace its default', () => {
    const specs: FlagSpec[] = [{ name: 'label', type: 'list', description: '', default: ['a'] }];
    assert.deepEqual(parseFlags(['--label', 'b', '--label', 'c'], specs).flags.label, ['b', 'c']);
  });

  it('records which flags were given and offers typed accessors', () => {
    const r = stop('--time', '0', '-s', 'KILL', 'c');
    assert.deepEqual([...r.changed].sort(), ['signal', 'time']);
    assert.equal(r.int('time'), 0);
    assert.equal(r.string('signal'), 'KILL');
    assert.equal(r.bool('force'), false);
    assert.deepEqual(run('-e', 'A', 'x').list('env'), ['A']);
    assert.throws(() => r.string('time'), /not a defined string flag/);
    assert.throws(() => r.bool('nope'), /not a defined bool flag/);
  });

  it('parses ints like strconv.ParseInt with base 0', () => {
    assert.equal(stop('-t', '0x1f').flags.time, 31);
    assert.equal(stop('-t', '0o17').flags.time, 15);
    assert.equal(stop('-t', '017').flags.time, 15);
    assert.equal(stop('-t', '0b101').flags.time, 5);
    assert.equal(stop('-t', '1_000').flags.time, 1000);
    assert.equal(stop('-t', '+7').flags.time, 7);
    assert.equal(stop('-t', '0').flags.time, 0);
    assert.equal(stop('-t=-5').flags.time, -5);
    assert.equal(parseGoInt('-9223372036854775808'), -9223372036854775808);
    assert.deepEqual(parseGoInt('9223372036854775808'), { error: 'strconv.ParseInt: parsing "9223372036854775808": value out of range' });
    assert.deepEqual(parseGoInt('_1'), { error: 'strconv.ParseInt: parsing "_1": invalid syntax' });
    assert.deepEqual(parseGoInt('08'), { error: 'strconv.ParseInt: parsing "08": invalid syntax' });
    assert.deepEqual(parseGoInt('0x'), { error: 'strconv.ParseInt: parsing "0x": invalid syntax' });
    assert.deepEqual(parseGoInt(''), { error: 'strconv.ParseInt: parsing "": invalid syntax' });
    assert.deepEqual(parseGoInt('1.5'), { error: 'strconv.ParseInt: parsing "1.5": invalid syntax' });
  });
});

describe('parseFlags: positionals', () => {
  it('stops at -- and passes the rest through', () => {
    const r = stop('-f', '--', '-t', '--x', 'c');
    assert.equal(r.flags.force, true);
    assert.equal(r.flags.time, 0);
    assert.deepEqual(r.args, ['-t', '--x', 'c']);
  });

  it('treats a lone - as a positional', () => {
    assert.deepEqual(stop('-', '-f').args, ['-']);
    assert.deepEqual(parseFlags(['-', '-f'], STOP, { interspersed: false }).args, ['-', '-f']);
  });

  it('mixes flags and positionals when interspersed (the default)', () => {
    const r = stop('a', '-f', 'b', '--time', '3', 'c');
    assert.deepEqual(r.args, ['a', 'b', 'c']);
    assert.equal(r.flags.force, true);
    assert.equal(r.flags.time, 3);
  });

  it('stops at the first positional when not interspersed', () => {
    const r = run('--rm', 'busybox', 'ls', '-l', '--name', 'x', '--', '-h');
    assert.equal(r.flags.rm, true);
    assert.equal(r.flags.name, '');
    assert.deepEqual(r.args, ['busybox', 'ls', '-l', '--name', 'x', '--', '-h']);
    assert.equal(r.help, false);
  });

  it('keeps empty-string arguments as positionals', () => {
    assert.deepEqual(stop('', 'a').args, ['', 'a']);
  });
});

describe('parseFlags: help', () => {
  it('reports --help and -h anywhere in the parsed region without throwing', () => {
    assert.equal(stop('--help').help, true);
    assert.equal(stop('c1', '-h').help, true);
    assert.equal(stop('-fh', 'c1').help, true);
    assert.equal(stop('--help=false').help, false);
    assert.equal(run('--help').help, true);
    assert.equal(stop('--help').flags.help, undefined);
  });

  it('leaves -h to a command that defines it (docker run -h is --hostname)', () => {
    const r = run('-h', 'box', 'img');
    assert.equal(r.help, false);
    assert.equal(r.flags.hostname, 'box');
  });

  it('does not see --help after the first positional when not interspersed', () => {
    const r = run('busybox', '--help');
    assert.equal(r.help, false);
    assert.deepEqual(r.args, ['busybox', '--help']);
  });

  it('still fails on a bad flag that follows --help, as pflag keeps parsing', () => {
    fails(() => stop('--help', '--bogus'), 'unknown flag: --bogus');
  });
});

describe('parseFlags: errors', () => {
  it('unknown long flag', () => {
    fails(() => stop('--foo'), 'unknown flag: --foo');
    fails(() => stop('--foo=bar'), 'unknown flag: --foo');
  });

  it('unknown shorthand, naming the rest of the group from the bad letter', () => {
    fails(() => stop('-x'), "unknown shorthand flag: 'x' in -x");
    fails(() => stop('-xf'), "unknown shorthand flag: 'x' in -xf");
    // pflag reports the remainder of the group, so "-fx" fails "in -x" (what docker prints).
    fails(() => stop('-fx'), "unknown shorthand flag: 'x' in -x");
    fails(() => run('-ix'), "unknown shorthand flag: 'x' in -x");
    fails(() => stop("-'"), "unknown shorthand flag: '\\'' in -'");
    // The byte, not the character, is quoted: pflag's %q of the first UTF-8 byte.
    fails(() => stop('-é'), "unknown shorthand flag: 'Ã' in -é");
  });

  it('missing argument, long and short', () => {
    fails(() => stop('--time'), 'flag needs an argument: --time');
    fails(() => run('--name'), 'flag needs an argument: --name');
    fails(() => run('-e'), "flag needs an argument: 'e' in -e");
    fails(() => run('-de'), "flag needs an argument: 'e' in -e");
    fails(() => stop('-t'), "flag needs an argument: 't' in -t");
  });

  it('invalid int, with and without a shorthand', () => {
    fails(() => stop('-t', 'abc'), 'invalid argument "abc" for "-t, --time" flag: strconv.ParseInt: parsing "abc": invalid syntax');
    fails(() => stop('--time=abc'), 'invalid argument "abc" for "-t, --time" flag: strconv.ParseInt: parsing "abc": invalid syntax');
    fails(() => stop('--count', 'abc'), 'invalid argument "abc" for "--count" flag: strconv.ParseInt: parsing "abc": invalid syntax');
    fails(
      () => stop('--count', '99999999999999999999'),
      'invalid argument "99999999999999999999" for "--count" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range',
    );
    fails(() => stop('-t', 'a"b'), 'invalid argument "a\\"b" for "-t, --time" flag: strconv.ParseInt: parsing "a\\"b": invalid syntax');
  });

  it('invalid bool', () => {
    fails(() => run('--rm=maybe'), 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
    fails(() => run('-d=yes'), 'invalid argument "yes" for "-d, --detach" flag: strconv.ParseBool: parsing "yes": invalid syntax');
    fails(() => run('--rm='), 'invalid argument "" for "--rm" flag: strconv.ParseBool: parsing "": invalid syntax');
  });

  it('bad flag syntax', () => {
    fails(() => stop('---x'), 'bad flag syntax: ---x');
    fails(() => stop('--=x'), 'bad flag syntax: --=x');
  });
});

describe('formatHelp', () => {
  const specs: FlagSpec[] = [
    { name: 'time', short: 't', type: 'int', description: 'Seconds to wait', default: 10 },
    { name: 'name', type: 'string', description: 'Assign a name to the container' },
    { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
    { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
    { name: 'secret', type: 'bool', description: 'Hidden', hidden: true },
  ];

  it('lays out docker usage with aliases and sorted, aligned options', () => {
    const help = formatHelp('berth run [OPTIONS] IMAGE [COMMAND] [ARG...]', 'Create and run a new container from an image', specs, {
      aliases: ['berth container run', 'berth run'],
    });
    assert.equal(
      help,
      [
        '',
        'Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]',
        '',
        'Create and run a new container from an image',
        '',
        'Aliases:',
        '  berth container run, berth run',
        '',
        'Options:',
        '  -d, --detach        Run container in background and print container ID',
        '  -e, --env list      Set environment variables',
        '      --name string   Assign a name to the container',
        '  -t, --time int      Seconds to wait (default 10)',
        '',
      ].join('\n'),
    );
  });

  it('shows non-zero defaults as pflag does, and value names', () => {
    const out = formatFlagUsages([
      { name: 'restart', type: 'string', description: 'Restart policy', default: 'no' },
      { name: 'zero', type: 'int', description: 'Zero', default: 0 },
      { name: 'off', type: 'bool', description: 'Off' },
      { name: 'on', type: 'bool', description: 'On', default: true },
      { name: 'empty', type: 'string', description: 'Empty', default: '' },
      { name: 'labels', type: 'list', description: 'Labels', default: ['a', 'b'] },
      { name: 'nolabels', type: 'list', description: 'None' },
      { name: 'memory', short: 'm', type: 'string', description: 'Memory limit', valueName: 'bytes' },
      { name: 'file', short: 'f', type: 'string', description: 'Name of the `Dockerfile`' },
    ]);
    assert.equal(
      out,
      [
        '      --empty string      Empty',
        '  -f, --file Dockerfile   Name of the Dockerfile',
        '      --labels list       Labels (default [a b])',
        '  -m, --memory bytes      Memory limit',
        '      --nolabels list     None',
        '      --off               Off',
        '      --on                On (default true)',
        '      --restart string    Restart policy (default "no")',
        '      --zero int          Zero',
        '',
      ].join('\n'),
    );
  });

  it('indents continuation lines of a multi-line description under the column', () => {
    assert.equal(formatFlagUsages([{ name: 'a', type: 'bool', description: 'one\ntwo' }]), '      --a   one\n            two\n');
  });

  it('lists subcommands with cobra padding and the closing hint, omitting empty sections', () => {
    const help = formatHelp('berth network COMMAND', 'Manage networks', [], {
      commands: [
        { name: 'connect', description: 'Connect a container to a network' },
        { name: 'ls', description: 'List networks' },
      ],
    });
    assert.equal(
      help,
      [
        '',
        'Usage:  berth network COMMAND',
        '',
        'Manage networks',
        '',
        'Commands:',
        '  connect     Connect a container to a network',
        '  ls          List networks',
        '',
        "Run 'berth network COMMAND --help' for more information on a command.",
        '',
      ].join('\n'),
    );
    const long = formatHelp('x [OPTIONS] COMMAND', '', [], { commands: [{ name: 'averyverylongname', description: 'd' }] });
    assert.match(long, /\n {2}averyverylongname d\n/);
    assert.match(long, /Run 'x COMMAND --help'/);
  });

  it('includes examples when given', () => {
    assert.equal(formatHelp('berth ps', 'List', [], { examples: '  berth ps -a\n' }), '\nUsage:  berth ps\n\nList\n\nExamples:\n  berth ps -a\n');
  });
});
