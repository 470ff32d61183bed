import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBoolean, parseBytes, parseDuration, parseInteger, parseMode, parseNumber, splitShellWords } from './units';
import { parsePortShort, parseVolumeShort } from './short-syntax';

describe('parseDuration', () => {
  it('reads the spec examples into nanoseconds', () => {
    assert.equal(parseDuration('10ms'), 10e6);
    assert.equal(parseDuration('40s'), 40e9);
    assert.equal(parseDuration('1m30s'), 90e9);
    assert.equal(parseDuration('1h5m30s20ms'), 3930e9 + 20e6);
    assert.equal(parseDuration('1.5s'), 1.5e9);
    assert.equal(parseDuration('250us'), 250e3);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(30), 30e9); // a YAML number: seconds
  });
  it('rejects other text', () => {
    for (const bad of ['10', '1x', 's', '', '1m 30s', '-5s']) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  });
});

describe('parseBytes', () => {
  it('reads byte values with binary multiples', () => {
    assert.equal(parseBytes('2b'), 2);
    assert.equal(parseBytes('1024kb'), 1024 * 1024);
    assert.equal(parseBytes('2048k'), 2048 * 1024);
    assert.equal(parseBytes('512m'), 512 * 1024 ** 2);
    assert.equal(parseBytes('300M'), 300 * 1024 ** 2);
    assert.equal(parseBytes('1g'), 1024 ** 3);
    assert.equal(parseBytes('1gb'), 1024 ** 3);
    assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes('64MiB'), 64 * 1024 ** 2);
    assert.equal(parseBytes(4096), 4096);
    assert.equal(parseBytes('4096'), 4096);
  });
  it('rejects other text', () => {
    for (const bad of ['x', '1q', '-1m', '1 g b']) assert.throws(() => parseBytes(bad), /invalid byte value/, bad);
  });
});

describe('numbers, booleans and modes', () => {
  it('parses them from YAML values and interpolated strings', () => {
    assert.equal(parseInteger('3'), 3);
    assert.equal(parseInteger(3), 3);
    assert.throws(() => parseInteger('3.5'), /must be an integer/);
    assert.throws(() => parseInteger(-1), /at least 0/);
    assert.equal(parseNumber('0.5'), 0.5);
    assert.equal(parseBoolean('true'), true);
    assert.equal(parseBoolean('no'), false);
    assert.throws(() => parseBoolean('maybe'), /must be a boolean/);
    assert.equal(parseMode(288, '0440'), 0o440);
    assert.equal(parseMode(0o440, '0o440'), 0o440);
    assert.equal(parseMode('0755'), 0o755);
    assert.equal(parseMode(420), 420);
    assert.throws(() => parseMode('rwx'), /invalid file mode/);
  });
});

describe('splitShellWords', () => {
  it('splits like a shell, without expansion', () => {
    assert.deepEqual(splitShellWords('bundle exec thin -p 3000'), ['bundle', 'exec', 'thin', '-p', '3000']);
    assert.deepEqual(splitShellWords(`/bin/sh -c 'echo "hello $HOSTNAME"'`), ['/bin/sh', '-c', 'echo "hello $HOSTNAME"']);
    assert.deepEqual(splitShellWords(`echo "a \\"b\\" \\$c \\d" x\\ y ''`), ['echo', 'a "b" $c \\d', 'x y', '']);
    assert.deepEqual(splitShellWords('  a\t b\n c  '), ['a', 'b', 'c']);
    assert.deepEqual(splitShellWords('pre"mid"\'post\''), ['premidpost']);
    assert.deepEqual(splitShellWords(''), []);
  });
  it('rejects an unterminated quote', () => {
    assert.throws(() => splitShellWords(`echo 'oops`), /unterminated single quote/);
    assert.throws(() => splitShellWords('echo "oops'), /unterminated double quote/);
  });
});

describe('port short syntax', () => {
  it('reads every documented form', () => {
    assert.deepEqual(parsePortShort('3000'), [{ target: 3000, protocol: 'tcp' }]);
    assert.deepEqual(parsePortShort(3000), [{ target: 3000, protocol: 'tcp' }]);
    assert.deepEqual(parsePortShort('3000-3001'), [
      { target: 3000, protocol: 'tcp' },
      { target: 3001, protocol: 'tcp' },
    ]);
    assert.deepEqual(parsePortShort('8000:8000'), [{ target: 8000, protocol: 'tcp', published: '8000' }]);
    assert.deepEqual(parsePortShort('9090-9091:8080-8081'), [
      { target: 8080, protocol: 'tcp', published: '9090' },
      { target: 8081, protocol: 'tcp', published: '9091' },
    ]);
    assert.deepEqual(parsePortShort('8000-9000:80'), [{ target: 80, protocol: 'tcp', published: '8000-9000' }]);
    assert.deepEqual(parsePortShort('127.0.0.1:8080:80/tcp'), [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1', published: '8080' }]);
    assert.deepEqual(parsePortShort('127.0.0.1::80'), [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1' }]);
    assert.deepEqual(parsePortShort('::1:6000:6000'), [{ target: 6000, protocol: 'tcp', hostIp: '::1', published: '6000' }]);
    assert.deepEqual(parsePortShort('[::1]:6001:6001'), [{ target: 6001, protocol: 'tcp', hostIp: '::1', published: '6001' }]);
    assert.deepEqual(parsePortShort('6060:6060/UDP'), [{ target: 6060, protocol: 'udp', published: '6060' }]);
  });
  it('rejects bad ones', () => {
    assert.throws(() => parsePortShort('abc'), /invalid container port/);
    assert.throws(() => parsePortShort('70000'), /invalid container port/);
    assert.throws(() => parsePortShort('80/icmp'), /invalid protocol/);
    assert.throws(() => parsePortShort('8000-8002:80-81'), /different sizes/);
    assert.throws(() => parsePortShort('localhost:80:80'), /invalid host IP/);
  });
});

describe('volume short syntax', () => {
  it('tells volumes from host paths and reads the mode', () => {
    assert.deepEqual(parseVolumeShort('/data'), { isPath: false, target: '/data', readOnly: false, nocopy: false });
    assert.deepEqual(parseVolumeShort('data:/data:ro'), { source: 'data', isPath: false, target: '/data', readOnly: true, nocopy: false });
    assert.deepEqual(parseVolumeShort('./src:/src'), { source: './src', isPath: true, target: '/src', readOnly: false, nocopy: false });
    assert.deepEqual(parseVolumeShort('~/x:/x:rw,z'), { source: '~/x', isPath: true, target: '/x', readOnly: false, nocopy: false });
    assert.deepEqual(parseVolumeShort('v:/x:nocopy'), { source: 'v', isPath: false, target: '/x', readOnly: false, nocopy: true });
    assert.throws(() => parseVolumeShort('a:/b:bogus'), /invalid volume mode/);
    assert.throws(() => parseVolumeShort('a:b:c:d'), /invalid volume/);
  });
});
