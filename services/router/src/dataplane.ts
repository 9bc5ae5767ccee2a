// The one control interface both data planes implement: the router service feeds it the route
// table and reads back where it listens; everything else (pools, pages, headers) is inside.
import type { Logger } from '@paastech/kit';
import type { Dataplane, RouterConfig } from './config.js';
import type { RouteTable } from './routes.js';
import type { TrafficStats } from './stats.js';

/** Where a started data plane listens. */
export interface Listening {
  port: number;
  tlsPort?: number;
}

export interface DataPlane {
  readonly kind: Dataplane;
  /** Binds the listeners; resolves with the bound ports. */
  start(): Promise<Listening>;
  /** Applies the current table (called after every change; must not throw). */
  sync(table: RouteTable): void;
  /** Stops accepting, lets requests in flight finish (up to the drain timeout), releases everything. */
  stop(): Promise<void>;
}

/** What a data plane gets from the router service. */
export interface DataPlaneContext {
  config: RouterConfig;
  table: RouteTable;
  stats: TrafficStats;
  logger: Logger;
}
