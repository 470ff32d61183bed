/**
 * The iptables rules of bridge networks, as data: berth's chains and the jumps into them, the
 * rules of one network, and those of one container's published ports. Pure; runtime/iptables.ts
 * applies them under an owner tag.
 *
 * Layout (Docker's, in berth's own chains):
 *   filter FORWARD        → BERTH-FORWARD: BERTH-ISOLATION-STAGE-1 first, then per network:
 *                           replies in, published ports (BERTH), out, within, the rest dropped
 *   filter BERTH-ISOLATION-STAGE-1/2   traffic from one berth bridge to another is dropped,
 *                           unless it was DNAT'ed to a published port (published means public)
 *   nat PREROUTING/OUTPUT → BERTH (to local addresses, loopback included): DNAT of published ports
 *   nat POSTROUTING       → BERTH-POSTROUTING: MASQUERADE out of the subnet; and of locally
 *                           made packets entering the bridge (127.0.0.1:port reaches a container
 *                           with route_localnet on the bridge, so no userland proxy is needed)
 *   raw PREROUTING        → BERTH-PREROUTING: nothing from a bridge to 127.0.0.0/8 (route_localnet
 *                           must not open the host's loopback services to containers)
 */
import type { Rule, Table } from '../runtime/iptables';

export const CHAINS: { table: Table; chain: string }[] = [
  { table: 'filter', chain: 'BERTH' },
  { table: 'filter', chain: 'BERTH-FORWARD' },
  { table: 'filter', chain: 'BERTH-ISOLATION-STAGE-1' },
  { table: 'filter', chain: 'BERTH-ISOLATION-STAGE-2' },
  { table: 'nat', chain: 'BERTH' },
  { table: 'nat', chain: 'BERTH-POSTROUTING' },
  { table: 'raw', chain: 'BERTH-PREROUTING' },
];

/** Jumps from the built-in chains, in iptables-save's spelling (they are matched against it). */
export const JUMPS: Rule[] = [
  { table: 'filter', chain: 'FORWARD', spec: '-j BERTH-FORWARD' },
  { table: 'nat', chain: 'PREROUTING', spec: '-m addrtype --dst-type LOCAL -j BERTH' },
  { table: 'nat', chain: 'OUTPUT', spec: '-m addrtype --dst-type LOCAL -j BERTH' },
  { table: 'nat', chain: 'POSTROUTING', spec: '-j BERTH-POSTROUTING' },
  { table: 'raw', chain: 'PREROUTING', spec: '-j BERTH-PREROUTING' },
];

export const HEADS: Rule[] = [{ table: 'filter', chain: 'BERTH-FORWARD', spec: '-j BERTH-ISOLATION-STAGE-1' }];

export interface BridgeNet {
  bridge: string;
  subnet: string;
  internal: boolean;
  /** Containers on the network may talk to each other (com.docker.network.bridge.enable_icc). */
  icc: boolean;
  /** MASQUERADE outbound traffic (com.docker.network.bridge.enable_ip_masquerade). */
  masquerade: boolean;
}

export function networkRules(n: BridgeNet): Rule[] {
  const b = n.bridge;
  const f = (chain: string, spec: string): Rule => ({ table: 'filter', chain, spec });
  const rules: Rule[] = [
    f('BERTH-ISOLATION-STAGE-1', `-i ${b} ! -o ${b} -j BERTH-ISOLATION-STAGE-2`),
    f('BERTH-ISOLATION-STAGE-2', `-o ${b} -m conntrack ! --ctstate DNAT -j DROP`),
    { table: 'raw', chain: 'BERTH-PREROUTING', spec: `-d 127.0.0.0/8 -i ${b} -j DROP` },
  ];
  if (n.internal) {
    // No way out and no way in but from the subnet itself.
    rules.push(f('BERTH-FORWARD', `-i ${b} ! -o ${b} -j DROP`), f('BERTH-FORWARD', `-o ${b} ! -i ${b} -j DROP`));
  } else {
    rules.push(
      f('BERTH-FORWARD', `-o ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`),
      f('BERTH-FORWARD', `-o ${b} -j BERTH`),
      f('BERTH-FORWARD', `-i ${b} ! -o ${b} -j ACCEPT`),
    );
    if (n.masquerade) rules.push({ table: 'nat', chain: 'BERTH-POSTROUTING', spec: `-s ${n.subnet} ! -o ${b} -j MASQUERADE` });
    rules.push({ table: 'nat', chain: 'BERTH-POSTROUTING', spec: `-o ${b} -m addrtype --src-type LOCAL -j MASQUERADE` });
  }
  rules.push(f('BERTH-FORWARD', `-i ${b} -o ${b} -j ${n.icc ? 'ACCEPT' : 'DROP'}`));
  if (!n.internal) rules.push(f('BERTH-FORWARD', `-o ${b} -j DROP`));
  return rules;
}

/**
 * The IPv6 rules of a network with --ipv6: isolation, forwarding and MASQUERADE as for IPv4
 * (ULA subnets need NAT to go out, as Docker does them); published ports stay IPv4.
 */
export function networkRules6(n: BridgeNet & { subnet6: string }): Rule[] {
  return networkRules({ ...n, subnet: n.subnet6 }).filter((r) => r.table !== 'raw' && !r.spec.includes('--src-type LOCAL'));
}

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  /** '' or 0.0.0.0 for every local address. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** DNAT to the container, the FORWARD accept, and the hairpin MASQUERADE (a container reaching itself). */
export function portRules(bridge: string, m: PortMapping): Rule[] {
  const dst = m.hostIp && m.hostIp !== '0.0.0.0' ? `-d ${m.hostIp}/32 ` : '';
  const p = `-p ${m.proto} -m ${m.proto}`;
  return [
    { table: 'nat', chain: 'BERTH', spec: `${dst}${p} --dport ${m.hostPort} -j DNAT --to-destination ${m.containerIp}:${m.containerPort}` },
    { table: 'filter', chain: 'BERTH', spec: `-d ${m.containerIp}/32 -o ${bridge} ${p} --dport ${m.containerPort} -j ACCEPT` },
    { table: 'nat', chain: 'BERTH-POSTROUTING', spec: `-s ${m.containerIp}/32 -d ${m.containerIp}/32 ${p} --dport ${m.containerPort} -j MASQUERADE` },
  ];
}

/**
 * The same for IPv6 (ip6tables), for every local address but ::1: IPv6 cannot route a
 * loopback source out, so [::1] is left to berthd's socket on [::]:port, which proxies it.
 */
export function portRules6(bridge: string, m: PortMapping): Rule[] {
  const p = `-p ${m.proto} -m ${m.proto}`;
  return [
    { table: 'nat', chain: 'BERTH', spec: `! -d ::1/128 ${p} --dport ${m.hostPort} -j DNAT --to-destination [${m.containerIp}]:${m.containerPort}` },
    { table: 'filter', chain: 'BERTH', spec: `-d ${m.containerIp}/128 -o ${bridge} ${p} --dport ${m.containerPort} -j ACCEPT` },
    { table: 'nat', chain: 'BERTH-POSTROUTING', spec: `-s ${m.containerIp}/128 -d ${m.containerIp}/128 ${p} --dport ${m.containerPort} -j MASQUERADE` },
  ];
}
