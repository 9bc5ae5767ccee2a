// The egress setting of swarm tasks (a project with outbound access off). An `--internal` overlay
// network would cut it, but then Docker publishes no host-mode port (the task gets no
// docker_gwbridge leg) and the router cannot reach the web task. So tasks keep their bridge leg,
// and this node's firewall rejects every new connection a task of an egress-off project opens
// through docker_gwbridge — to the node itself (INPUT) and beyond it (DOCKER-USER) — by the task's
// docker_gwbridge address. Replies to the router's connections are not new and pass. Only this
// node's firewall is in reach, so egress-off services are placed on this node (services.ts).
// Invariant: the chain holds exactly the bridge addresses of this node's running egress-off
// containers, as of the last check (a few seconds).
import type { Logger } from '@paastech/kit';
import type { DockerClient } from './docker.js';
import { type IptablesRunner, installChain } from './published-port-guard.js';
import { LABEL } from './services.js';

/** The chain holding one REJECT rule per egress-off task address (filter table). */
export const EGRESS_CHAIN = 'PAASTECH-EGRESS';

const BRIDGE = 'docker_gwbridge';
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The jumps into the chain, each as [check, insert at the top]: new connections from containers. */
export function egressJumps(): Array<{ check: string[]; insert: string[] }> {
  const rule = ['-i', BRIDGE, '-m', 'conntrack', '--ctstate', 'NEW', '-j', EGRESS_CHAIN];
  return ['INPUT', 'DOCKER-USER'].map((chain) => ({
    check: ['-C', chain, ...rule],
    insert: ['-I', chain, '1', ...rule],
  }));
}

/** The chain's rule for one task address (`-A` to add it, `-D` to delete it). */
export function egressRule(op: '-A' | '-D', address: string): string[] {
  if (!IPV4.test(address)) throw new Error(`invalid task address ${JSON.stringify(address)}`);
  return [op, EGRESS_CHAIN, '-s', `${address}/32`, '-j', 'REJECT'];
}

/** docker_gwbridge addresses of the given containers, from the bridge's inspect (sorted). */
export function bridgeAddresses(
  containers: Record<string, { IPv4Address?: string }> | null | undefined,
  ids: Set<string>,
): string[] {
  const out: string[] = [];
  for (const [id, c] of Object.entries(containers ?? {})) {
    const addr = (c.IPv4Address ?? '').split('/')[0] ?? '';
    if (ids.has(id) && IPV4.test(addr)) out.push(addr);
  }
  return out.sort();
}

interface Bridge {
  Containers?: Record<string, { IPv4Address?: string }> | null;
}

/** Keeps EGRESS_CHAIN in step with this node's egress-off containers. */
export class EgressKeeper {
  private installed = new Set<string>();
  private ready = false;
  private failed = '';
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly o: {
      iptables: IptablesRunner;
      docker: DockerClient;
      logger: Logger;
      /** How often the containers are checked (default 2 s). */
      intervalMs?: number;
    },
  ) {}

  /** Creates the (empty) chain and its jumps, then checks every interval; never throws. */
  async start(): Promise<void> {
    await this.setUp().catch((err: Error) => this.fail(err));
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? 2000);
    this.timer.unref?.();
    await this.check();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check now (single-flight): adds the rules of new tasks, deletes those of gone ones. */
  check(): Promise<void> {
    this.checking ??= this.sync()
      .catch((err: Error) => this.fail(err))
      .finally(() => {
        this.checking = undefined;
      });
    return this.checking;
  }

  private async setUp(): Promise<void> {
    await installChain(
      this.o.iptables,
      'egress guard',
      [
        ['-N', EGRESS_CHAIN],
        ['-F', EGRESS_CHAIN],
      ],
      egressJumps(),
    );
    this.installed.clear();
    this.ready = true;
  }

  private async sync(): Promise<void> {
    if (!this.ready) await this.setUp();
    const off = await this.o.docker.listContainers({ label: [`${LABEL.egress}=off`] });
    let want: string[] = [];
    if (off.length > 0) {
      const bridge = await this.o.docker.find<Bridge>(`/networks/${BRIDGE}`);
      want = bridgeAddresses(bridge?.Containers, new Set(off.map((c) => c.Id)));
    }
    for (const a of want) {
      if (this.installed.has(a)) continue;
      if (!(await this.o.iptables(['-w', ...egressRule('-A', a)])))
        throw new Error(`iptables ${egressRule('-A', a).join(' ')} failed`);
      this.installed.add(a);
    }
    for (const a of [...this.installed]) {
      if (want.includes(a)) continue;
      await this.o.iptables(['-w', ...egressRule('-D', a)]);
      this.installed.delete(a);
    }
    this.failed = '';
  }

  /** Logs a failure once (until it changes); the next check tries again. */
  private fail(err: Error): void {
    this.ready = this.ready && !/iptables/.test(err.message);
    if (err.message === this.failed) return;
    this.failed = err.message;
    this.o.logger.error(
      { err },
      `egress of swarm tasks NOT enforced on this node (${err.message}): egress-off projects can open connections; see docs/swarm.md "Egress of tasks"`,
    );
  }
}
