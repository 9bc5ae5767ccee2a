// Follows Pomegrenade's WatchRoutes stream and feeds the route table.
//
// Invariant: a broken stream never empties the table — the router keeps serving the last routes it
// knew and reconnects with capped exponential backoff; the first snapshot after a reconnect
// replaces the table, so routes removed while the stream was down disappear then.
import * as grpc from '@grpc/grpc-js';
import { internalMetadata, type Logger } from '@paastech/kit';
import { routing } from '@paastech/proto';
import type { RouteTable } from './routes.js';

export interface RouteWatcherOptions {
  address: string;
  secret: string;
  routerId: string;
  table: RouteTable;
  logger: Logger;
  /** First reconnect delay; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How long after start a stream that never synchronised is not a fault: paastechd starts the
   * router before Pomegrenade, which serves only once it has recovered every project. Failures in
   * this time are logged at debug level; later ones (and any after a first snapshot) as warnings,
   * at most one a minute while the stream stays down.
   */
  startupGraceMs?: number;
}

/** A running watch; `synced` resolves at the first snapshot received. */
export interface RouteWatcher {
  readonly synced: Promise<void>;
  /** True while a stream is open and has delivered its snapshot. */
  connected(): boolean;
  /** Sends traffic counts to Pomegrenade (ReportRouterStats). */
  report(request: routing.ReportRouterStatsRequest): Promise<void>;
  stop(): void;
}

/** While the route stream stays down, one warning at most this often. */
const WARN_EVERY_MS = 60_000;

/** What a warning says of a stream that failed: refused for its secret, lost once synchronised, or never had. */
function streamDownMessage(everSynced: boolean, refused: boolean): string {
  if (refused)
    return "route stream refused: Pomegrenade does not accept this router's internal secret (PAASTECH_INTERNAL_SECRET or <data dir>/keys/internal-secret); serving the last known routes";
  return everSynced
    ? 'route stream lost; serving the last known routes'
    : 'no route stream yet: Pomegrenade does not answer; serving no routes until it does';
}

/** Converts `unix:/path` or `host:port` into a grpc-js target. */
function grpcTarget(address: string): string {
  return address.startsWith('unix:') ? `unix://${address.slice('unix:'.length)}` : address;
}

/** Starts watching routes; never throws, retries forever until stopped. */
export function watchRoutes(options: RouteWatcherOptions): RouteWatcher {
  const { table, logger } = options;
  const minBackoff = options.minBackoffMs ?? 200;
  const maxBackoff = options.maxBackoffMs ?? 5_000;
  const client = new routing.RoutingServiceClient(
    grpcTarget(options.address),
    grpc.credentials.createInsecure(),
    { 'grpc.initial_reconnect_backoff_ms': minBackoff, 'grpc.max_reconnect_backoff_ms': maxBackoff },
  );
  let stopped = false;
  let call: grpc.ClientReadableStream<routing.WatchRoutesResponse> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let backoff = minBackoff;
  let live = false;
  let everSynced = false;
  const graceEnds = performance.now() + (options.startupGraceMs ?? 60_000);
  /** When the last warning of a stream that stays down was logged, and the attempts since. */
  let lastWarning = Number.NEGATIVE_INFINITY;
  let failures = 0;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((resolve) => {
    resolveSynced = resolve;
  });

  /** Opens one stream; on its end schedules the next attempt. */
  const open = () => {
    if (stopped) return;
    const stream = client.watchRoutes({ routerId: options.routerId }, internalMetadata(options.secret));
    call = stream;
    let sawSnapshot = false;
    stream.on('data', (msg: routing.WatchRoutesResponse) => {
      if (!sawSnapshot) {
        // A change before the first snapshot of a stream would apply to a stale table: skip it.
        if (msg.update?.$case !== 'snapshot') return;
        sawSnapshot = true;
        live = true;
        everSynced = true;
        failures = 0;
        lastWarning = Number.NEGATIVE_INFINITY;
        backoff = minBackoff;
        logger.info({ routes: msg.update.value.routes.length }, 'route stream synchronised');
        resolveSynced();
      }
      table.update(msg);
    });
    const retry = (err?: Error) => {
      if (call !== stream) return;
      call = undefined;
      live = false;
      if (stopped) return;
      failures++;
      const fields = {
        err: err?.message,
        attempts: failures,
        retryInMs: backoff,
        routes: table.routes().length,
      };
      const now = performance.now();
      // A refused secret does not mend itself: said at once, grace or not.
      const refused = (err as grpc.ServiceError | undefined)?.code === grpc.status.UNAUTHENTICATED;
      if (!everSynced && now < graceEnds && !refused)
        logger.debug(fields, 'waiting for the route stream (Pomegrenade starting)');
      else if (now - lastWarning >= WARN_EVERY_MS) {
        lastWarning = now;
        logger.warn(fields, streamDownMessage(everSynced, refused));
      }
      timer = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    };
    stream.on('error', (err) => retry(err));
    stream.on('end', () => retry());
  };
  open();

  return {
    synced,
    connected: () => live,
    report: (request) =>
      new Promise<void>((resolve, reject) => {
        client.reportRouterStats(
          request,
          internalMetadata(options.secret),
          { deadline: Date.now() + 5_000 },
          (err) => (err ? reject(err) : resolve()),
        );
      }),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      call?.cancel();
      call = undefined;
      client.close();
    },
  };
}
