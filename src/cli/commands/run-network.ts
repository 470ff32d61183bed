/**
 * The network and port flags of run/create, turned into what the docker 28 CLI sends:
 * Config.ExposedPorts, HostConfig.{NetworkMode,PortBindings,PublishAllPorts,Links} and
 * NetworkingConfig.EndpointsConfig. Also the pieces `network connect` shares with them: pflag's
 * string-slice values (one CSV record each), link and MAC validation, Docker's EndpointSettings.
 */
import { FlagError, type FlagSpec, type ParsedFlags } from '../flags';
import { parseExpose, parsePortSpecs, type PortBinding } from '../port-spec';
import { goQuote } from '../template';

export const NETWORK_FLAGS: FlagSpec[] = [
  { name: 'expose', type: 'list', description: 'Expose a port or a range of ports' },
  { name: 'ip', type: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'link', type: 'list', description: 'Add link to another container' },
  { name: 'link-local-ip', type: 'list', description: 'Container IPv4/IPv6 link-local addresses' },
  { name: 'mac-address', type: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', description: 'Publish all exposed ports to random ports' },
  // docker keeps --net and --net-alias as hidden spellings of the same options.
  { name: 'net', type: 'list', valueName: 'network', hidden: true, description: 'Connect a container to a network' },
  { name: 'network', type: 'list', valueName: 'network', description: 'Connect a container to a network' },
  { name: 'net-alias', type: 'list', hidden: true, description: 'Add network-scoped alias for the container' },
  { name: 'network-alias', type: 'list', description: 'Add network-scoped alias for the container' },
];

function invalidArgument(flag: string, value: string, why: string): FlagError {
  return new FlagError(`invalid argument ${goQuote(value)} for ${goQuote(flag)} flag: ${why}`);
}

/** One record of Go's encoding/csv (its default dialect), as pflag reads a string-slice value. */
export function csvRecord(value: string): string[] {
  if (value === '') return []; // pflag's readAsCSV special case
  const line = value.replace(/\r?\n$/, '');
  const fail = (col: number, why: string) => new Error(`parse error on line 1, column ${col}: ${why}`);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] !== '"') {
      const comma = line.indexOf(',', i);
      const field = comma < 0 ? line.slice(i) : line.slice(i, comma);
      const q = field.indexOf('"');
      if (q >= 0) throw fail(i + q + 1, 'bare " in non-quoted-field');
      fields.push(field);
      if (comma < 0) return fields;
      i = comma + 1;
      continue;
    }
    let field = '';
    i++;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) throw fail(line.length + 1, 'extraneous or missing " in quoted-field');
      field += line.slice(i, q);
      i = q + 1;
      if (line[i] === '"') {
        field += '"';
        i++;
      } else if (line[i] === ',' || i === line.length) {
        break;
      } else {
        throw fail(i + 1, 'extraneous or missing " in quoted-field');
      }
    }
    fields.push(field);
    if (i === line.length) return fields;
    i++;
  }
}

/** pflag's string-slice flags: each use is a CSV record, and the uses add up. */
export function sliceValues(values: string[], flag: string): string[] {
  return values.flatMap((v) => {
    try {
      return csvRecord(v);
    } catch (e) {
      throw invalidArgument(flag, v, (e as Error).message);
    }
  });
}

/** opts.ParseLink's validation of --link: "name" or "name:alias". */
export function linkError(value: string): string | undefined {
  if (value === '') return 'empty string specified for links';
  if (value.split(':').length > 2) return `bad format for links: ${value}`;
  return undefined;
}

export function validateLinks(values: string[]): string[] {
  for (const v of values) {
    const why = linkError(v);
    if (why) throw invalidArgument('--link', v, why);
  }
  return values;
}

/** Go's net.ParseMAC: 6, 8 or 20 octets as xx:xx…, xx-xx… or xxxx.xxxx…. */
export function isMacAddress(s: string): boolean {
  const groups = (sep: string, width: number) => {
    const parts = s.split(sep);
    return parts.every((p) => new RegExp(`^[0-9a-fA-F]{${width}}$`).test(p)) ? parts.length : 0;
  };
  const octets = s.length > 2 && (s[2] === ':' || s[2] === '-') ? groups(s[2], 2) : s.length > 4 && s[4] === '.' ? groups('.', 4) * 2 : 0;
  return octets === 6 || octets === 8 || octets === 20;
}

export interface EndpointIpam {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[];
}

/**
 * network.EndpointSettings as Go's encoding/json writes it: every field, the operational ones
 * empty. This is the body of an endpoint in container create and in `network connect`.
 */
export function endpointSettings(o: {
  ipam?: EndpointIpam | null; links?: string[] | null; aliases?: string[] | null; mac?: string;
  driverOpts?: Record<string, string> | null; gwPriority?: number;
}) {
  return {
    IPAMConfig: o.ipam ?? null,
    Links: o.links ?? null,
    Aliases: o.aliases ?? null,
    MacAddress: o.mac ?? '',
    DriverOpts: o.driverOpts ?? null,
    GwPriority: o.gwPriority ?? 0,
    NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}
export type EndpointSettings = ReturnType<typeof endpointSettings>;

/** An IPAM config with only the addresses given (Go's omitempty). */
export function endpointIpam(ipv4: string, ipv6: string, linkLocal: string[]): EndpointIpam {
  return { ...(ipv4 ? { IPv4Address: ipv4 } : {}), ...(ipv6 ? { IPv6Address: ipv6 } : {}), ...(linkLocal.length ? { LinkLocalIPs: linkLocal } : {}) };
}

/** One --network value: a name, or the long syntax "name=n,alias=a,ip=…,driver-opt=k=v". */
export interface Attachment {
  target: string;
  aliases: string[];
  driverOpts: Record<string, string>;
  links: string[];
  ipv4: string;
  ipv6: string;
  linkLocalIps: string[];
  mac: string;
  gwPriority: number;
}

/** opts.NetworkOpt.Set of the docker CLI; its errors are the flag's. */
export function parseNetworkOpt(value: string, flag = '--network'): Attachment {
  const n: Attachment = { target: value, aliases: [], driverOpts: {}, links: [], ipv4: '', ipv6: '', linkLocalIps: [], mac: '', gwPriority: 0 };
  // docker's test is unanchored: any "word=word" in the value selects the long syntax.
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return n;
  const fail = (why: string) => invalidArgument(flag, value, why);
  let fields: string[];
  try {
    fields = csvRecord(value);
  } catch (e) {
    throw fail((e as Error).message);
  }
  n.target = '';
  for (const field of fields) {
    // docker lowercases the whole field, values included.
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq <= 0) throw fail(`invalid field ${field}`);
    const key = lower.slice(0, eq).trim();
    const val = lower.slice(eq + 1).trim();
    switch (key) {
      case 'name': n.target = val; break;
      case 'alias': n.aliases.push(val); break;
      case 'ip': n.ipv4 = val; break;
      case 'ip6': n.ipv6 = val; break;
      case 'mac-address': n.mac = val; break;
      case 'link-local-ip': n.linkLocalIps.push(val); break;
      case 'driver-opt': {
        const deq = val.indexOf('=');
        if (deq <= 0) throw fail('invalid key value pair format in driver options');
        n.driverOpts[val.slice(0, deq).trim()] = val.slice(deq + 1).trim();
        break;
      }
      case 'gw-priority':
        if (!/^[+-]?[0-9]+$/.test(val)) throw fail(`invalid gw-priority (${val}): invalid syntax`);
        if (Math.abs(Number(val)) > 2 ** 63) throw fail(`invalid gw-priority (${val}): value out of range`);
        n.gwPriority = Number(val);
        break;
      default:
        throw fail(`invalid field key ${key}`);
    }
  }
  if (n.target === '') throw fail('network name/id is not specified');
  return n;
}

/** NetworkMode.IsUserDefined: anything but default, bridge, host, none and container:<id>. */
export function isUserDefinedNetwork(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

export interface LegacyOptions {
  aliases: string[];
  links: string[];
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocalIps: string[];
}

/** applyContainerOptions: the single-network flags (--ip, --network-alias, …) on the first network. */
function applyLegacy(n: Attachment, o: LegacyOptions): void {
  const conflict = (what: string) => new Error(`conflicting options: cannot specify both ${what}`);
  if (n.aliases.length && o.aliases.length) throw conflict('--network-alias and per-network alias');
  if (n.links.length && o.links.length) throw conflict('--link and per-network links');
  if (n.ipv4 && o.ipv4) throw conflict('--ip and per-network IPv4 address');
  if (n.ipv6 && o.ipv6) throw conflict('--ip6 and per-network IPv6 address');
  if (n.mac && o.mac) throw conflict('--mac-address and per-network MAC address');
  if (n.linkLocalIps.length && o.linkLocalIps.length) throw conflict('--link-local-ip and per-network link-local IP addresses');
  if (o.aliases.length) n.aliases = [...o.aliases];
  // On a user-defined network a link is an endpoint alias; on the default bridge a legacy link.
  if (isUserDefinedNetwork(n.target) && o.links.length) n.links = [...o.links];
  if (o.ipv4) n.ipv4 = o.ipv4;
  if (o.ipv6) n.ipv6 = o.ipv6;
  if (o.mac) n.mac = o.mac;
  if (o.linkLocalIps.length) n.linkLocalIps = [...o.linkLocalIps];
}

/** parseNetworkAttachmentOpt: an attachment as the endpoint settings sent for it. */
function endpointOf(n: Attachment): EndpointSettings {
  if (n.target.trim() === '') throw new Error('no name set for network');
  if (!isUserDefinedNetwork(n.target)) {
    if (n.aliases.length) throw new Error('network-scoped aliases are only supported for user-defined networks');
    if (n.links.length) throw new Error('links are only supported for user-defined networks');
  }
  if (n.mac && !isMacAddress(n.mac.trim())) throw new Error(`${n.mac} is not a valid mac address`);
  return endpointSettings({
    ipam: n.ipv4 || n.ipv6 || n.linkLocalIps.length ? endpointIpam(n.ipv4, n.ipv6, n.linkLocalIps) : null,
    links: n.links.length ? n.links : null,
    aliases: n.aliases.length ? n.aliases : null,
    mac: n.mac,
    driverOpts: Object.keys(n.driverOpts).length ? n.driverOpts : null,
    gwPriority: n.gwPriority,
  });
}

const isEmptyEndpoint = (ep: EndpointSettings) =>
  !ep.IPAMConfig && !ep.Links && !ep.Aliases && !ep.MacAddress && !ep.DriverOpts && ep.GwPriority === 0;

/**
 * parseNetworkOpts of the docker CLI. Without --network the container gets a "default" endpoint
 * (always sent, carrying --ip etc.); a single network without options sends none.
 */
export function endpointsConfig(attachments: Attachment[], legacy: LegacyOptions): Record<string, EndpointSettings> {
  const endpoints: Record<string, EndpointSettings> = {};
  if (attachments.length === 0) {
    const n = parseNetworkOpt('default');
    applyLegacy(n, legacy);
    endpoints.default = endpointOf(n);
  }
  let userDefined = false, other = false;
  attachments.forEach((n, i) => {
    if (isUserDefinedNetwork(n.target)) userDefined = true;
    else other = true;
    if (i === 0) applyLegacy(n, legacy);
    const ep = endpointOf(n);
    if (Object.hasOwn(endpoints, n.target)) throw new Error(`network ${goQuote(n.target)} is specified multiple times`);
    if (i === 0 && attachments.length === 1 && isEmptyEndpoint(ep)) return;
    endpoints[n.target] = ep;
  });
  if (userDefined && other) throw new Error('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  return endpoints;
}

const sortedEntries = <T>(m: Map<string, T>): [string, T][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The run/create fields of the flags above (Go writes map keys sorted, so they are here too). */
export function networkFields(flags: ParsedFlags) {
  const links = validateLinks(flags.list('link'));
  // --net and --network fill one list in docker, in command-line order; here --net comes last.
  const attachments = [
    ...flags.list('network').map((v) => parseNetworkOpt(v, '--network')),
    ...flags.list('net').map((v) => parseNetworkOpt(v, '--net')),
  ];
  const mac = flags.string('mac-address');
  if (mac && !isMacAddress(mac.trim())) throw new Error(`${mac} is not a valid mac address`);
  const { exposed, bindings } = parsePortSpecs(flags.list('publish'));
  for (const e of flags.list('expose')) for (const p of parseExpose(e)) exposed.add(p);
  const endpoints = endpointsConfig(attachments, {
    aliases: [...flags.list('network-alias'), ...flags.list('net-alias')],
    links,
    ipv4: flags.string('ip'),
    ipv6: flags.string('ip6'),
    mac,
    linkLocalIps: flags.list('link-local-ip'),
  });
  return {
    exposedPorts: exposed.size ? Object.fromEntries([...exposed].sort().map((p) => [p, {}])) : undefined,
    networkMode: attachments[0]?.target ?? 'default',
    portBindings: Object.fromEntries(sortedEntries(bindings)) as Record<string, PortBinding[]>,
    publishAll: flags.bool('publish-all'),
    links: links.length ? links : null,
    endpoints,
  };
}
