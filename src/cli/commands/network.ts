/**
 * Network commands: create, ls, inspect, rm, connect, disconnect, prune. Request bodies are the
 * ones the docker 28 CLI sends (Go's encoding/json of the API types, zero fields included).
 */
import { ApiError } from '../../client/client';
import { type Command, daemonErrorText, UsageError } from '../command';
import { confirm } from './lifecycle';
import { FlagError, type ParsedFlags } from '../flags';
import { renderList, truncateId } from '../format';
import { naturalCompare } from '../port-spec';
import { goQuote } from '../template';
import { inspectEach } from '../inspect-output';
import { ipamConfigs } from './network-ipam';
import { endpointIpam, endpointSettings, sliceValues, validateLinks } from './run-network';

interface NetworkSummary {
  Name: string;
  Id: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

/** The client's trimID: names are trimmed, and an empty one never reaches the daemon. */
export function trimId(kind: 'network' | 'container' | 'volume', ref: string): string {
  const id = ref.trim();
  if (id === '') throw new Error(`invalid ${kind} name or ID: value is empty`);
  return id;
}

function flagValueError(flag: string, value: string, why: string): UsageError {
  return new UsageError(`invalid argument ${goQuote(value)} for ${goQuote(flag)} flag: ${why}`);
}

/** Flag values docker refuses while parsing flags fail as usage errors (exit 125, help pointer). */
export function parsingFlags<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FlagError) throw new UsageError(e.message);
    throw e;
  }
}

/** opts.FilterOpt → the filters query as the docker client writes it: {"driver":{"bridge":true}}. */
export function filtersQuery(values: string[], flag = '-f, --filter'): string | undefined {
  const out: Record<string, Record<string, boolean>> = {};
  for (const v of values) {
    if (v === '') continue;
    const eq = v.indexOf('=');
    if (eq < 0) throw flagValueError(flag, v, 'bad format of filter (expected name=value)');
    (out[v.slice(0, eq).trim().toLowerCase()] ??= {})[v.slice(eq + 1).trim()] = true;
  }
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}

/** opts.MapOpts: key=value (a bare key maps to ""), the last value of a key wins. */
export function mapOpt(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    out[eq < 0 ? v : v.slice(0, eq)] = eq < 0 ? '' : v.slice(eq + 1);
  }
  return out;
}

/** --label with opts.ValidateLabel, then opts.ConvertKVStringsToMap. */
export function labelOpt(values: string[]): Record<string, string> {
  for (const v of values) {
    const key = v.split('=')[0]!.replace(/^[ \t]+/, '');
    if (key === '') throw flagValueError('--label', v, `invalid label '${v}': empty name`);
    if (/[ \t]/.test(key)) throw flagValueError('--label', v, `label '${key}' contains whitespaces`);
  }
  return mapOpt(values);
}

/** POST /networks/create's body (network.CreateRequest, fields in Go's order). */
export function networkCreateBody(name: string, flags: ParsedFlags) {
  const slice = (flag: string) => sliceValues(flags.list(flag), `--${flag}`);
  const options = mapOpt(flags.list('opt'));
  const labels = labelOpt(flags.list('label'));
  const config = ipamConfigs({
    subnets: slice('subnet'),
    ipRanges: slice('ip-range'),
    gateways: slice('gateway'),
    auxAddresses: Object.entries(mapOpt(flags.list('aux-address'))),
  });
  return {
    Driver: flags.string('driver'),
    Scope: flags.string('scope'),
    ...(flags.changed.has('ipv4') ? { EnableIPv4: flags.bool('ipv4') } : {}),
    ...(flags.changed.has('ipv6') ? { EnableIPv6: flags.bool('ipv6') } : {}),
    IPAM: { Driver: flags.string('ipam-driver'), Options: mapOpt(flags.list('ipam-opt')), Config: config },
    Internal: flags.bool('internal'),
    Attachable: flags.bool('attachable'),
    Ingress: flags.bool('ingress'),
    ConfigOnly: flags.bool('config-only'),
    ConfigFrom: flags.string('config-from') ? { Network: flags.string('config-from') } : null,
    Options: options,
    Labels: labels,
    Name: name,
  };
}

const create: Command = {
  name: 'network create',
  usage: '[OPTIONS] NETWORK',
  description: 'Create a network',
  flags: [
    { name: 'attachable', type: 'bool', description: 'Enable manual container attachment' },
    { name: 'aux-address', type: 'list', valueName: 'map', description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
    { name: 'config-from', type: 'string', description: 'The network from which to copy the configuration' },
    { name: 'config-only', type: 'bool', description: 'Create a configuration only network' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', description: 'Driver to manage the Network' },
    { name: 'gateway', type: 'list', valueName: 'strings', description: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'ingress', type: 'bool', description: 'Create swarm routing-mesh network' },
    { name: 'internal', type: 'bool', description: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'list', valueName: 'strings', description: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', description: 'IP Address Management Driver' },
    { name: 'ipam-opt', type: 'list', valueName: 'map', description: 'Set IPAM driver specific options' },
    { name: 'ipv4', type: 'bool', default: true, description: 'Enable or disable IPv4 address assignment' },
    { name: 'ipv6', type: 'bool', description: 'Enable or disable IPv6 address assignment' },
    { name: 'label', type: 'list', description: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', description: 'Set driver specific options' },
    { name: 'scope', type: 'string', description: "Control the network's scope" },
    { name: 'subnet', type: 'list', valueName: 'strings', description: 'Subnet in CIDR format that represents a network segment' },
  ],
  args: { exact: 1 },
  async run({ args, flags, client, io }) {
    const body = parsingFlags(() => networkCreateBody(args[0]!, flags));
    const res = await client.json<{ Id: string }>('POST', '/networks/create', { body });
    io.stdout.write(`${res.Id}\n`);
    return 0;
  },
};

/** Go's time.Time.String() of an RFC 3339 time from the API, keeping its zone offset. */
export function goTimeString(rfc3339: string | undefined): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339 ?? '');
  if (!m) return '0001-01-01 00:00:00 +0000 UTC';
  const frac = (m[3] ?? '').slice(0, 9).replace(/0+$/, '');
  const offset = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} ${offset}`;
}

const LS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const LS_HEADERS = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
  // SubHeaderContext.Label: the header of {{.Label "com.example.some-label"}} is its last part.
  Label: (name: string) => String(name).split('.').at(-1)!.replace(/[-_]/g, ' '),
};

/** A row of `network ls`: the fields docker's networkContext has, in its JSON's (sorted) order. */
export function networkRow(n: NetworkSummary, trunc: boolean) {
  const labels = n.Labels ?? null;
  return {
    CreatedAt: goTimeString(n.Created),
    Driver: n.Driver ?? '',
    ID: trunc ? truncateId(n.Id) : n.Id,
    IPv4: String(n.EnableIPv4 ?? false),
    IPv6: String(n.EnableIPv6 ?? false),
    Internal: String(n.Internal ?? false),
    Labels: labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') : '',
    Name: n.Name,
    Scope: n.Scope ?? '',
    Label: (name: string) => labels?.[name] ?? '',
  };
}

const ls: Command = {
  name: 'network ls',
  aliases: ['network list'],
  usage: '[OPTIONS]',
  description: 'List networks',
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "driver=bridge")' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display network IDs' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const list = await client.json<NetworkSummary[]>('GET', '/networks', { query: { filters: filtersQuery(flags.list('filter')) } });
    list.sort((a, b) => naturalCompare(a.Name, b.Name));
    const rows = list.map((n) => networkRow(n, !flags.bool('no-trunc')));
    let format = flags.string('format') || 'table';
    if (format === 'table' && flags.bool('quiet')) format = '{{.ID}}';
    io.stdout.write(renderList(format, rows, LS_HEADERS as unknown as Record<string, string>, LS_TABLE));
    return 0;
  },
};

const inspect: Command = {
  name: 'network inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  flags: [
    { name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Verbose output for diagnostics' },
  ],
  args: { min: 1 },
  run: ({ args, flags, client, io }) =>
    inspectEach(io, flags.string('format'), args, (name) =>
      client.json('GET', `/networks/${encodeURIComponent(trimId('network', name))}`, { query: { verbose: flags.bool('verbose') ? 'true' : undefined } })),
};

const rm: Command = {
  name: 'network rm',
  aliases: ['network remove'],
  usage: 'NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Do not error if the network does not exist' }],
  args: { min: 1 },
  async run({ args, flags, client, io }) {
    let status = 0;
    for (const name of args) {
      try {
        await client.call('DELETE', `/networks/${encodeURIComponent(trimId('network', name))}`);
        io.stdout.write(`${name}\n`);
      } catch (e) {
        if (flags.bool('force') && e instanceof ApiError && e.status === 404) continue;
        io.stderr.write(`${daemonErrorText(e)}\n`);
        status = 1;
      }
    }
    return status;
  },
};

/** The body of POST /networks/{id}/connect, as `docker network connect` builds it. */
export function networkConnectBody(container: string, flags: ParsedFlags) {
  // Flag values first (docker refuses those while parsing), then the driver options' pairs.
  const links = validateLinks(flags.list('link'));
  const aliases = sliceValues(flags.list('alias'), '--alias');
  const linkLocal = sliceValues(flags.list('link-local-ip'), '--link-local-ip');
  const driverOpts: Record<string, string> = {};
  for (const opt of sliceValues(flags.list('driver-opt'), '--driver-opt')) {
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).trim();
    if (eq < 0 || key === '') throw new Error('invalid key/value pair format in driver options');
    driverOpts[key] = opt.slice(eq + 1).trim();
  }
  return {
    Container: container,
    EndpointConfig: endpointSettings({
      // Always an object here (docker's connect sets it), unlike run's endpoints.
      ipam: endpointIpam(flags.string('ip'), flags.string('ip6'), linkLocal),
      links: links.length ? links : null,
      aliases,
      driverOpts,
      gwPriority: flags.int('gw-priority'),
    }),
  };
}

const connect: Command = {
  name: 'network connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  flags: [
    { name: 'alias', type: 'list', valueName: 'strings', description: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'list', valueName: 'strings', description: 'driver options for the network' },
    { name: 'gw-priority', type: 'int', description: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.' },
    { name: 'ip', type: 'string', description: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'list', description: 'Add link to another container' },
    { name: 'link-local-ip', type: 'list', valueName: 'strings', description: 'Add a link-local address for the container' },
  ],
  args: { exact: 2 },
  async run({ args, flags, client }) {
    const body = parsingFlags(() => networkConnectBody(args[1]!, flags));
    const network = trimId('network', args[0]!);
    body.Container = trimId('container', args[1]!);
    await client.call('POST', `/networks/${encodeURIComponent(network)}/connect`, { body });
    return 0;
  },
};

const disconnect: Command = {
  name: 'network disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the container to disconnect from a network' }],
  args: { exact: 2 },
  async run({ args, flags, client }) {
    const network = trimId('network', args[0]!);
    const container = trimId('container', args[1]!);
    await client.call('POST', `/networks/${encodeURIComponent(network)}/disconnect`, { body: { Container: container, Force: flags.bool('force') } });
    return 0;
  },
};

const prune: Command = {
  name: 'network prune',
  usage: '[OPTIONS]',
  description: 'Remove all unused networks',
  flags: [
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run({ flags, client, io }) {
    const filters = filtersQuery(flags.list('filter'), '--filter');
    const warning = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';
    // Declining is a cancellation: docker prints nothing more and exits 0.
    if (!flags.bool('force') && !(await confirm(io, warning))) return 0;
    const report = await client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters } });
    const deleted = report.NetworksDeleted ?? [];
    if (deleted.length > 0) io.stdout.write(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    return 0;
  },
};

export const networkCommands: Command[] = [connect, create, disconnect, inspect, ls, prune, rm];
