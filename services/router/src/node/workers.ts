// The node plane on several cores: this process (the router's) accepts on the listening sockets and
// hands each new connection, still unread, to one of `config.workers` worker processes
// (worker.ts) in turn; the workers proxy. Node 20 has no SO_REUSEPORT, and sharing the listening
// socket leaves the kernel to wake whichever process polls first (one can take nearly all of a
// burst of new connections), so the handing out is done here, round-robin.
//
// Invariants:
// - A connection is served whole by the worker it was handed to (its requests, upgrades,
//   timeouts); the primary never reads from it (`pauseOnConnect`).
// - Every worker gets the whole route table on start and after every change.
// - Counters are made in the workers and merged here every FLUSH_MS (and when a worker stops), so
//   /stats and the reports to Pomegrenade stay this process's, as with one process.
// - Workers append their access-log lines to the same file themselves (O_APPEND, whole lines per
//   write); this process rotates it when full and tells them to open it again.
// - A worker that dies is started again (with back-off); the connections it was serving are lost,
//   those it never confirmed and new ones go to the other workers meanwhile. One that stops taking
//   connections gets no more after HANDOFF_SLOW_MS and is killed after HANDOFF_DEAD_MS.
import { type ChildProcess, fork } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouterConfig } from '../config.js';
import type { DataPlane, DataPlaneContext, Listening } from '../dataplane.js';
import type { RouteEntry, RouteTable } from '../routes.js';
import type { ProjectCounters } from '../stats.js';
import type { ListenerKind } from './plane.js';

/** What a worker is told. */
export type ToWorker =
  | { t: 'init'; config: RouterConfig; ports: Listening; routes: RouteEntry[] }
  | { t: 'routes'; routes: RouteEntry[] }
  | { t: 'conn'; kind: ListenerKind; id: number }
  /** The access log was rotated: open it again by name. */
  | { t: 'reopen' }
  | { t: 'stop' };

/** What a worker tells. */
export type FromWorker =
  | { t: 'ready' }
  /** Connection `id` arrived: the primary closes its copy. */
  | { t: 'got'; id: number }
  | { t: 'stats'; counters: Array<[string, ProjectCounters]> }
  | { t: 'log'; line: string };

/** How often a worker hands over its counts. */
export const FLUSH_MS = 100;
/** Connections held while no worker can take one (start-up, restarts, all behind); more are refused. */
const MAX_QUEUED = 1024;
/** How often the access log's size and the workers' hand-offs are checked. */
const ROTATE_CHECK_MS = 1_000;
/** A worker that has not said ready by then is killed (and started again). */
const READY_TIMEOUT_MS = 15_000;
/** A worker with this many connections not yet confirmed gets no more until it catches up… */
const MAX_UNCONFIRMED = 256;
/** …nor one whose oldest unconfirmed connection is this old (a stopped or spinning worker)… */
const HANDOFF_SLOW_MS = 2_000;
/** …and it is killed after this long, its connections handed to the others. */
const HANDOFF_DEAD_MS = 10_000;
/** Back-off of restarts after a worker died: doubles from the first to the last. */
const RESTART_DELAY_MS = [100, 5_000] as const;

/**
 * The worker's entry point: the built worker.js next to this module. (Under the test runner this
 * module is the TypeScript source; the worker still runs from the build: `npm run build`.)
 */
export function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'worker.js');
  return path.resolve(path.dirname(here), '..', '..', 'dist', 'node', 'worker.js');
}

/** One worker process and what the primary knows of it. */
interface Slot {
  index: number;
  child: ChildProcess | undefined;
  ready: boolean;
  /** Deaths in a row without serving (for the restart back-off). */
  failures: number;
  /** Connections sent to it that it has not yet said it has (see dispatch), by id, oldest first. */
  unconfirmed: Map<number, [ListenerKind, net.Socket, number]>;
  restart: NodeJS.Timeout | undefined;
}

/** Binds a listener that does not read what it accepts. */
function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** The config a worker gets: the router's, without the internal secret (workers don't call out). */
function workerConfig(config: RouterConfig): RouterConfig {
  const { internalSecret: _secret, ...rest } = config;
  return { ...rest, workers: 1 };
}

/** Creates the node plane served by worker processes. */
export function createWorkerPlane(ctx: DataPlaneContext): DataPlane {
  const { config, logger } = ctx;
  let listening: Listening = { port: config.port };
  const acceptors: Array<{ kind: ListenerKind; server: net.Server }> = [];
  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({
    index,
    child: undefined,
    ready: false,
    failures: 0,
    unconfirmed: new Map(),
    restart: undefined,
  }));
  const queued: Array<[ListenerKind, net.Socket]> = [];
  let next = 0;
  let connectionIds = 0;
  let stopping = false;
  let routes: RouteEntry[] = ctx.table.routes();
  let rotation: NodeJS.Timeout | undefined;
  /** Settles start(): every worker ready once, or the first that could not start. */
  const firstReady = new Map<Slot, { resolve: () => void; reject: (err: Error) => void }>();

  const send = (slot: Slot, message: ToWorker): void => {
    if (slot.child?.connected) slot.child.send(message);
  };

  /** Re-logs a worker's log line through this process's logger. */
  const relog = (slot: Slot, line: string): void => {
    try {
      const { level, msg, time: _time, pid, hostname: _host, service: _service, ...rest } = JSON.parse(line);
      const label = logger.levels.labels[level] ?? 'info';
      (logger[label as 'info'] ?? logger.info).call(
        logger,
        { ...rest, worker: slot.index, workerPid: pid },
        msg,
      );
    } catch {
      logger.warn({ worker: slot.index }, 'unreadable log line from a router worker');
    }
  };

  /** How long the oldest connection sent to `slot` has waited for its 'got' (0: none waiting). */
  const oldestWait = (slot: Slot, now: number): number => {
    for (const [, , sentAt] of slot.unconfirmed.values()) return now - sentAt;
    return 0;
  };

  /** Whether `slot` can take a connection now. */
  const available = (slot: Slot, now: number): boolean =>
    slot.ready &&
    slot.child?.connected === true &&
    slot.unconfirmed.size < MAX_UNCONFIRMED &&
    oldestWait(slot, now) < HANDOFF_SLOW_MS;

  /** Hands held connections to workers while some can take them. */
  const drainQueue = (): void => {
    const now = Date.now();
    while (queued.length > 0 && !stopping && slots.some((slot) => available(slot, now))) {
      const [kind, socket] = queued.shift() as [ListenerKind, net.Socket];
      if (!socket.destroyed) dispatch(kind, socket);
    }
  };

  const onMessage = (slot: Slot, message: FromWorker): void => {
    switch (message.t) {
      case 'ready':
        slot.ready = true;
        firstReady.get(slot)?.resolve();
        firstReady.delete(slot);
        drainQueue();
        return;
      case 'got': {
        const entry = slot.unconfirmed.get(message.id);
        slot.unconfirmed.delete(message.id);
        entry?.[1].destroy();
        if (queued.length > 0) drainQueue();
        return;
      }
      case 'stats':
        // A worker that sends counts has served: its next death restarts it without delay.
        slot.failures = 0;
        for (const [key, counters] of message.counters) ctx.stats.merge(key, counters);
        return;
      case 'log':
        relog(slot, message.line);
    }
  };

  const start = (slot: Slot): void => {
    slot.restart = undefined;
    const child = fork(workerScript(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    slot.child = child;
    slot.ready = false;
    const readyTimer = setTimeout(() => {
      logger.error(
        { worker: slot.index },
        `router worker not ready after ${READY_TIMEOUT_MS} ms; killing it`,
      );
      child.kill('SIGKILL');
    }, READY_TIMEOUT_MS);
    child.on('message', (m: FromWorker) => {
      if (m.t === 'ready') clearTimeout(readyTimer);
      onMessage(slot, m);
    });
    child.on('error', (err) => logger.error({ worker: slot.index, err: err.message }, 'router worker error'));
    child.once('exit', (code, signal) => {
      clearTimeout(readyTimer);
      const wasReady = slot.ready;
      slot.ready = false;
      slot.child = undefined;
      // What it never said it had (queued by Node behind an unacknowledged handle, or in the pipe
      // when it died) is still whole here: hand it to the others. After this turn's reads of the
      // IPC pipe: a 'got' it wrote before dying is already there and is read first.
      setImmediate(() => {
        const orphans = [...slot.unconfirmed.values()];
        slot.unconfirmed.clear();
        for (const [kind, socket] of orphans) if (!socket.destroyed) dispatch(kind, socket);
        drainQueue();
      });
      if (stopping) return;
      const pending = firstReady.get(slot);
      if (pending) {
        firstReady.delete(slot);
        pending.reject(
          new Error(
            `router worker ${slot.index} exited before it was ready (code ${code}, signal ${signal}); is the router built (npm run build)?`,
          ),
        );
        return;
      }
      const delay = Math.min(RESTART_DELAY_MS[1], RESTART_DELAY_MS[0] * 2 ** slot.failures);
      slot.failures++;
      logger.error(
        { worker: slot.index, code, signal, wasReady, restartInMs: delay },
        'router worker exited; its connections are lost, restarting it',
      );
      slot.restart = setTimeout(() => start(slot), delay);
    });
    child.send({ t: 'init', config: workerConfig(config), ports: listening, routes } satisfies ToWorker);
  };

  /**
   * Hands `socket` to the next ready worker (round-robin), or holds it until one is. The socket is
   * sent with keepOpen and closed here only once the worker says it has it: a worker that dies
   * first leaves the connection whole here, to go to another (Node itself would drop, and never
   * close, a handle queued for a dead child).
   */
  const dispatch = (kind: ListenerKind, socket: net.Socket): void => {
    const now = Date.now();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(next + i) % slots.length] as Slot;
      const child = slot.child;
      if (!child || !available(slot, now)) continue;
      next = (next + i + 1) % slots.length;
      const id = ++connectionIds;
      slot.unconfirmed.set(id, [kind, socket, now]);
      child.send({ t: 'conn', kind, id } satisfies ToWorker, socket, { keepOpen: true }, (err) => {
        // The worker went away between the check and the send: try the others.
        if (err && slot.unconfirmed.delete(id) && !socket.destroyed) {
          slot.ready = false;
          dispatch(kind, socket);
        }
      });
      return;
    }
    // No worker can take it now (starting, restarting, or every one behind): hold it, bounded.
    if (stopping || queued.length >= MAX_QUEUED) return void socket.destroy();
    queued.push([kind, socket]);
  };

  /** Kills a worker that has left a connection unconfirmed for HANDOFF_DEAD_MS (see `exit`). */
  const watchdog = (): void => {
    const now = Date.now();
    for (const slot of slots) {
      if (slot.child && oldestWait(slot, now) >= HANDOFF_DEAD_MS) {
        logger.error(
          { worker: slot.index, waiting: slot.unconfirmed.size },
          `router worker took no connection for ${HANDOFF_DEAD_MS} ms; killing it`,
        );
        slot.child.kill('SIGKILL');
      }
    }
    if (queued.length > 0) drainQueue();
  };

  const acceptor = (kind: ListenerKind): net.Server => {
    const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) =>
      dispatch(kind, socket),
    );
    acceptors.push({ kind, server });
    return server;
  };

  return {
    kind: 'node',
    async start(): Promise<Listening> {
      const port = await listen(acceptor('http'), config.listenHost, config.port);
      listening = { port };
      if (config.tlsPort !== undefined)
        listening = { port, tlsPort: await listen(acceptor('https'), config.listenHost, config.tlsPort) };
      try {
        await Promise.all(
          slots.map(
            (slot) =>
              new Promise<void>((resolve, reject) => {
                firstReady.set(slot, { resolve, reject });
                start(slot);
              }),
          ),
        );
      } catch (err) {
        await this.stop();
        throw err;
      }
      rotation = setInterval(() => {
        if (ctx.stats.rotateAccessLogIfFull()) for (const slot of slots) send(slot, { t: 'reopen' });
        watchdog();
      }, ROTATE_CHECK_MS);
      rotation.unref();
      logger.debug({ workers: slots.length }, 'router workers ready');
      return listening;
    },
    sync(table: RouteTable): void {
      routes = table.routes();
      for (const slot of slots) send(slot, { t: 'routes', routes });
    },
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(rotation);
      // Not awaited before the workers stop: a server whose connections were handed to children
      // only reports closed once those connections have (node tracks them across the IPC channel).
      const closed = acceptors
        .filter(({ server }) => server.listening)
        .map(({ server }) => new Promise((resolve) => server.close(resolve)));
      for (const [, socket] of queued.splice(0)) socket.destroy();
      await Promise.all(
        slots.map(async (slot) => {
          clearTimeout(slot.restart);
          const child = slot.child;
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          // 'close': exited, and its last messages (the final counts) read.
          const exited = new Promise((resolve) => child.once('close', resolve));
          // A worker drains its connections (drainMs), hands over its last counts and exits.
          send(slot, { t: 'stop' });
          const kill = setTimeout(() => child.kill('SIGKILL'), config.timeouts.drainMs + 2_000);
          await exited;
          clearTimeout(kill);
        }),
      );
      await Promise.all(closed);
    },
  };
}
