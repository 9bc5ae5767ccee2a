// The routing table: hostname → project route, fed by Pomegrenade's WatchRoutes stream.
//
// Invariant: a hostname maps to at most one route, and the table is only ever replaced or changed
// as a whole update at a time (a snapshot replaces everything), so a data plane never sees a
// half-applied update. Hostnames are stored lower-case without port; lookups normalise the same way.
import { routing } from '@paastech/proto';

/** One project's route as the data planes use it. */
export interface RouteEntry {
  projectId: string;
  projectName: string;
  hostnames: string[];
  /** Healthy instances as "host:port" ("[::1]:8080" for IPv6). */
  upstreams: string[];
  /** Why there is no upstream (meaningful only when `upstreams` is empty). */
  reason: routing.RouteUnavailableReason;
  /** Short detail for the error page. */
  message: string;
  httpsRedirect: boolean;
}

/** Converts a proto route into a table entry (hostnames normalised). */
export function toEntry(route: routing.Route): RouteEntry {
  return {
    projectId: route.projectId,
    projectName: route.projectName || route.projectId,
    hostnames: [...new Set(route.hostnames.map(normaliseHost).filter((h) => h !== ''))],
    upstreams: [...new Set(route.upstreamAddresses.filter(isUpstreamAddress))],
    reason: route.unavailableReason,
    message: route.unavailableMessage,
    httpsRedirect: route.httpsRedirect,
  };
}

/** "host:port" with a numeric port, or "[v6]:port"; anything else is ignored. */
export function isUpstreamAddress(address: string): boolean {
  return /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address);
}

/** Host header value → lower-case hostname without port or trailing dot; '' when unusable. */
export function normaliseHost(raw: string | undefined): string {
  if (!raw) return '';
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end < 0 ? '' : host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** Called after every update of the table. */
export type TableListener = (table: RouteTable) => void;

/** The current routes, indexed by project id and by hostname. */
export class RouteTable {
  private readonly byProject = new Map<string, RouteEntry>();
  private readonly byHost = new Map<string, RouteEntry>();
  private readonly listeners: TableListener[] = [];
  /** Bumped on every update; data planes use it to notice changes cheaply. */
  version = 0;

  /** Calls `listener` after every update. */
  onChange(listener: TableListener): void {
    this.listeners.push(listener);
  }

  /** The route serving `host` (already normalised), if any. */
  lookup(host: string): RouteEntry | undefined {
    return this.byHost.get(host);
  }

  /** Every route. */
  routes(): RouteEntry[] {
    return [...this.byProject.values()];
  }

  /** Replaces the whole table. */
  replace(routes: routing.Route[]): void {
    this.byProject.clear();
    for (const r of routes) this.byProject.set(r.projectId, toEntry(r));
    this.commit();
  }

  /** Replaces the whole table with entries already converted (another process's table.routes()). */
  load(entries: RouteEntry[]): void {
    this.byProject.clear();
    for (const e of entries) this.byProject.set(e.projectId, e);
    this.commit();
  }

  /** Upserts and removes routes by project id. */
  apply(change: routing.RouteChange): void {
    for (const id of change.removedProjectIds) this.byProject.delete(id);
    for (const r of change.upsertedRoutes) this.byProject.set(r.projectId, toEntry(r));
    this.commit();
  }

  /** Applies one message of the WatchRoutes stream. */
  update(message: routing.WatchRoutesResponse): void {
    if (message.update?.$case === 'snapshot') this.replace(message.update.value.routes);
    else if (message.update?.$case === 'change') this.apply(message.update.value);
  }

  /** Rebuilds the host index (first route wins a contested hostname) and notifies listeners. */
  private commit(): void {
    this.byHost.clear();
    for (const entry of this.byProject.values()) {
      for (const host of entry.hostnames) if (!this.byHost.has(host)) this.byHost.set(host, entry);
    }
    this.version++;
    for (const listener of this.listeners) listener(this);
  }
}
