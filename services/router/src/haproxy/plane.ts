// The `haproxy` data plane: the router writes haproxy.cfg, supervises one HAProxy process
// (master-worker, in the foreground) and changes routes at runtime through the Runtime API.
//
// Invariants: routes change without a reload — hosts move through atomically committed map
// versions, instances are added, readied and put in maintenance (draining: no new requests,
// in-flight ones finish) with `add/set/del server`; a reload (SIGUSR2, seamless) happens only when
// every slot backend is taken. The files on disk always describe the current state, so a crashed
// HAProxy restarts into it. No HAProxy outlives the router: stop() ends it, and a stale one left
// by a killed router (found through the pid file) is ended at start.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run } from '@paastech/kit';
import type { DataPlane, DataPlaneContext, Listening } from '../dataplane.js';
import type { RouteEntry, RouteTable } from '../routes.js';
import type { TrafficStats } from '../stats.js';
import {
  ACCESS_RING,
  ACCESS_RING_BYTES,
  type HaproxyPaths,
  haproxyCfg,
  haproxyPaths,
  luaScript,
  mapEntries,
  mapFile,
  pageFiles,
  serverName,
} from './config.js';
import {
  accessField,
  accessFieldIs,
  emptyAccessLine,
  RingFollower,
  type RingSink,
  scanAccessLine,
} from './ring.js';
import {
  closeRingDir,
  makeRingFile,
  openRingDir,
  removeRingFiles,
  ringDirUsable,
  ringFilesSupported,
} from './ringdir.js';
import { RingFileFollower } from './ringfile.js';
import { RuntimeApi } from './runtime.js';

/** Slot backends created at first; doubled (with a reload) when they run out. */
const INITIAL_SLOTS = 16;
/** True when util-linux's setpriv can tie HAProxy's life to the router's. */
const PDEATHSIG = ['/usr/bin/setpriv', '/bin/setpriv'].some((f) => fs.existsSync(f));
/** Largest payload sent in one `add map` command (HAProxy's CLI buffer is tune.bufsize, 16 KiB). */
const MAP_CHUNK_BYTES = 8 * 1024;
/** Keep-alive pool settings of a configured server, which `add server` does not apply by itself. */
const DYNAMIC_SERVER_POOL = 'pool-max-conn -1 pool-purge-delay 5s';

/** One slot backend: the project it serves (if any) and its servers by address. */
interface Slot {
  name: string;
  projectId: string | undefined;
  servers: Map<string, 'ready' | 'maint'>;
}

/**
 * Where the ring streams hand HAProxy's access log: each line (ACCESS_LOG_FORMAT in config.ts) is
 * counted, then the lines go to access.log as HAProxy wrote them. Lines of one host follow each
 * other by the thousand: the route of the last host is kept (until the table changes), so a line
 * costs no string and no map lookup.
 */
export function accessLogSink(table: RouteTable, stats: TrafficStats): RingSink {
  const l = emptyAccessLine();
  let lastHost: string | undefined;
  let lastVersion = -1;
  let route: RouteEntry | undefined;
  return {
    line(buf, start, end) {
      if (!scanAccessLine(buf, start, end, l)) return false;
      if (
        lastVersion !== table.version ||
        lastHost === undefined ||
        l.hostEscaped ||
        !accessFieldIs(buf, l, 'host', lastHost)
      ) {
        lastHost = accessField(buf, l, 'host');
        lastVersion = table.version;
        route = table.lookup(lastHost);
      }
      const failed = l.status === 502 || l.status === 503 || l.status === 504;
      stats.count(
        route?.projectId ?? '',
        route?.projectName ?? '',
        l.status,
        l.bytesIn,
        l.bytes,
        Math.max(l.durationMs, 0),
        // Only a 502/503/504 can be "made by the router" (the test is skipped for every other line):
        // no server tried (the unavailable page, the frontend's own), or HAProxy ended the request
        // on the server side (its 502/503/504 pages after a failed connection, reset or timeout).
        failed &&
          (accessFieldIs(buf, l, 'upstream', '<NOSRV>') || /^[sSP]/.test(accessField(buf, l, 'termination'))),
      );
      return true;
    },
    lines: (bytes, count) => stats.writeLines(bytes, count),
  };
}

/** Asks the OS for a free TCP port on `host` (HAProxy cannot report a port it chose itself). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Writes a file atomically (temp file + rename), so HAProxy never reads half of it. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Sends `sig` to `pid`; a process that is already gone is fine. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** True when `pid` is a live haproxy process started with our configuration file. */
function isOurHaproxy(pid: number, configFile: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.endsWith('haproxy')) && cmdline.includes(configFile);
  } catch {
    return false;
  }
}

/** Makes the self-signed fallback certificate HAProxy needs before any host has one. */
async function ensureFallbackCert(file: string): Promise<void> {
  if (fs.existsSync(file)) return;
  const key = `${file}.key.tmp`;
  const crt = `${file}.crt.tmp`;
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-subj',
    '/CN=paastech-router',
    '-days',
    '3650',
  ]);
  writeAtomic(file, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  fs.rmSync(key, { force: true });
  fs.rmSync(crt, { force: true });
}

/** Starts the haproxy data plane. */
export function createHaproxyPlane(ctx: DataPlaneContext): DataPlane {
  const { config, logger } = ctx;
  const paths: HaproxyPaths = haproxyPaths(config.dataDir);
  const api = new RuntimeApi(paths.socket);
  const slots: Slot[] = [];
  let port = config.port;
  let tlsPort = config.tlsPort;
  let child: ChildProcess | undefined;
  let stopping = false;
  /** True once HAProxy served once: only then is an exit a crash to recover from. */
  let started = false;
  let restartDelay = 200;
  let syncing: Promise<void> | undefined;
  let dirty = false;
  /**
   * The one lane every change of HAProxy's servers goes through (apply and sweep). Interleaved,
   * a sweep's `del server` of an instance in maintenance could run between apply reading that
   * instance as "maint" and its `set server … state ready` — "No such server", a failed runtime
   * update and a reload, and a reload resets the client keep-alive connections of the old worker
   * (the requests lost while instances were switched under load).
   */
  let lane: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = lane.then(work, work);
    lane = next.catch(() => undefined);
    return next;
  };
  /** Each map's text as written to its file last (what a start or reload of HAProxy loads). */
  const written = new Map<string, string>();
  /** Each map's text as the running HAProxy has it: a route change replaces only maps that differ. */
  let loaded = new Map<string, string>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweepQueued = false;
  let certsWatcher: fs.FSWatcher | undefined;
  let ring: RingFileFollower | undefined;
  let certsTimer: NodeJS.Timeout | undefined;

  /** Adds empty slots up to `count`. */
  const growSlots = (count: number) => {
    for (let i = slots.length; i < count; i++)
      slots.push({ name: `s${i}`, projectId: undefined, servers: new Map() });
  };

  /** The slot serving `projectId`, if any. */
  const slotOf = (projectId: string) => slots.find((s) => s.projectId === projectId)?.name;

  /** Assigns slots to the projects with instances; false when the slots ran out. */
  const assignSlots = (routes: RouteEntry[]): boolean => {
    const live = new Set(routes.filter((r) => r.upstreams.length > 0).map((r) => r.projectId));
    for (const s of slots) if (s.projectId && !live.has(s.projectId)) s.projectId = undefined;
    for (const id of live) {
      if (slotOf(id)) continue;
      const free =
        slots.find((s) => s.projectId === undefined && s.servers.size === 0) ??
        slots.find((s) => s.projectId === undefined);
      if (!free) return false;
      free.projectId = id;
    }
    return true;
  };

  /** Each file's text as this router wrote it last: an unchanged file is not written again. */
  const onDisk = new Map<string, string>();
  /**
   * writeAtomic, skipped when this router already wrote exactly `text` there. A deploy changes
   * haproxy.cfg's servers only, and every file rewritten is a blocking write and rename (ext4 flushes
   * a file renamed over another) on the event loop the rest of the platform shares.
   */
  const writeChanged = (file: string, text: string) => {
    if (onDisk.get(file) === text && fs.existsSync(file)) return;
    onDisk.delete(file);
    writeAtomic(file, text);
    onDisk.set(file, text);
  };

  /** The request-id prefix of the HAProxy started or reloaded last (see CfgInput.requestIdPrefix). */
  let requestIdPrefix = randomBytes(5).toString('hex');
  /** Where the ring files go (ringdir.ts); undefined: none (rings in HAProxy's memory). */
  let ringDir: string | undefined;
  /** The ring file of the HAProxy started or reloaded last (undefined: its ring is in memory). */
  let ringFile: string | undefined;
  /**
   * The ring file of the next start or reload (ringdir.ts): in a directory checked again first
   * (made anew if it is no longer this router's), after removing files no worker's ring was
   * attached to (a start or reload that failed); undefined: the ring stays in HAProxy's memory.
   */
  const nextRingFile = (): string | undefined => {
    if (ringDir === undefined || ring?.wantsFiles === false) return undefined;
    if (!ringDirUsable(ringDir, paths.dir)) {
      logger.warn({ dir: ringDir }, 'the access-log ring directory is no longer ours; making another');
      ringDir = openRingDir(paths.dir, logger);
    }
    removeRingFiles(ringDir, ring?.files() ?? new Set());
    return makeRingFile(ringDir, requestIdPrefix, ACCESS_RING_BYTES, logger);
  };

  /**
   * Writes haproxy.cfg, the Lua script, pages and maps for the current state; `restart` when a
   * start or reload of HAProxy follows (a new worker: a new request-id prefix).
   */
  const writeFiles = (routes: RouteEntry[], restart = false) => {
    if (restart) {
      requestIdPrefix = randomBytes(5).toString('hex');
      ringFile = nextRingFile();
    }
    fs.mkdirSync(path.join(paths.dir, 'maps'), { recursive: true, mode: 0o700 });
    fs.mkdirSync(paths.pages, { recursive: true, mode: 0o700 });
    for (const [name, text] of Object.entries(pageFiles(config, paths, port)))
      writeChanged(path.join(paths.pages, name), text);
    writeChanged(paths.lua, luaScript());
    const maps = mapEntries(routes, slotOf, tlsPort !== undefined);
    for (const [key, entries] of Object.entries(maps)) {
      const text = mapFile(entries);
      writeChanged(paths.maps[key as keyof typeof maps], text);
      written.set(key, text);
    }
    writeChanged(
      paths.config,
      haproxyCfg({
        config,
        paths,
        port,
        ...(tlsPort !== undefined ? { tlsPort } : {}),
        slots: slots.map((s) => ({ name: s.name, servers: [...s.servers.keys()] })),
        requestIdPrefix,
        ...(ringFile !== undefined ? { ringFile } : {}),
      }),
    );
  };

  /** Makes the slots' server lists exactly the routes' instances (used before a (re)start). */
  const resetServers = (routes: RouteEntry[]) => {
    const byId = new Map(routes.map((r) => [r.projectId, r]));
    for (const s of slots) {
      const r = s.projectId ? byId.get(s.projectId) : undefined;
      s.servers = new Map((r?.upstreams ?? []).map((a) => [a, 'ready' as const]));
    }
  };

  /** Ends every HAProxy (master and workers) left running on our configuration by a killed router. */
  const killStale = async () => {
    const stale = () =>
      fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number)
        .filter((pid) => pid !== child?.pid && isOurHaproxy(pid, paths.config));
    const found = stale();
    if (found.length === 0) return;
    logger.warn({ pids: found }, 'stopping haproxy processes left running by a previous router');
    for (const pid of found) signal(pid, 'SIGTERM');
    const end = Date.now() + 3_000;
    while (stale().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const pid of stale()) signal(pid, 'SIGKILL');
    while (stale().length > 0) await new Promise((r) => setTimeout(r, 50));
  };

  const logSink = accessLogSink(ctx.table, ctx.stats);

  /** The pid of the worker answering on the Runtime API now (undefined when none answers). */
  const workerPid = async (): Promise<number | undefined> => {
    const pid = /^Pid: (\d+)/m.exec(await api.send('show info').catch(() => ''))?.[1];
    return pid === undefined ? undefined : Number(pid);
  };

  /** Resolves once HAProxy answers on its socket (rejects if it exits first). */
  const waitReady = async (proc: ChildProcess, stderr: () => string, previousPid?: number) => {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`haproxy exited at start: ${stderr().trim().split('\n').slice(-5).join(' | ')}`);
      const pid = await workerPid();
      if (pid !== undefined && pid !== previousPid) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`haproxy did not become ready: ${stderr().trim().split('\n').slice(-5).join(' | ')}`);
  };

  /** Spawns HAProxy on the files written last, and waits until it serves. */
  const launch = async () => {
    // setpriv --pdeathsig: HAProxy is killed with the router even when the router is SIGKILLed.
    const argv = ['-W', '-db', '-f', paths.config, '-p', paths.pidFile];
    // The access log goes to the ring (ringfile.ts, ring.ts), not to stdout.
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    const proc = PDEATHSIG
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'haproxy', ...argv], { stdio })
      : spawn('haproxy', argv, { stdio });
    // HAProxy's own notices (stderr) are kept for the error message if it exits.
    child = proc;
    loaded = new Map(written);
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-8192);
    });
    proc.on('exit', (code, signal) => {
      if (child !== proc) return;
      child = undefined;
      if (stopping || !started) return;
      logger.error(
        { code, signal, stderr: stderr.trim().split('\n').slice(-3) },
        'haproxy exited; restarting it',
      );
      setTimeout(() => void relaunch(), restartDelay);
      restartDelay = Math.min(restartDelay * 2, 5_000);
    });
    await waitReady(proc, () => stderr);
    await ring?.attach(ringFile);
    started = true;
    restartDelay = 200;
  };

  /** Restarts HAProxy after a crash, from the current table. */
  const relaunch = async () => {
    if (stopping) return;
    try {
      const routes = ctx.table.routes();
      while (!assignSlots(routes)) growSlots(slots.length * 2);
      resetServers(routes);
      writeFiles(routes, true);
      await launch();
      logger.info('haproxy restarted');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'haproxy restart failed');
    }
  };

  /** Seamless reload (new worker on the new files; the old one finishes its requests). */
  const reload = async () => {
    const proc = child;
    if (!proc?.pid) return relaunch();
    const before = await workerPid();
    loaded = new Map(written);
    process.kill(proc.pid, 'SIGUSR2');
    await waitReady(proc, () => '', before);
    // The new worker's ring; the old worker's is read on until that worker has finished.
    if (before !== undefined) ring?.workerStopping(before);
    await ring?.attach(ringFile);
    logger.info({ slots: slots.length }, 'haproxy reloaded with more slot backends');
  };

  /** Replaces a map's content atomically (prepare, add in chunks, commit). */
  const replaceMap = async (file: string, entries: Array<[string, string]>) => {
    const answer = await api.must(`prepare map ${file}`);
    const version = /New version created: (\d+)/.exec(answer)?.[1];
    if (!version) throw new Error(`haproxy "prepare map": ${answer.trim()}`);
    let chunk = '';
    for (const [k, v] of entries) {
      const line = `${k} ${v}\n`;
      if (chunk.length + line.length > MAP_CHUNK_BYTES) {
        await api.must(`add map @${version} ${file}`, chunk.trimEnd());
        chunk = '';
      }
      chunk += line;
    }
    if (chunk) await api.must(`add map @${version} ${file}`, chunk.trimEnd());
    await api.must(`commit map @${version} ${file}`);
  };

  /** Adds an instance as a ready server of a slot. */
  const addServer = async (id: string, address: string) => {
    // HAProxy 2.6 gives a server added at runtime no idle-connection pool by default (every
    // request would open a new connection to the instance): ask for the pool a configured server
    // has.
    await api.must(`add server ${id} ${address} ${DYNAMIC_SERVER_POOL}`);
    await api.must(`enable server ${id}`);
  };

  /** Applies the table through the Runtime API: new servers, then maps, then draining. */
  const applyRuntime = async (routes: RouteEntry[]) => {
    const byId = new Map(routes.map((r) => [r.projectId, r]));
    const drains: Array<[Slot, string]> = [];
    for (const s of slots) {
      const want = new Set((s.projectId ? byId.get(s.projectId)?.upstreams : undefined) ?? []);
      for (const a of want) {
        const state = s.servers.get(a);
        const id = `${s.name}/${serverName(a)}`;
        if (state === undefined) {
          await addServer(id, a);
        } else if (state === 'maint') {
          // Deleted meanwhile (by HAProxy or a sweep of an earlier run): add it anew, no reload.
          const command = `set server ${id} state ready`;
          const answer = await api.send(command);
          if (/No such server/i.test(answer)) await addServer(id, a);
          else api.check(command, answer);
        }
        s.servers.set(a, 'ready');
      }
      for (const [a, state] of s.servers) if (!want.has(a) && state === 'ready') drains.push([s, a]);
    }
    const maps = mapEntries(routes, slotOf, tlsPort !== undefined);
    // Pages and redirects first, the host map last: a host never points at a page not there yet.
    const order = ['names', 'html503', 'json503', 'p502', 'p504', 'redirect', 'hosts'] as const;
    for (const key of order) {
      // The redirect map is only loaded (referenced by haproxy.cfg) when there is a TLS listener.
      if (key === 'redirect' && tlsPort === undefined) continue;
      // A switch of instances changes servers, not maps: only a map whose text changed is replaced
      // (each replacement is several Runtime API round trips on the way of a deploy to traffic).
      const text = mapFile(maps[key]);
      if (loaded.get(key) === text) continue;
      loaded.delete(key); // unknown until the commit went through
      await replaceMap(paths.maps[key], maps[key]);
      loaded.set(key, text);
    }
    for (const [s, a] of drains) {
      await api.must(`set server ${s.name}/${serverName(a)} state maint`);
      s.servers.set(a, 'maint');
    }
  };

  /** Deletes drained servers once their last connection has closed (in the lane, see exclusive). */
  const sweep = async () => {
    if (stopping || !child) return;
    for (const s of slots) {
      for (const [a, state] of s.servers) {
        if (state !== 'maint') continue;
        const answer = await api.send(`del server ${s.name}/${serverName(a)}`).catch(() => '');
        if (/Server deleted|No such server/i.test(answer)) s.servers.delete(a);
      }
    }
  };

  /** Brings HAProxy to the current table; reloads only when the slots ran out. */
  const apply = async () => {
    const routes = ctx.table.routes();
    if (!assignSlots(routes)) {
      while (!assignSlots(routes)) growSlots(slots.length * 2);
      resetServers(routes);
      writeFiles(routes, true);
      await reload();
      return;
    }
    try {
      await applyRuntime(routes);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'runtime update failed; reloading haproxy');
      resetServers(routes);
      writeFiles(routes, true);
      await reload();
      return;
    }
    writeFiles(routes);
  };

  /** Runs apply() for the latest table, coalescing bursts of changes. */
  const schedule = () => {
    if (stopping || !child) return;
    if (syncing) {
      dirty = true;
      return;
    }
    syncing = (async () => {
      do {
        dirty = false;
        await exclusive(apply).catch((err: Error) =>
          logger.error({ err: err.message }, 'haproxy update failed'),
        );
      } while (dirty && !stopping);
      syncing = undefined;
    })();
  };

  /** HAProxy loads certificates at start: a changed certificates directory is worth a reload. */
  const watchCerts = () => {
    try {
      certsWatcher = fs.watch(config.certsDir, () => {
        clearTimeout(certsTimer);
        certsTimer = setTimeout(() => {
          if (stopping || !child) return;
          logger.info('certificates changed; reloading haproxy');
          exclusive(async () => {
            writeFiles(ctx.table.routes(), true);
            await reload();
          }).catch((err: Error) => logger.error({ err: err.message }, 'haproxy reload failed'));
        }, 500);
      });
    } catch (err) {
      logger.warn(
        { err: (err as Error).message, dir: config.certsDir },
        'cannot watch the certificates directory',
      );
    }
  };

  return {
    kind: 'haproxy',
    async start(): Promise<Listening> {
      fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      await killStale();
      ringDir = ringFilesSupported() ? openRingDir(paths.dir, logger) : undefined;
      if (port === 0) port = await freePort(config.listenHost);
      if (tlsPort === 0) tlsPort = await freePort(config.listenHost);
      if (tlsPort !== undefined) {
        fs.mkdirSync(config.certsDir, { recursive: true, mode: 0o700 });
        await ensureFallbackCert(paths.fallbackCert);
      }
      growSlots(INITIAL_SLOTS);
      const routes = ctx.table.routes();
      while (!assignSlots(routes)) growSlots(slots.length * 2);
      resetServers(routes);
      writeFiles(routes, true);
      const ports = () => (tlsPort === undefined ? [port] : [port, tlsPort]);
      ring = new RingFileFollower(
        logSink,
        workerPid,
        () => {
          const stream = new RingFollower(paths.socket, ACCESS_RING, logSink, workerPid, ports, logger);
          return {
            attach: () => stream.attach(),
            workerStopping: (pid) => stream.workerStopping(pid),
            close: () => stream.close(),
          };
        },
        logger,
      );
      await launch();
      sweepTimer = setInterval(() => {
        // At most one sweep waits in the lane: a slow Runtime API must not pile sweeps up before apply.
        if (sweepQueued) return;
        sweepQueued = true;
        void exclusive(sweep).finally(() => {
          sweepQueued = false;
        });
      }, config.haproxySweepMs ?? 1_000);
      sweepTimer.unref();
      if (tlsPort !== undefined) watchCerts();
      return tlsPort === undefined ? { port } : { port, tlsPort };
    },
    sync(_table: RouteTable): void {
      schedule();
    },
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(sweepTimer);
      clearTimeout(certsTimer);
      certsWatcher?.close();
      await syncing;
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        ring?.close();
        if (ringDir !== undefined) closeRingDir(ringDir, paths.dir, logger);
        return;
      }
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      // SIGUSR1: soft stop — stop listening, let requests in flight finish (hard-stop-after caps it).
      proc.kill('SIGUSR1');
      ring?.workerStopping();
      const timer = setTimeout(() => proc.kill('SIGKILL'), config.timeouts.drainMs + 2_000);
      await exited;
      clearTimeout(timer);
      child = undefined;
      // The last read of the worker's ring, now that it has exited.
      ring?.close();
      if (ringDir !== undefined) closeRingDir(ringDir, paths.dir, logger);
      fs.rmSync(paths.pidFile, { force: true });
    },
  };
}
