// Keep-alive connection pools to instances, and the choice of instance per request.
//
// Invariant (draining): an instance that leaves the table gets no new request, but its pool lives
// until the requests in flight on it have finished; only then are its sockets closed.
import http from 'node:http';
import type { RouteEntry } from '../routes.js';

/** Idle fast-path connections kept per instance (the node:http path's agent: maxFreeSockets). */
const MAX_IDLE = 128;

/** A keep-alive connection of the fast path (fast.ts) that can wait idle in a pool. */
export interface PooledConnection {
  close(): void;
}

/** One instance and its connection pool. */
export class Upstream {
  readonly host: string;
  readonly port: number;
  readonly agent: http.Agent;
  inflight = 0;
  private retired = false;
  /** Idle fast-path connections, most recently used last (LIFO reuse). */
  private readonly idle: PooledConnection[] = [];

  constructor(readonly address: string) {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    this.host = host.startsWith('[') ? host.slice(1, -1) : host;
    this.port = Number(address.slice(colon + 1));
    // Idle sockets are dropped after 4 s: under the 5 s keep-alive of a default Node server, so
    // the router does not reuse a socket the instance is about to close.
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: 512,
      maxFreeSockets: MAX_IDLE,
      scheduling: 'lifo',
      timeout: 4_000,
    });
  }

  /** Marks a request started on this instance. */
  acquire(): void {
    this.inflight++;
  }

  /** Marks a request finished; closes the pool of a retired instance once idle. */
  release(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) this.closePools();
  }

  /** Takes the instance out of rotation; its pool closes when its last request ends. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) this.closePools();
  }

  /** The most recently idle fast-path connection, if any. */
  takeIdle(): PooledConnection | undefined {
    return this.idle.pop();
  }

  /** Puts a fast-path connection back; false when the instance is retired or the pool is full
   * (close it instead). */
  putIdle(c: PooledConnection): boolean {
    if (this.retired || this.idle.length >= MAX_IDLE) return false;
    this.idle.push(c);
    return true;
  }

  /** Forgets an idle connection that closed or timed out. */
  dropIdle(c: PooledConnection): void {
    const i = this.idle.lastIndexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private closePools(): void {
    this.agent.destroy();
    for (const c of this.idle.splice(0)) c.close();
  }
}

/** The instances of one project, picked least-in-flight first, ties round-robin. */
class Pool {
  private next = 0;
  constructor(readonly members: Upstream[]) {}

  /** The least busy member other than `exclude`, rotating among equals. */
  pick(exclude?: Upstream): Upstream | undefined {
    const n = this.members.length;
    let best: Upstream | undefined;
    const start = this.next;
    for (let i = 0; i < n; i++) {
      const u = this.members[(start + i) % n] as Upstream;
      if (u === exclude) continue;
      if (!best || u.inflight < best.inflight) best = u;
    }
    this.next = (start + 1) % (n || 1);
    return best;
  }
}

/** Every project's pool, rebuilt from the route table. */
export class Upstreams {
  private byAddress = new Map<string, Upstream>();
  private byProject = new Map<string, Pool>();

  /** Makes the pools match `routes`: new instances get a pool, removed ones are retired. */
  sync(routes: RouteEntry[]): void {
    const next = new Map<string, Upstream>();
    const pools = new Map<string, Pool>();
    for (const r of routes) {
      const members = r.upstreams.map((a) => {
        const u = next.get(a) ?? this.byAddress.get(a) ?? new Upstream(a);
        next.set(a, u);
        return u;
      });
      pools.set(r.projectId, new Pool(members));
    }
    for (const [a, u] of this.byAddress) if (!next.has(a)) u.retire();
    this.byAddress = next;
    this.byProject = pools;
  }

  /** An instance of `projectId` other than `exclude`, or undefined. */
  pick(projectId: string, exclude?: Upstream): Upstream | undefined {
    return this.byProject.get(projectId)?.pick(exclude);
  }

  /** Requests in flight over every instance, retired ones excluded. */
  inflight(): number {
    let n = 0;
    for (const u of this.byAddress.values()) n += u.inflight;
    return n;
  }

  /** Closes every pool. */
  destroy(): void {
    for (const u of this.byAddress.values()) u.retire();
    this.byAddress.clear();
    this.byProject.clear();
  }
}
