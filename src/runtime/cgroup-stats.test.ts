import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  parseMountinfo, parseNetDev, parseProcCgroup, parseProcStat, readCgroupStats, readText, resolveCgroupDirs,
} from './cgroup-stats';

const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-cgroup-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Writes a fixture tree: { 'memory/berth/x/memory.stat': '...' }. */
function fixture(name: string, files: Record<string, string>): string {
  const base = join(root, name);
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(join(base, p, '..'), { recursive: true });
    fs.writeFileSync(join(base, p), text);
  }
  return base;
}

// As on this project's hybrid host: one hierarchy per v1 controller plus an empty cgroup2.
const HYBRID_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const HYBRID_PROC = '9:name=systemd:/berth/c1\n8:pids:/berth/c1\n7:blkio:/berth/c1\n4:memory:/berth/c1\n2:cpuacct:/berth/c1\n1:cpu:/berth/c1\n0::/berth/c1\n';

describe('locating a container\'s cgroups', () => {
  it('hybrid host: v1 dir per controller', () => {
    const dirs = resolveCgroupDirs(parseProcCgroup(HYBRID_PROC), parseMountinfo(HYBRID_MOUNTINFO));
    assert.equal(dirs?.version, 1);
    if (dirs?.version !== 1) return;
    assert.equal(dirs.dirs.get('memory'), '/sys/fs/cgroup/memory/berth/c1');
    assert.equal(dirs.dirs.get('cpuacct'), '/sys/fs/cgroup/cpuacct/berth/c1');
    assert.equal(dirs.dirs.get('name=systemd'), '/sys/fs/cgroup/systemd/berth/c1');
  });

  it('co-mounted controllers (cpu,cpuacct) share a dir', () => {
    const m = parseMountinfo('32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n');
    const dirs = resolveCgroupDirs(parseProcCgroup('3:cpu,cpuacct:/berth/c1\n'), m);
    assert.ok(dirs?.version === 1 && dirs.dirs.get('cpuacct') === '/sys/fs/cgroup/cpu,cpuacct/berth/c1');
  });

  it('pure v2 host: the unified dir', () => {
    const dirs = resolveCgroupDirs(parseProcCgroup('0::/berth/c1\n'), parseMountinfo('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n'));
    assert.deepEqual(dirs, { version: 2, dir: '/sys/fs/cgroup/berth/c1' });
  });
});

describe('readCgroupStats', () => {
  it('cgroup v1 files', () => {
    const base = fixture('v1', {
      'cpuacct/c/cpuacct.usage': '123456789\n',
      'cpuacct/c/cpuacct.usage_percpu': '100000000 23456789 \n',
      'cpuacct/c/cpuacct.stat': 'user 3\nsystem 2\n',
      'cpu/c/cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n',
      'memory/c/memory.usage_in_bytes': '4096000\n',
      'memory/c/memory.max_usage_in_bytes': '5000000\n',
      'memory/c/memory.failcnt': '0\n',
      'memory/c/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/c/memory.stat': 'cache 8192\nrss 4000000\ntotal_inactive_file 4096\ntotal_cache 8192\n',
      'pids/c/pids.current': '2\n',
      'pids/c/pids.max': 'max\n',
      'blkio/c/blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n',
      'blkio/c/blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
    });
    const dirs = new Map(['cpuacct', 'cpu', 'memory', 'pids', 'blkio'].map((c) => [c, join(base, c, 'c')]));
    const s = readCgroupStats({ version: 1, dirs }, readText, 100);
    assert.equal(s.cpu.total, 123456789);
    assert.deepEqual(s.cpu.perCpu, [100000000, 23456789]);
    assert.equal(s.cpu.user, 30_000_000);
    assert.equal(s.cpu.kernel, 20_000_000);
    assert.deepEqual([s.cpu.periods, s.cpu.throttledPeriods, s.cpu.throttledTime], [10, 2, 5000]);
    assert.equal(s.memory.usage, 4096000);
    assert.equal(s.memory.maxUsage, 5000000);
    assert.equal(s.memory.limit, 0, 'unlimited');
    assert.equal(s.memory.stats.get('total_inactive_file'), 4096);
    assert.equal(s.memory.stats.get('rss'), 4000000);
    assert.equal(s.memory.stats.get('pgfault'), 0, 'keys Docker lists are always present');
    assert.deepEqual(s.pids, { current: 2, limit: 0 });
    assert.equal(s.blkio.serviceBytes.length, 6, 'the device-less Total line is skipped');
    assert.deepEqual(s.blkio.serviceBytes[0], { major: 8, minor: 0, op: 'Read', value: 4096 });
    assert.equal(s.blkio.serviced.length, 2);
  });

  it('cgroup v1 prefers CFQ files when they have entries', () => {
    const base = fixture('v1cfq', {
      'blkio/c/blkio.io_service_bytes_recursive': '8:16 Read 1\n8:16 Write 2\nTotal 3\n',
      'blkio/c/blkio.throttle.io_service_bytes_recursive': '8:0 Read 100\n',
    });
    const s = readCgroupStats({ version: 1, dirs: new Map([['blkio', join(base, 'blkio', 'c')]]) });
    assert.deepEqual(s.blkio.serviceBytes.map((e) => e.minor), [16, 16]);
  });

  it('cgroup v2 files', () => {
    const dir = fixture('v2', {
      'c/cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 30\n',
      'c/memory.current': '10485760\n',
      'c/memory.max': '33554432\n',
      'c/memory.stat': 'anon 8388608\nfile 2097152\ninactive_file 1048576\nworkingset_refault_anon 1\nworkingset_refault_file 2\n',
      'c/memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
      'c/pids.current': '3\n',
      'c/pids.max': '20\n',
      'c/io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
    });
    const s = readCgroupStats({ version: 2, dir: join(dir, 'c') });
    assert.deepEqual([s.cpu.total, s.cpu.user, s.cpu.kernel], [2_000_000, 1_500_000, 500_000]);
    assert.equal(s.cpu.perCpu, undefined);
    assert.equal(s.cpu.throttledTime, 30_000);
    assert.equal(s.memory.usage, 10485760);
    assert.equal(s.memory.limit, 33554432);
    assert.equal(s.memory.failcnt, 1);
    assert.equal(s.memory.maxUsage, undefined);
    assert.equal(s.memory.stats.get('inactive_file'), 1048576);
    assert.equal(s.memory.stats.get('workingset_refault'), 3);
    assert.deepEqual(s.pids, { current: 3, limit: 20 });
    assert.deepEqual(s.blkio.serviceBytes, [{ major: 8, minor: 0, op: 'read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 }]);
    assert.deepEqual(s.blkio.serviced.map((e) => e.value), [1, 2]);
  });

  it('cgroup v2 "max" limits read as unlimited', () => {
    const dir = fixture('v2max', { 'c/memory.max': 'max\n', 'c/pids.max': 'max\n' });
    const s = readCgroupStats({ version: 2, dir: join(dir, 'c') });
    assert.equal(s.memory.limit, 0);
    assert.equal(s.pids.limit, 0);
  });
});

describe('host files', () => {
  it('/proc/stat: the first seven cpu fields in ns, and the online CPUs', () => {
    const r = parseProcStat('cpu  100 1 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\ncpu1 50 1 25 500 5 0 3 4 0 0\nintr 1\n', 100);
    assert.equal(r.systemUsage, (100 + 1 + 50 + 1000 + 10 + 0 + 5) * 10_000_000);
    assert.equal(r.onlineCpus, 2);
  });

  it('/proc/<pid>/net/dev without loopback', () => {
    const text = 'Inter-|   Receive |  Transmit\n face |bytes packets\n' +
      '    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n' +
      '  eth0:    2000      20    1    2    0     0          0         0     3000      30    3    4    0     0       0          0\n';
    const n = parseNetDev(text);
    assert.deepEqual([...n.keys()], ['eth0']);
    assert.deepEqual(n.get('eth0'), { rx_bytes: 2000, rx_packets: 20, rx_errors: 1, rx_dropped: 2, tx_bytes: 3000, tx_packets: 30, tx_errors: 3, tx_dropped: 4 });
  });
});
