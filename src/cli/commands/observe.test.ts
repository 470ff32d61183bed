import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventLine, rfc3339NanoFixed, statsRow } from './observe';

describe('stats rows', () => {
  it('computes the docker CLI\'s columns', () => {
    const row = statsRow('web', {
      name: '/web', id: 'a'.repeat(64),
      cpu_stats: { cpu_usage: { total_usage: 300_000_000 }, system_cpu_usage: 2_000_000_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 100_000_000 }, system_cpu_usage: 1_000_000_000 },
      memory_stats: { usage: 10 * 1024 * 1024, limit: 1024 * 1024 * 1024, stats: { total_inactive_file: 2 * 1024 * 1024 } },
      blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 4096 }, { op: 'Write', value: 1_500_000 }, { op: 'Total', value: 1 }] },
      pids_stats: { current: 3 },
      networks: { eth0: { rx_bytes: 1000, tx_bytes: 2_500_000 } },
    }, true);
    assert.deepEqual(row, {
      Container: 'web', Name: 'web', ID: 'aaaaaaaaaaaa', CPUPerc: '40.00%', MemUsage: '8MiB / 1GiB', MemPerc: '0.78%',
      NetIO: '1kB / 2.5MB', BlockIO: '4.1kB / 1.5MB', PIDs: '3',
    });
  });

  it('shows zeros for a stopped container', () => {
    const z = { cpu_usage: { total_usage: 0 } };
    const row = statsRow('x', { name: '/x', id: 'b'.repeat(64), cpu_stats: z, precpu_stats: z, memory_stats: {}, blkio_stats: { io_service_bytes_recursive: null }, pids_stats: {} }, false);
    assert.equal(`${row.CPUPerc} ${row.MemUsage} ${row.MemPerc} ${row.NetIO} ${row.BlockIO} ${row.PIDs}`, '0.00% 0B / 0B 0.00% 0B / 0B 0B / 0B 0');
  });
});

describe('events lines', () => {
  it('formats time with nanoseconds, then type, action, id and sorted attributes', () => {
    const t = Date.UTC(2026, 10, 27, 17, 38, 0) * 1e6 + 123456768; // representable in a double
    assert.equal(rfc3339NanoFixed(t, 0), '2026-11-27T17:38:00.123456768Z');
    assert.equal(rfc3339NanoFixed(t, 60), '2026-11-27T18:38:00.123456768+01:00');
    const line = eventLine({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'web', image: 'busybox' } }, time: 0, timeNano: t });
    assert.match(line, /^\S+ container start abc \(image=busybox, name=web\)\n$/);
  });
});
