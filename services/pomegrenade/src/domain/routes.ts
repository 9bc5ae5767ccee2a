// The routing table: per project, its hostnames and the addresses of its healthy web instances, or
// why there are none. Watchers get the whole table first, then only routes that really changed.

export type UnavailableReason =
  | 'not_deployed'
  | 'building'
  | 'starting'
  | 'crashed'
  | 'unhealthy'
  | 'scaled_to_zero'
  | 'stopped'
  | 'no_web_process';

export interface RouteEntry {
  projectId: string;
  projectName: string;
  hostnames: string[];
  upstreams: string[];
  unavailable?: { reason: UnavailableReason; message: string };
  httpsRedirect: boolean;
  deploymentNumber: number;
}

export type RouteUpdate =
  | { kind: 'snapshot'; routes: RouteEntry[] }
  | { kind: 'change'; upserted: RouteEntry[]; removed: string[] };

/** The current table and its watchers. */
export class RouteTable {
  private readonly routes = new Map<string, { entry: RouteEntry; key: string }>();
  private readonly watchers = new Set<(u: RouteUpdate) => void>();

  /** Sets a project's route; watchers hear of it only when it differs from the last one. */
  set(entry: RouteEntry): void {
    const key = JSON.stringify(entry);
    if (this.routes.get(entry.projectId)?.key === key) return;
    this.routes.set(entry.projectId, { entry, key });
    for (const w of this.watchers) w({ kind: 'change', upserted: [entry], removed: [] });
  }

  remove(projectId: string): void {
    if (!this.routes.delete(projectId)) return;
    for (const w of this.watchers) w({ kind: 'change', upserted: [], removed: [projectId] });
  }

  get(projectId: string): RouteEntry | undefined {
    return this.routes.get(projectId)?.entry;
  }

  snapshot(): RouteEntry[] {
    return [...this.routes.values()].map((r) => r.entry);
  }

  /** Sends the snapshot now, then every change; returns an unsubscribe. */
  watch(cb: (u: RouteUpdate) => void): () => void {
    cb({ kind: 'snapshot', routes: this.snapshot() });
    this.watchers.add(cb);
    return () => this.watchers.delete(cb);
  }
}
