// Router service: the HTTP edge in front of every application. Routes come from Pomegrenade's
// WatchRoutes stream into the route table; one of two data planes (`node` in-process, or an
// `haproxy` process driven through its Runtime API) serves them.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  closeHttp,
  createLogger,
  type Logger,
  listenHttpSocket,
  resolveInternalSecret,
  type ServiceHandle,
} from '@paastech/kit';
import { AccessLogWriter, accessLogPath } from './accesslog.js';
import type { RouterConfig } from './config.js';
import type { DataPlane, DataPlaneContext, Listening } from './dataplane.js';
import { createHaproxyPlane } from './haproxy/plane.js';
import { createNodePlane } from './node/plane.js';
import { RouteTable } from './routes.js';
import { TrafficStats } from './stats.js';
import { type RouteWatcher, watchRoutes } from './watch.js';

export { type Dataplane, haproxyAvailable, type RouterConfig, readRouterConfig } from './config.js';

/** The admin interface: health, counters and the current routes, on a Unix socket. */
function adminServer(
  table: RouteTable,
  stats: TrafficStats,
  watcher: () => RouteWatcher | undefined,
): http.Server {
  return http.createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    if (req.url === '/healthz')
      return json(200, { status: 'ok', routesSynced: watcher()?.connected() ?? false });
    if (req.url === '/stats') return json(200, stats.snapshot());
    if (req.url === '/routes') return json(200, { version: table.version, routes: table.routes() });
    json(404, { status: 404 });
  });
}

/** Creates the configured data plane. */
function createPlane(ctx: DataPlaneContext): DataPlane {
  return ctx.config.dataplane === 'haproxy' ? createHaproxyPlane(ctx) : createNodePlane(ctx);
}

/** Starts the router: the data plane, the route watch, and the admin interface on a socket. */
export function startRouter(
  config: RouterConfig,
  logger: Logger = createLogger('router', config.log),
): ServiceHandle {
  const table = new RouteTable();
  // The access log is a file (<data dir>/router/access.log) written in batches for both planes
  // (the haproxy plane's lines come from HAProxy's memory ring) — no logger call per request.
  const accessLog = new AccessLogWriter(accessLogPath(config.dataDir), (err, droppedLines) =>
    logger.warn({ err: err.message, droppedLines }, 'cannot write the access log; its lines are dropped'),
  );
  const stats = new TrafficStats(accessLog);
  const plane = createPlane({ config, table, stats, logger });
  let watcher: RouteWatcher | undefined;
  let listening: Listening = { port: config.port };
  let reportTimer: NodeJS.Timeout | undefined;
  const admin = adminServer(table, stats, () => watcher);
  table.onChange((t) => plane.sync(t));

  const ready = (async () => {
    listening = await plane.start();
    await fs.promises.mkdir(path.dirname(config.adminSocket), { recursive: true, mode: 0o700 });
    await fs.promises.rm(config.adminSocket, { force: true });
    await listenHttpSocket(admin, config.adminSocket);
    await fs.promises.chmod(config.adminSocket, 0o600);
    watcher = watchRoutes({
      address: config.pomegrenadeAddress,
      secret: resolveInternalSecret(config),
      routerId: config.routerId,
      table,
      logger,
    });
    reportTimer = setInterval(() => {
      watcher
        ?.report(stats.takeReport(config.routerId))
        .catch((err: Error) => logger.debug({ err: err.message }, 'traffic report not delivered'));
    }, config.reportIntervalMs);
    reportTimer.unref();
    // Which plane, and how many processes serve (node: 1 = in this process).
    const processes =
      plane.kind === 'haproxy'
        ? `${config.workers} HAProxy process${config.workers === 1 ? '' : 'es'}`
        : config.workers === 1
          ? 'in the router process'
          : `${config.workers} worker processes`;
    logger.info(
      { ...listening, dataplane: plane.kind, workers: config.workers },
      `router listening (data plane ${plane.kind}, ${processes})`,
    );
  })();

  return {
    name: 'router',
    ready,
    endpoints: () => [
      { label: 'apps', url: `http://<project>.${config.appsDomain}:${listening.port}/` },
      ...(listening.tlsPort !== undefined
        ? [{ label: 'apps over HTTPS', url: `https://<project>.${config.appsDomain}:${listening.tlsPort}/` }]
        : []),
      { label: 'router admin', url: `unix:${config.adminSocket}` },
    ],
    ports: () => ({
      http: listening.port,
      ...(listening.tlsPort !== undefined ? { https: listening.tlsPort } : {}),
    }),
    async stop() {
      clearInterval(reportTimer);
      watcher?.stop();
      await Promise.all([plane.stop(), closeHttp(admin)]);
      accessLog.close();
      await fs.promises.rm(config.adminSocket, { force: true });
      logger.info('router stopped');
    },
  };
}
