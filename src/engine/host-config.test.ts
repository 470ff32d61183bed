import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { BerthError } from '../errors';
import { DEFAULT_CAPABILITIES, mergeTmpfsOptions } from '../runtime/oci-spec';
import {
  capabilitiesOf, type HostSettings, mergeUpdate, normalizeHostSettings, ociResources, parseCpuList, parseExtraHost, securityOptions,
  updateResources,
} from './host-config';
import { containerHosts, containerResolvConf } from './container-bundle';

const MB = 1024 * 1024;
const fails = (fn: () => unknown, kind: string, msg: string | RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof BerthError && e.kind === kind && (typeof msg === 'string' ? e.message === msg : msg.test(e.message)));
const norm = (hc: HostSettings & Record<string, unknown>) => {
  normalizeHostSettings(hc);
  return hc;
};

describe('HostConfig resources at create', () => {
  it("fills Docker's swap default (twice the memory) and keeps -1", () => {
    assert.equal(norm({ Memory: 32 * MB }).MemorySwap, 64 * MB);
    assert.equal(norm({ Memory: 32 * MB, MemorySwap: -1 }).MemorySwap, -1);
    assert.equal(norm({}).MemorySwap, undefined);
  });

  it("refuses with Docker's messages", () => {
    fails(() => norm({ Memory: MB }), 'invalid', 'Minimum memory limit allowed is 6MB');
    fails(() => norm({ Memory: 32 * MB, MemorySwap: 16 * MB }), 'invalid', 'Minimum memoryswap limit should be larger than memory limit, see usage');
    fails(() => norm({ MemorySwap: 16 * MB }), 'invalid', 'You should always set the Memory limit when using Memoryswap limit, see usage');
    fails(() => norm({ Memory: 32 * MB, MemoryReservation: 64 * MB }), 'invalid', 'Minimum memory limit can not be less than memory reservation limit, see usage');
    fails(() => norm({ NanoCpus: 1e9, CpuQuota: 50000 }), 'invalid', 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    const nc = os.cpus().length;
    fails(() => norm({ NanoCpus: (nc + 1) * 1e9 }), 'invalid', `range of CPUs is from 0.01 to ${nc}.00, as there are only ${nc} CPUs available`);
    fails(() => norm({ CpuPeriod: 500 }), 'invalid', 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
    fails(() => norm({ CpusetCpus: '0-x' }), 'invalid', 'Invalid value 0-x for cpuset cpus: invalid format: 0-x');
    fails(() => norm({ CpusetCpus: '4096' }), 'invalid', /^Requested CPUs are not available - requested 4096, available: /);
    fails(() => norm({ Memory: '1g' } as never), 'invalid', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
    fails(() => norm({ ShmSize: -1 }), 'invalid', 'SHM size can not be less than 0');
    fails(() => norm({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }), 'invalid', 'ulimit soft limit must be less than or equal to hard limit: 10 > 5');
    fails(() => norm({ Sysctls: { 'kernel.hostname_x': '1', 'vm.swappiness': '1' } }), 'invalid', 'sysctl "kernel.hostname_x" is not in a separate kernel namespace');
    fails(() => norm({ Tmpfs: { '/x': 'size=1m,bogus' } }), 'invalid', 'invalid tmpfs option ["bogus"]');
    fails(() => norm({ ExtraHosts: ['db:not-an-ip'] }), 'invalid', 'invalid IP address in add-host: "not-an-ip"');
  });

  it('PidsLimit 0 or less means no limit', () => {
    assert.equal(norm({ PidsLimit: -1 }).PidsLimit, null);
    assert.equal(norm({ PidsLimit: 20 }).PidsLimit, 20);
  });

  it('turns into cgroup resources: --cpus as quota over a 100 ms period, swap -1 left out', () => {
    assert.deepEqual(ociResources(norm({ Memory: 32 * MB, NanoCpus: 1.5e9, CpuShares: 512, PidsLimit: 20, CpusetCpus: '0' })), {
      memory: { limit: 32 * MB, swap: 64 * MB }, cpu: { shares: 512, period: 100000, quota: 150000, cpus: '0' }, pids: { limit: 20 },
    });
    assert.deepEqual(ociResources({ Memory: 32 * MB, MemorySwap: -1, CpuQuota: 20000, CpuPeriod: 50000 }), { memory: { limit: 32 * MB }, cpu: { quota: 20000, period: 50000 } });
    assert.deepEqual(ociResources({}), {});
  });
});

describe('capabilities and security options', () => {
  it("normalizes names and applies Docker's add/drop rules", () => {
    const hc = norm({ CapAdd: ['net_admin'], CapDrop: ['CAP_CHOWN', 'mknod'] });
    assert.deepEqual(hc.CapAdd, ['CAP_NET_ADMIN']);
    assert.deepEqual(capabilitiesOf(hc), [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_MKNOD'), 'CAP_NET_ADMIN']);
    assert.deepEqual(capabilitiesOf(norm({ CapDrop: ['all'], CapAdd: ['kill'] })), ['CAP_KILL']);
    assert.ok(!capabilitiesOf(norm({ CapAdd: ['ALL'], CapDrop: ['kill'] })).includes('CAP_KILL'));
    assert.ok(capabilitiesOf({ Privileged: true }).length > DEFAULT_CAPABILITIES.length);
    fails(() => norm({ CapAdd: ['CAP_NOPE'] }), 'invalid', 'unknown capability: "CAP_NOPE"');
  });

  it('parses --security-opt as Docker does', () => {
    assert.deepEqual(securityOptions([]), { noNewPrivileges: false, seccomp: 'default', unmaskedPaths: false });
    assert.equal(securityOptions(['no-new-privileges']).noNewPrivileges, true);
    assert.equal(securityOptions(['no-new-privileges:true', 'no-new-privileges=false']).noNewPrivileges, false);
    assert.equal(securityOptions(['seccomp=unconfined', 'label=disable', 'apparmor=unconfined']).seccomp, 'unconfined');
    fails(() => securityOptions(['bogus']), 'invalid', 'invalid --security-opt 1: "bogus"');
    fails(() => securityOptions(['foo=bar']), 'invalid', 'invalid --security-opt 2: "foo=bar"');
    fails(() => securityOptions(['no-new-privileges=maybe']), 'invalid', 'invalid --security-opt 2: "no-new-privileges=maybe"');
    fails(() => norm({ SecurityOpt: ['seccomp={"defaultAction":'] }), 'invalid', /^Decoding seccomp profile failed/);
  });
});

describe('update', () => {
  const base = () => ({ ...norm({ Memory: 32 * MB, NanoCpus: 1e9 }), AutoRemove: false });
  it('applies the non-zero fields; runc gets the changed ones', () => {
    const hc = base();
    mergeUpdate(hc, { Memory: 48 * MB, PidsLimit: 0, CpuShares: 100 });
    assert.equal(hc.Memory, 48 * MB);
    assert.equal(hc.MemorySwap, 64 * MB);
    assert.equal(hc.PidsLimit, null);
    assert.deepEqual(updateResources({ Memory: 48 * MB, PidsLimit: 0, CpuShares: 100 }, hc), {
      memory: { limit: 48 * MB, swap: 64 * MB }, cpu: { shares: 100 }, pids: { limit: -1 },
    });
  });
  it("refuses Docker's conflicting updates", () => {
    fails(() => mergeUpdate(base(), { Memory: 128 * MB }), 'invalid', 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    fails(() => mergeUpdate(base(), { CpuQuota: 50000 }), 'invalid', 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
    fails(() => mergeUpdate({ ...base(), AutoRemove: true }, { RestartPolicy: { Name: 'always' } }), 'invalid', 'Restart policy cannot be updated because AutoRemove is enabled for the container');
  });
});

describe('helpers', () => {
  it('cpu lists', () => {
    assert.deepEqual([...parseCpuList('0-2,5')], [0, 1, 2, 5]);
    assert.throws(() => parseCpuList('2-1'), /invalid format/);
  });
  it("tmpfs options: Docker's defaults, the last of opposite flags wins", () => {
    assert.deepEqual(mergeTmpfsOptions(''), ['noexec', 'nosuid', 'nodev', 'rprivate']);
    assert.deepEqual(mergeTmpfsOptions('rw,size=64m,exec,size=32m'), ['nosuid', 'nodev', 'rprivate', 'rw', 'exec', 'size=32m']);
  });
  it('extra hosts in both forms, IPv6 too', () => {
    assert.deepEqual(parseExtraHost('db:10.0.0.1'), { host: 'db', ip: '10.0.0.1' });
    assert.deepEqual(parseExtraHost('db=::1'), { host: 'db', ip: '::1' });
    assert.deepEqual(parseExtraHost('v6:[fe80::1]'), { host: 'v6', ip: 'fe80::1' });
    assert.match(containerHosts(['db:10.0.0.1']), /\n10\.0\.0\.1\tdb\n$/);
    // host-gateway is the default bridge's gateway; the network's own lines come last.
    assert.match(containerHosts(['gw:host-gateway'], ['172.17.0.2\tabc'], '172.17.0.1'), /\n172\.17\.0\.1\tgw\n172\.17\.0\.2\tabc\n$/);
    assert.throws(() => containerHosts(['gw:host-gateway']), /host-gateway/);
  });
  it('resolv.conf: --dns, --dns-search and --dns-option replace what the host has', () => {
    const host = 'search corp.example\nnameserver 10.0.0.2\noptions rotate\n';
    assert.equal(containerResolvConf(host, {}), host);
    assert.equal(containerResolvConf(host, { Dns: ['9.9.9.9'] }), 'nameserver 9.9.9.9\nsearch corp.example\noptions rotate\n');
    assert.equal(containerResolvConf(host, { DnsSearch: ['.'], DnsOptions: ['ndots:2'] }), 'nameserver 10.0.0.2\noptions ndots:2\n');
  });
});
