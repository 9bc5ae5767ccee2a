// A worker process of the node plane (started by workers.ts): serves the connections its primary
// hands it with the same request handling as the in-process plane (plane.ts: the fast path,
// node:http, tunnels, pages), from a copy of the route table the primary keeps current. It appends
// its access-log lines to the shared file itself; its counts go to the primary every FLUSH_MS, its
// log lines as they come.
import type net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@paastech/kit';
import { AccessLogWriter, accessLogPath } from '../accesslog.js';
import type { RouterConfig } from '../config.js';
import { RouteTable } from '../routes.js';
import { TrafficStats } from '../stats.js';
import { createNodeServing, type NodeServing } from './plane.js';
import { FLUSH_MS, type FromWorker, type ToWorker } from './workers.js';

const tell = (message: FromWorker, done?: () => void): void => {
  if (process.connected) process.send?.(message, undefined, {}, done);
  else done?.();
};

let serving: NodeServing | undefined;
let config: RouterConfig | undefined;
let stopping = false;
const table = new RouteTable();
/** This worker's writer of the shared access log (rotated by the primary, which says 'reopen'). */
let accessLog: AccessLogWriter | undefined;
const stats = new TrafficStats({
  write: (r) => accessLog?.write(r),
  writeLines: () => undefined,
});

/** Hands the counts made since the last flush to the primary. */
function flush(done?: () => void): void {
  const counters = stats.takeWindow();
  if (counters.length > 0) tell({ t: 'stats', counters }, done);
  else done?.();
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await serving?.drainAccepted(config?.timeouts.drainMs ?? 0);
  accessLog?.close();
  flush(() => process.exit(0));
}

process.on('message', (message: ToWorker, handle: unknown) => {
  switch (message.t) {
    case 'init': {
      const c = message.config;
      config = c;
      const logger = createLogger('router', {
        level: c.log.level,
        format: 'json',
        destination: new Writable({
          write(chunk: Buffer, _encoding, callback) {
            tell({ t: 'log', line: chunk.toString() });
            callback();
          },
        }),
      });
      // Rotation is the primary's (maxBytes: never here).
      accessLog = new AccessLogWriter(
        accessLogPath(c.dataDir),
        (err, droppedLines) =>
          logger.warn(
            { err: err.message, droppedLines },
            'cannot write the access log; its lines are dropped',
          ),
        Number.POSITIVE_INFINITY,
      );
      const ports = message.ports;
      serving = createNodeServing({ config: c, table, stats, logger }, () => ports);
      // node:http starts its header and request timeout checks when a server starts listening;
      // these servers never listen (the primary does), so they are started here.
      serving.servers.http.emit('listening');
      serving.servers.https?.emit('listening');
      const s = serving;
      table.onChange((t) => s.sync(t));
      table.load(message.routes);
      setInterval(() => flush(), FLUSH_MS).unref();
      tell({ t: 'ready' });
      return;
    }
    case 'routes':
      table.load(message.routes);
      return;
    case 'conn':
      if (serving && !stopping && handle) serving.accept(message.kind, handle as net.Socket);
      else (handle as net.Socket | undefined)?.destroy();
      // The primary closes its copy of the connection now (or, on stop, it closes for good).
      tell({ t: 'got', id: message.id });
      return;
    case 'reopen':
      accessLog?.reopen();
      return;
    case 'stop':
      void stop();
  }
});

// The primary is gone (crashed or killed): nobody hands out connections or reads counts any more.
process.on('disconnect', () => {
  if (!stopping) process.exit(0);
});
