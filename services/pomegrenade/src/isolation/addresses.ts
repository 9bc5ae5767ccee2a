// Addresses and names of project networks (pure). Each project gets one /30 of the configured
// instance range: .1 is the host end of its veth pair (the instances' gateway, never reachable from
// them), .2 the namespace end where its instances listen. Names are derived from a hash of the
// installation tag and the project id, so two installations on one host (or a project id with
// any characters in it) never produce the same interface, namespace or firewall table name.
import { createHash } from 'node:crypto';

/** An IPv4 network in CIDR form. */
export interface Ipv4Net {
  base: number;
  prefix: number;
}

/** Where one project's network lives. */
export interface ProjectAddresses {
  /** e.g. "10.213.0.0/30" */
  subnet: string;
  /** Gateway, on the host end of the veth pair. */
  hostAddress: string;
  /** Address of the instances, inside the namespace. */
  nsAddress: string;
}

/** Names of one project's network objects (all ≤ 15 characters, the kernel's limit). */
export interface ProjectNames {
  /** Network namespace, under /run/netns. */
  netns: string;
  /** Host end of the veth pair (every one starts with "pt-"). */
  hostIf: string;
  /** nftables table (inet family). */
  table: string;
}

const SLOT_PREFIX = 30;

/** "10.213.0.0/16" → { base, prefix }; throws on anything else. */
export function parseIpv4Net(cidr: string): Ipv4Net {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || prefix < 8 || prefix > SLOT_PREFIX) {
    throw new Error(`network "${cidr}": must be an IPv4 CIDR range from /8 to /30, e.g. 10.213.0.0/16`);
  }
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
  if ((base & mask) >>> 0 !== base) throw new Error(`network "${cidr}": host bits must be zero`);
  return { base, prefix };
}

/** Dotted form of a 32-bit address. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** How many projects fit in the range. */
export function slotCount(net: Ipv4Net): number {
  return 2 ** (SLOT_PREFIX - net.prefix);
}

/** The addresses of slot `i` of the range. */
export function slotAddresses(net: Ipv4Net, i: number): ProjectAddresses {
  if (!Number.isInteger(i) || i < 0 || i >= slotCount(net)) {
    throw new Error(`slot ${i}: outside the instance network (${slotCount(net)} slots)`);
  }
  const first = net.base + i * 4;
  return {
    subnet: `${formatIpv4(first)}/${SLOT_PREFIX}`,
    hostAddress: formatIpv4(first + 1),
    nsAddress: formatIpv4(first + 2),
  };
}

/** The CIDR string of a parsed range. */
export function formatNet(net: Ipv4Net): string {
  return `${formatIpv4(net.base)}/${net.prefix}`;
}

/** Names for a project of an installation (`tag` tells installations apart). */
export function projectNames(tag: string, projectId: string): ProjectNames {
  const h = createHash('sha256').update(`${tag}\0${projectId}`).digest('hex').slice(0, 10);
  return { netns: `pt-${h}`, hostIf: `pt-${h}`, table: `pt_${h}` };
}
