// A network namespace per project: `ip netns add`, a veth pair (host end "pt-…", namespace end
// eth0), a /30 of the instance range, a default route via the host end, and the project's firewall
// table. Invariant: a /30 belongs to at most one project on this host at a time — slots are
// reserved by creating a file exclusively under a host-wide directory (several installations, e.g.
// parallel test daemons, share the range), and a project's namespace, veth, table and reservation
// are created and removed together. With acquire/release a network lives exactly as long as the
// project has processes: the last one to exit takes it down.
import fs from 'node:fs';
import path from 'node:path';
import { run } from '@paastech/kit';
import {
  formatNet,
  type Ipv4Net,
  type ProjectAddresses,
  type ProjectNames,
  parseIpv4Net,
  projectNames,
  slotAddresses,
  slotCount,
} from './addresses.js';
import { applyRuleset, parseResolvers, removeRuleset } from './firewall.js';

export interface NetworkOptions {
  /** Tells this installation's projects apart from another's on the same host. */
  tag: string;
  /** The instance range, e.g. "10.213.0.0/16". */
  range: string;
  /** Default for projects without an override: NAT to the outside world. */
  egress: boolean;
  /** Host-wide directory of slot reservations. */
  reservationsDir?: string;
}

/** A project's network, ready for instances. */
export interface ProjectNetwork {
  projectId: string;
  names: ProjectNames;
  addresses: ProjectAddresses;
  /** Path nsenter --net= takes. */
  nsPath: string;
  egress: boolean;
}

interface Reservation {
  tag: string;
  projectId: string;
  netns: string;
}

const NETNS_DIR = '/run/netns';
const DEFAULT_RESERVATIONS = '/run/paastech/net-slots';
/** A reservation whose namespace never appeared for this long is a leftover of a crash. */
const STALE_MS = 60_000;

/** Runs `ip …`, ignoring failure (for removing what may not exist). */
async function ipQuiet(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch {
    // already gone
  }
}

/** Reads a reservation file, or null. */
function readReservation(file: string): Reservation | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Reservation;
  } catch {
    return null;
  }
}

/** Why project networks cannot work on this host, or null when they can. */
export function networkUnavailableReason(): string | null {
  const found = (program: string) =>
    ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => fs.existsSync(path.join(dir, program)));
  if (!found('ip')) return 'iproute2 (ip) is not installed';
  if (!found('nft')) return 'nftables (nft) is not installed';
  if (!found('nsenter')) return 'nsenter (util-linux) is not installed';
  if (!fs.existsSync('/proc/self/ns/net')) return 'this kernel has no network namespaces';
  return null;
}

/** Inodes of the network namespaces some process is in. */
function namespacesInUse(): Set<number> {
  const out = new Set<number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.add(fs.statSync(`/proc/${pid}/ns/net`).ino);
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/** The object names of a namespace name ("pt-<hash>"). */
function namesOf(netns: string): ProjectNames {
  const h = netns.replace(/^pt-/, '');
  return { netns, hostIf: netns, table: `pt_${h}` };
}

/** Creates, finds and removes the network namespaces of one installation's projects. */
export class ProjectNetworks {
  private readonly net: Ipv4Net;
  private readonly dir: string;
  private readonly ready = new Map<string, Promise<ProjectNetwork>>();
  private readonly egressOverride = new Map<string, boolean>();
  private readonly users = new Map<string, number>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly options: NetworkOptions) {
    this.net = parseIpv4Net(options.range);
    this.dir = options.reservationsDir ?? DEFAULT_RESERVATIONS;
  }

  /** The project's network, created on first use (concurrent callers share one creation). */
  ensure(projectId: string): Promise<ProjectNetwork> {
    let p = this.ready.get(projectId);
    if (!p) {
      p = this.create(projectId);
      this.ready.set(projectId, p);
      p.catch(() => this.ready.delete(projectId));
    }
    return p;
  }

  /** The project's network for one more process (creating it for the first). */
  acquire(projectId: string): Promise<ProjectNetwork> {
    return this.serial(projectId, async () => {
      this.users.set(projectId, (this.users.get(projectId) ?? 0) + 1);
      try {
        return await this.ensure(projectId);
      } catch (err) {
        this.users.set(projectId, (this.users.get(projectId) ?? 1) - 1);
        throw err;
      }
    });
  }

  /** One process less; the last one removes the network. */
  release(projectId: string): Promise<void> {
    return this.serial(projectId, async () => {
      const left = (this.users.get(projectId) ?? 1) - 1;
      if (left > 0) {
        this.users.set(projectId, left);
        return;
      }
      this.users.delete(projectId);
      await this.destroy(projectId);
    });
  }

  /** Runs `fn` after every earlier acquire/release of the project. */
  private serial<T>(projectId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(projectId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.queues.set(projectId, settled);
    void settled.then(() => {
      if (this.queues.get(projectId) === settled) this.queues.delete(projectId);
    });
    return next;
  }

  /** Turns the project's outside-world access on or off (applies at once when it exists). */
  async setEgress(projectId: string, on: boolean): Promise<void> {
    this.egressOverride.set(projectId, on);
    if (!this.ready.has(projectId)) return;
    const n = await this.ensure(projectId);
    // Every deployment asks again: only a change costs an `nft` run.
    if (n.egress === on) return;
    n.egress = on;
    await this.firewall(n);
  }

  /** Removes the project's namespace, veth, firewall table and reservation. */
  async destroy(projectId: string): Promise<void> {
    const pending = this.ready.get(projectId);
    this.ready.delete(projectId);
    await pending?.catch(() => undefined);
    await this.free(projectNames(this.options.tag, projectId));
  }

  /** Tears the network down and gives its slot back. */
  private async free(names: ProjectNames): Promise<void> {
    await this.teardown(names);
    for (const [file, r] of this.reservations())
      if (r.netns === names.netns) fs.rmSync(file, { force: true });
  }

  /** Removes every network of this installation (leftovers of a previous run); returns how many. */
  async destroyAll(): Promise<number> {
    const mine = [...this.reservations()].filter(([, r]) => r.tag === this.options.tag);
    for (const [, r] of mine) await this.destroy(r.projectId);
    return mine.length;
  }

  /**
   * Removes networks of any installation on this host that no process uses and that are older
   * than a minute (left by a platform that was killed); returns how many.
   */
  async sweep(): Promise<number> {
    const inUse = namespacesInUse();
    let removed = 0;
    for (const [file, r] of [...this.reservations()]) {
      let ino = -1;
      try {
        ino = fs.statSync(path.join(NETNS_DIR, r.netns)).ino;
      } catch {
        // namespace gone: only the reservation is left
      }
      if (inUse.has(ino) || Date.now() - fs.statSync(file).mtimeMs < STALE_MS) continue;
      if (this.ready.has(r.projectId) && r.tag === this.options.tag) continue;
      await this.free(namesOf(r.netns));
      removed++;
    }
    return removed;
  }

  /** Project ids holding a reservation of this installation. */
  projects(): string[] {
    return [...this.reservations()].filter(([, r]) => r.tag === this.options.tag).map(([, r]) => r.projectId);
  }

  /** Builds the network from scratch (whatever half of it a crash left is removed first). */
  private async create(projectId: string): Promise<ProjectNetwork> {
    const names = projectNames(this.options.tag, projectId);
    const slot = this.reserve({ tag: this.options.tag, projectId, netns: names.netns });
    const addresses = slotAddresses(this.net, slot);
    const egress = this.egressOverride.get(projectId) ?? this.options.egress;
    const n: ProjectNetwork = {
      projectId,
      names,
      addresses,
      nsPath: path.join(NETNS_DIR, names.netns),
      egress,
    };
    const ns = names.netns;
    try {
      await this.teardown(names);
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['link', 'add', names.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${addresses.nsAddress}/30`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['addr', 'add', `${addresses.hostAddress}/30`, 'dev', names.hostIf]);
      await run('ip', ['link', 'set', names.hostIf, 'up']);
      await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', addresses.hostAddress]);
      await this.firewall(n);
    } catch (err) {
      await this.free(names);
      throw err;
    }
    return n;
  }

  /** Installs the project's firewall table; forwarding is switched on for NAT. */
  private async firewall(n: ProjectNetwork): Promise<void> {
    if (n.egress) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await applyRuleset({
      table: n.names.table,
      hostIf: n.names.hostIf,
      subnet: n.addresses.subnet,
      range: formatNet(this.net),
      egress: n.egress,
      resolvers: hostResolvers(),
    });
  }

  /** Removes the namespace, the veth pair and the table (each may already be gone). */
  private async teardown(names: ProjectNames): Promise<void> {
    await removeRuleset(names.table);
    await ipQuiet(['link', 'del', names.hostIf]);
    await ipQuiet(['netns', 'del', names.netns]);
  }

  /** Reservation files and their contents. */
  private *reservations(): Generator<[string, Reservation]> {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const file = path.join(this.dir, e);
      const r = readReservation(file);
      if (r) yield [file, r];
    }
  }

  /** The project's slot: its existing reservation, else the lowest free (or stale) one. */
  private reserve(r: Reservation): number {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const [file, existing] of this.reservations()) {
      if (existing.tag === r.tag && existing.projectId === r.projectId) return Number(path.basename(file));
    }
    for (let slot = 0; slot < slotCount(this.net); slot++) {
      const file = path.join(this.dir, String(slot));
      if (this.isStale(file)) fs.rmSync(file, { force: true });
      try {
        fs.writeFileSync(file, JSON.stringify(r), { flag: 'wx' });
        return slot;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new Error(`instance network ${formatNet(this.net)} is full (${slotCount(this.net)} projects)`);
  }

  /** True for a reservation older than STALE_MS whose namespace does not exist. */
  private isStale(file: string): boolean {
    const r = readReservation(file);
    if (!r) return false;
    try {
      const age = Date.now() - fs.statSync(file).mtimeMs;
      return age > STALE_MS && !fs.existsSync(path.join(NETNS_DIR, r.netns));
    } catch {
      return false;
    }
  }
}

/** The host's IPv4 DNS resolvers (bwrap gives apps the host's /etc/resolv.conf). */
function hostResolvers(): string[] {
  try {
    return parseResolvers(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}
