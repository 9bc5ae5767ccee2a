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

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '@paastech/kit';
import type { SwarmNode } from './docker.js';

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

/**
 * Creates or flushes a chain of our own, fills it, and puts each jump into it in place unless it is
 * there already; idempotent. `chain` starts with `-N` (fails harmlessly when the chain exists) and
 * `-F`; `label` names what failed in the error.
 */
export async function installChain(
  iptables: IptablesRunner,
  label: string,
  chain: string[][],
  jumps: Array<{ check: string[]; insert: string[] }>,
): Promise<void> {
  const [create, ...rest] = chain;
  await iptables(['-w', ...(create as string[])]);
  for (const a of rest)
    if (!(await iptables(['-w', ...a]))) throw new Error(`${label}: iptables ${a.join(' ')} failed`);
  for (const r of jumps) {
    if (await iptables(['-w', ...r.check])) continue;
    if (!(await iptables(['-w', ...r.insert])))
      throw new Error(`${label}: iptables ${r.insert.join(' ')} failed`);
  }
}

/** Installs (or refreshes) the guard on one node; idempotent. */
export async function installGuard(iptables: IptablesRunner, o: GuardOptions): Promise<void> {
  const { chain, rules } = guardRules(o);
  await installChain(iptables, 'published-port guard', chain, rules);
}

/** Where an operator reads what the guard does and how to apply it by hand. */
export const GUARD_DOCS = 'docs/swarm.md "Isolation between projects: the published-port guard"';

/** `iptables <args>` on this machine (argv, no shell); rejects when `binary` is not installed. */
export function hostIptables(binary = 'iptables'): IptablesRunner {
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(binary, args, (err) => {
        if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT')
          reject(new Error(`${binary} is not installed on this node`));
        else resolve(!err);
      });
    });
}

/** This node's ephemeral port range (the range Docker publishes host-mode ports in). */
export function readPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  const [lo, hi] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  return [lo ?? Number.NaN, hi ?? Number.NaN];
}

/** The addresses of the swarm's nodes, sorted and unique (unset addresses left out). */
export function nodeAddresses(nodes: SwarmNode[]): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    // A manager may report 0.0.0.0 as its Status.Addr; its advertised address is in ManagerStatus.
    const addr =
      n.Status.Addr && n.Status.Addr !== '0.0.0.0' ? n.Status.Addr : n.ManagerStatus?.Addr.split(':')[0];
    if (addr) out.add(addr);
  }
  return [...out].sort();
}

export interface GuardKeeperOptions {
  /** iptables of the node Pomegrenade runs on (the manager). */
  iptables: IptablesRunner;
  /** The swarm's nodes, as the daemon reports them now. */
  nodes: () => Promise<SwarmNode[]>;
  portRange: () => [number, number];
  logger: Logger;
  /** How often the node addresses are read again (default 5 s). */
  intervalMs?: number;
}

/**
 * Keeps the guard installed on the manager: at start, then whenever the set of node addresses
 * changes. A failure is logged (naming the docs) and never stops the platform; workers cannot be
 * reached from here, so their operator is told once to apply the rules there.
 */
export class GuardKeeper {
  /** The address set last installed (or last failed): a failure is retried on the next change. */
  private applied = '';
  private warnedWorkers = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly o: GuardKeeperOptions) {}

  /** First install (a failure is a warn line); then checks every interval. */
  async start(): Promise<void> {
    await this.check(true);
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 5000);
    this.timer.unref?.();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): Promise<void> {
    this.checking ??= this.check(false).finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /** Reads the nodes; installs the guard when their addresses changed. */
  private async check(atStart: boolean): Promise<void> {
    let nodes: SwarmNode[];
    try {
      nodes = await this.o.nodes();
    } catch (err) {
      this.o.logger.warn({ err }, 'published-port guard: could not list the swarm nodes');
      return;
    }
    const workers = nodes.filter((n) => n.Spec.Role === 'worker');
    if (workers.length > 0 && !this.warnedWorkers) {
      this.warnedWorkers = true;
      this.o.logger.warn(
        `published-port guard: the swarm has ${workers.length} worker node(s) (${workers.map((n) => n.Description.Hostname || n.ID).join(', ')}); the platform cannot reach their firewall: apply the rules of ${GUARD_DOCS} on each worker`,
      );
    }
    const addresses = nodeAddresses(nodes);
    const key = addresses.join(' ');
    if (key === this.applied) return;
    this.applied = key;
    try {
      await installGuard(this.o.iptables, { nodeAddresses: addresses, portRange: this.o.portRange() });
      this.o.logger.info({ nodes: addresses }, 'published-port guard installed on this node');
    } catch (err) {
      const message = `published-port guard NOT installed on this node (${(err as Error).message}): tasks of one project can reach another's published ports; see ${GUARD_DOCS}`;
      if (atStart) this.o.logger.warn({ err }, message);
      else this.o.logger.error({ err }, message);
    }
  }
}
