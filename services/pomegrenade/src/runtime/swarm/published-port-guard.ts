// The published-port guard of a swarm node: web tasks publish their port in host mode on the node's
// addresses (the router on the manager reaches them there), so without it a container of another
// project could connect to <node address>:<published port> and reach a project it must not
// (ARCHITECTURE.md §7). Containers leave a node through docker_gwbridge (an overlay network only
// carries its own subnet), so the guard drops TCP from docker_gwbridge to the published-port range:
//   - INPUT: to any address of the node itself (docker-proxy answers a container's connection to a
//     published port of its own node, whatever local address it used);
//   - DOCKER-USER (forwarded): connections DNAT'ed to a published port (hairpin without the proxy),
//     and connections to another node's address on the range (on that node they would arrive from
//     this node's address, like the router's, and could not be told apart).
// Host processes (the router, health probes of the operator) never cross docker_gwbridge and keep
// reaching every published port. The rules live in one chain of their own, so installing is
// idempotent and removing is one flush.

/** The chain holding the guard's rules (filter table). */
export const GUARD_CHAIN = 'PAASTECH-PUBLISHED';

export interface GuardOptions {
  /** Addresses of every swarm node (Status.Addr): forwarded traffic to them on the range is dropped. */
  nodeAddresses: string[];
  /** Published-port range: the nodes' ephemeral range (net.ipv4.ip_local_port_range). */
  portRange: [number, number];
  /** Interface containers leave the node through. */
  bridge?: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IFACE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,14}$/;

/**
 * The iptables argument lists (for `iptables -w …`, filter table) that install the guard, in order:
 * the chain's rules (after creating and flushing it; `-N` fails harmlessly when it exists), then
 * the rules in INPUT and DOCKER-USER, each as [check, insert]: insert only when the check fails.
 */
export function guardRules(o: GuardOptions): {
  chain: string[][];
  rules: Array<{ check: string[]; insert: string[] }>;
} {
  const bridge = o.bridge ?? 'docker_gwbridge';
  if (!IFACE.test(bridge)) throw new Error(`invalid interface name ${JSON.stringify(bridge)}`);
  const [lo, hi] = o.portRange;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi)
    throw new Error(`invalid port range ${lo}-${hi}`);
  for (const a of o.nodeAddresses)
    if (!IPV4.test(a)) throw new Error(`invalid node address ${JSON.stringify(a)}`);
  const range = `${lo}:${hi}`;
  const chain = [
    ['-N', GUARD_CHAIN],
    ['-F', GUARD_CHAIN],
    // Hairpin NAT to a published port of this node (userland proxy off).
    [
      '-A',
      GUARD_CHAIN,
      '-p',
      'tcp',
      '-m',
      'conntrack',
      '--ctstate',
      'DNAT',
      '--ctorigdstport',
      range,
      '-j',
      'DROP',
    ],
    ...[...new Set(o.nodeAddresses)]
      .sort()
      .map((a) => ['-A', GUARD_CHAIN, '-p', 'tcp', '-d', `${a}/32`, '--dport', range, '-j', 'DROP']),
  ];
  /** A rule appended as [check, insert at the top]: insert only when the check fails. */
  const top = (chainName: string, rule: string[]) => ({
    check: ['-C', chainName, ...rule],
    insert: ['-I', chainName, '1', ...rule],
  });
  return {
    chain,
    rules: [
      // Local delivery (docker-proxy): every address of the node, on the range.
      // New connections only: replies to the host's own connections into containers (the router's,
      // docker-proxy's) also come in through the bridge, to the host's ephemeral ports.
      top('INPUT', [
        '-i',
        bridge,
        '-p',
        'tcp',
        '--dport',
        range,
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      ]),
      // Forwarded from containers: the chain above, for new connections (never replies).
      top('DOCKER-USER', ['-i', bridge, '-m', 'conntrack', '--ctstate', 'NEW', '-j', GUARD_CHAIN]),
    ],
  };
}

/** Runs `iptables <args>` on a node; resolves true when it exited 0. */
export type IptablesRunner = (args: string[]) => Promise<boolean>;

/** Installs (or refreshes) the guard on one node; idempotent. */
export async function installGuard(iptables: IptablesRunner, o: GuardOptions): Promise<void> {
  const { chain, rules } = guardRules(o);
  const [create, ...rest] = chain;
  await iptables(['-w', ...(create as string[])]); // fails when the chain exists: fine, it is flushed next
  for (const a of rest)
    if (!(await iptables(['-w', ...a])))
      throw new Error(`published-port guard: iptables ${a.join(' ')} failed`);
  for (const r of rules) {
    if (await iptables(['-w', ...r.check])) continue;
    if (!(await iptables(['-w', ...r.insert])))
      throw new Error(`published-port guard: iptables ${r.insert.join(' ')} failed`);
  }
}
