// nftables rules of one project network, one table per project (so removing a project removes
// exactly its rules). Invariant, for packets arriving from the project's veth: nothing new reaches
// the host itself (any address, any port — loopback services, the veth's host end, the host's other
// addresses) nor another project's network, nor link-local/metadata addresses, nor anything over
// IPv6, nor the private networks the host may sit in (RFC 1918, CGNAT: the operator's database or
// other hosts of the platform); only replies to connections the host opened (the router, health
// checks) pass. Traffic to the outside world is masqueraded behind the host, or rejected when
// egress is off. Nothing but replies is ever forwarded into the namespace.
import { run } from '@paastech/kit';

export interface FirewallSpec {
  table: string;
  hostIf: string;
  /** The project's own /30. */
  subnet: string;
  /** The whole instance range (every project's subnets). */
  range: string;
  /** NAT to the outside world (true) or no traffic leaves the project at all (false). */
  egress: boolean;
  /** DNS resolvers the host uses (often on a private address): apps may reach port 53 there only. */
  resolvers?: string[];
}

const NAME = /^[a-z0-9_-]{1,15}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Private networks an app must never reach through the host (a separate rule: they may overlap the range). */
export const PRIVATE_NETWORKS = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '0.0.0.0/8',
];
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/** The nft script (for `nft -f -`) that replaces the project's table atomically (pure). */
export function projectRuleset(s: FirewallSpec): string {
  const resolvers = s.resolvers ?? [];
  if (
    !NAME.test(s.table) ||
    !NAME.test(s.hostIf) ||
    !CIDR.test(s.subnet) ||
    !CIDR.test(s.range) ||
    !resolvers.every((r) => IPV4.test(r))
  ) {
    throw new Error(`firewall: refusing names/addresses ${JSON.stringify(s)}`);
  }
  const from = `iifname "${s.hostIf}"`;
  const reject = 'reject with icmpx type admin-prohibited';
  const lines = [
    `table inet ${s.table} {}`,
    `delete table inet ${s.table}`,
    `table inet ${s.table} {`,
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    `    ${from} ct state established,related accept`,
    `    ${from} ${reject}`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    `    ${from} ct state established,related accept`,
    `    oifname "${s.hostIf}" ct state established,related accept`,
    `    oifname "${s.hostIf}" ${reject}`,
    `    ${from} meta nfproto ipv6 ${reject}`,
    `    ${from} ip daddr { ${s.range}, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 } ${reject}`,
    // Name resolution through the host's resolvers, even on a private address; nothing else there.
    ...(s.egress && resolvers.length > 0
      ? [`    ${from} ip daddr { ${resolvers.join(', ')} } meta l4proto { udp, tcp } th dport 53 accept`]
      : []),
    `    ${from} ip daddr { ${PRIVATE_NETWORKS.join(', ')} } ${reject}`,
    `    ${from} oifname "pt-*" ${reject}`,
    ...(s.egress ? [] : [`    ${from} ${reject}`]),
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...(s.egress ? [`    ip saddr ${s.subnet} oifname != "pt-*" masquerade`] : []),
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** Installs (or replaces) the project's table. */
export async function applyRuleset(s: FirewallSpec): Promise<void> {
  await run('nft', ['-f', '-'], { input: projectRuleset(s) });
}

/** Removes the project's table; a missing table is fine. */
export async function removeRuleset(table: string): Promise<void> {
  if (!NAME.test(table)) throw new Error(`firewall: refusing table name "${table}"`);
  await run('nft', ['-f', '-'], { input: `table inet ${table} {}\ndelete table inet ${table}\n` });
}

/** Names of every table whose name starts with `prefix`. */
export async function listTables(prefix: string): Promise<string[]> {
  const { stdout } = await run('nft', ['list', 'tables']);
  return stdout
    .split('\n')
    .map((l) => /^table inet (\S+)$/.exec(l.trim())?.[1])
    .filter((t): t is string => t?.startsWith(prefix) ?? false);
}

/** IPv4 nameservers of a resolv.conf (IPv6 ones are useless here: apps have no IPv6). */
export function parseResolvers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined);
}
