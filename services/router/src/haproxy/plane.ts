// The `haproxy` data plane: the router writes the configuration of `PAASTECH_ROUTER_WORKERS`
// HAProxy processes of one thread each (one per CPU by default, all bound to the port with
// SO_REUSEPORT, as nginx runs a worker process per CPU), supervises them (master-worker, in the
// foreground) and changes routes at runtime through each one's Runtime API.
//
// Invariants: routes change without a reload — hosts move through atomically committed map
// versions, instances are added, readied and put in maintenance (draining: no new requests,
// in-flight ones finish) with `add/set/del server`; a reload (SIGUSR2, seamless) happens only when
// every slot backend is taken. Every process has the same slots and maps; each has its own
// servers (a drained one is deleted from each once its connections there are done), socket, ring
// file and request-id prefix, and a crashed one restarts alone, on the current table. The files on
// disk always describe the current state, so a crashed HAProxy restarts into it. No HAProxy
// outlives the router: stop() ends them, and stale ones left by a killed router (found by their
// configuration file) are ended at start.
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
  type HaproxyProcessPaths,
  haproxyCfg,
  haproxyPaths,
  isProcessConfig,
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

/** One slot backend (the same in every process): the project it serves, if any. */
interface Slot {
  name: string;
  projectId: string | undefined;
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

/** True when `pid` is a live haproxy process started with a configuration file of the plane in `dir`. */
function isOurHaproxy(pid: number, dir: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.endsWith('haproxy')) && cmdline.some((a) => isProcessConfig(a, dir));
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

/** One HAProxy process of the plane (a master and its worker): `config.workers` of them. */
interface Proc {
  index: number;
  files: HaproxyProcessPaths;
  api: RuntimeApi;
  child: ChildProcess | undefined;
  /** True once it served once: only then is an exit a crash to recover from. */
  started: boolean;
  restartDelay: number;
  /** Each map's text as this process has it: a route change replaces only maps that differ. */
  loaded: Map<string, string>;
  /** Its servers: by slot name, each instance address and its state. */
  servers: Map<string, Map<string, 'ready' | 'maint'>>;
  /** The request-id prefix of its start or reload last (see CfgInput.requestIdPrefix). */
  requestIdPrefix: string;
  /** The ring file of its start or reload last (undefined: its ring is in memory). */
  ringFile: string | undefined;
  ring: RingFileFollower | undefined;
}

/** Starts the haproxy data plane. */
export function createHaproxyPlane(ctx: DataPlaneContext): DataPlane {
  const { config, logger } = ctx;
  const paths: HaproxyPaths = haproxyPaths(config.dataDir);
  const procs: Proc[] = Array.from({ length: Math.max(1, config.workers) }, (_, index) => {
    const files = paths.process(index);
    return {
      index,
      files,
      api: new RuntimeApi(files.socket),
      child: undefined,
      started: false,
      restartDelay: 200,
      loaded: new Map(),
      servers: new Map(),
      requestIdPrefix: randomBytes(5).toString('hex'),
      ringFile: undefined,
      ring: undefined,
    };
  });
  /** What log lines say of a process (nothing when there is one). */
  const who = (p: Proc) => (procs.length > 1 ? { process: p.index } : {});
  const slots: Slot[] = [];
  let port = config.port;
  let tlsPort = config.tlsPort;
  let stopping = false;
  let syncing: Promise<void> | undefined;
  let dirty = false;
  /**
   * The one lane every change of HAProxy's servers goes through (apply, sweep, restarts). Interleaved,
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
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweepQueued = false;
  let certsWatcher: fs.FSWatcher | undefined;
  let certsTimer: NodeJS.Timeout | undefined;

  /** The servers `p` has in slot `s` (made empty on first use). */
  const serversOf = (p: Proc, s: Slot) => {
    const servers = p.servers.get(s.name) ?? new Map<string, 'ready' | 'maint'>();
    p.servers.set(s.name, servers);
    return servers;
  };

  /** Adds empty slots up to `count`. */
  const growSlots = (count: number) => {
    for (let i = slots.length; i < count; i++) slots.push({ name: `s${i}`, projectId: undefined });
  };

  /** The slot serving `projectId`, if any. */
  const slotOf = (projectId: string) => slots.find((s) => s.projectId === projectId)?.name;

  /** Assigns slots to the projects with instances; false when the slots ran out. */
  const assignSlots = (routes: RouteEntry[]): boolean => {
    const live = new Set(routes.filter((r) => r.upstreams.length > 0).map((r) => r.projectId));
    for (const s of slots) if (s.projectId && !live.has(s.projectId)) s.projectId = undefined;
    // A free slot no process still drains servers of first.
    const drained = (s: Slot) => procs.every((p) => (p.servers.get(s.name)?.size ?? 0) === 0);
    for (const id of live) {
      if (slotOf(id)) continue;
      const free =
        slots.find((s) => s.projectId === undefined && drained(s)) ??
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

  /** Where the ring files go (ringdir.ts); undefined: none (rings in HAProxy's memory). */
  let ringDir: string | undefined;
  /**
   * The ring file of a process's next start or reload (ringdir.ts): in a directory checked again
   * first (made anew if it is no longer this router's), after removing files no worker's ring was
   * attached to (a start or reload that failed) — but those made for the other processes' starts;
   * undefined: the ring stays in HAProxy's memory.
   */
  const nextRingFile = (p: Proc): string | undefined => {
    if (ringDir === undefined || procs.some((q) => q.ring?.wantsFiles === false)) return undefined;
    if (!ringDirUsable(ringDir, paths.dir)) {
      logger.warn({ dir: ringDir }, 'the access-log ring directory is no longer ours; making another');
      ringDir = openRingDir(paths.dir, logger);
    }
    const keep = new Set<string>();
    for (const q of procs) {
      for (const f of q.ring?.files() ?? []) keep.add(f);
      if (q !== p && q.ringFile !== undefined) keep.add(q.ringFile);
    }
    removeRingFiles(ringDir, keep);
    return makeRingFile(ringDir, p.requestIdPrefix, ACCESS_RING_BYTES, logger);
  };

  /** Writes the files every process reads — the Lua script, pages and maps — for `routes`. */
  const writeShared = (routes: RouteEntry[]) => {
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
  };

  /**
   * Writes the configuration of `p` for its servers; `restart` when a start or reload of it
   * follows (a new worker: a new request-id prefix and ring file).
   */
  const writeConfig = (p: Proc, restart = false) => {
    if (restart) {
      p.requestIdPrefix = randomBytes(5).toString('hex');
      p.ringFile = nextRingFile(p);
    }
    writeChanged(
      p.files.config,
      haproxyCfg({
        config,
        paths,
        socket: p.files.socket,
        port,
        ...(tlsPort !== undefined ? { tlsPort } : {}),
        slots: slots.map((s) => ({ name: s.name, servers: [...(p.servers.get(s.name)?.keys() ?? [])] })),
        requestIdPrefix: p.requestIdPrefix,
        ...(p.ringFile !== undefined ? { ringFile: p.ringFile } : {}),
      }),
    );
  };

  /** Makes the servers of `p` exactly the routes' instances (before a start or reload of it). */
  const resetServers = (p: Proc, routes: RouteEntry[]) => {
    const byId = new Map(routes.map((r) => [r.projectId, r]));
    p.servers = new Map(
      slots.map((s) => {
        const r = s.projectId ? byId.get(s.projectId) : undefined;
        return [s.name, new Map((r?.upstreams ?? []).map((a) => [a, 'ready' as const]))];
      }),
    );
  };

  /** The pids of live HAProxy processes (masters and workers) on a configuration of this plane. */
  const ours = () =>
    fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => !procs.some((p) => p.child?.pid === pid) && isOurHaproxy(pid, paths.dir));

  /** Ends every HAProxy (masters and workers) left running on our configuration by a killed router. */
  const killStale = async () => {
    const found = ours();
    if (found.length === 0) return;
    logger.warn({ pids: found }, 'stopping haproxy processes left running by a previous router');
    for (const pid of found) signal(pid, 'SIGTERM');
    const end = Date.now() + 3_000;
    while (ours().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const pid of ours()) signal(pid, 'SIGKILL');
    while (ours().length > 0) await new Promise((r) => setTimeout(r, 50));
  };

  /** Removes the files of processes this router no longer runs (a start with fewer workers). */
  const removeExtraFiles = () => {
    for (const name of fs.readdirSync(paths.dir)) {
      const index = Number(/^haproxy\.(\d+)\.(cfg|cfg\.tmp|sock|pid)$/.exec(name)?.[1] ?? -1);
      if (index >= procs.length) fs.rmSync(path.join(paths.dir, name), { force: true });
    }
  };

  const logSink = accessLogSink(ctx.table, ctx.stats);

  /** The pid of the worker of `p` answering on its Runtime API now (undefined when none answers). */
  const workerPid = async (p: Proc): Promise<number | undefined> => {
    const pid = /^Pid: (\d+)/m.exec(await p.api.send('show info').catch(() => ''))?.[1];
    return pid === undefined ? undefined : Number(pid);
  };

  /** Resolves once `p` answers on its socket (rejects if it exits first). */
  const waitReady = async (p: Proc, proc: ChildProcess, stderr: () => string, previousPid?: number) => {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`haproxy exited at start: ${stderr().trim().split('\n').slice(-5).join(' | ')}`);
      const pid = await workerPid(p);
      if (pid !== undefined && pid !== previousPid) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`haproxy did not become ready: ${stderr().trim().split('\n').slice(-5).join(' | ')}`);
  };

  /** Spawns `p` on the files written last, and waits until it serves. */
  const launch = async (p: Proc) => {
    if (stopping) return;
    // setpriv --pdeathsig: HAProxy is killed with the router even when the router is SIGKILLed.
    const argv = ['-W', '-db', '-f', p.files.config, '-p', p.files.pidFile];
    // The access log goes to the ring (ringfile.ts, ring.ts), not to stdout.
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    const proc = PDEATHSIG
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'haproxy', ...argv], { stdio })
      : spawn('haproxy', argv, { stdio });
    // HAProxy's own notices (stderr) are kept for the error message if it exits.
    p.child = proc;
    p.loaded = new Map(written);
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-8192);
    });
    proc.on('exit', (code, signal) => {
      if (p.child !== proc) return;
      p.child = undefined;
      if (stopping || !p.started) return;
      logger.error(
        { ...who(p), code, signal, stderr: stderr.trim().split('\n').slice(-3) },
        'haproxy exited; restarting it',
      );
      setTimeout(() => void exclusive(() => relaunch(p)), p.restartDelay);
      p.restartDelay = Math.min(p.restartDelay * 2, 5_000);
    });
    await waitReady(p, proc, () => stderr);
    await p.ring?.attach(p.ringFile);
    p.started = true;
    p.restartDelay = 200;
  };

  /**
   * Seamless reload of `p` (a new worker on the files written last; the old one finishes its
   * requests); a start when it is not running.
   */
  const reload = async (p: Proc) => {
    // Queued in the lane before a stop: nothing starts once the plane stops.
    if (stopping) return;
    const proc = p.child;
    if (!proc?.pid) return launch(p);
    const before = await workerPid(p);
    p.loaded = new Map(written);
    process.kill(proc.pid, 'SIGUSR2');
    try {
      await waitReady(p, proc, () => '', before);
    } catch (err) {
      // Which maps the worker answering now has is unknown: the next update replaces them all.
      p.loaded = new Map();
      throw err;
    }
    // The new worker's ring; the old worker's is read on until that worker has finished.
    if (before !== undefined) p.ring?.workerStopping(before);
    await p.ring?.attach(p.ringFile);
  };

  /**
   * Runs `work` on every process at once (each has its own socket and servers: processes take a
   * change within the same few milliseconds, not one after the other); rejects with the first
   * failure once all are done.
   */
  const eachProc = async (work: (p: Proc) => Promise<void>) => {
    const failed = (await Promise.allSettled(procs.map(work))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  /** Restarts every process on `routes`: files written anew, each reloaded (started if it is down). */
  const restartAll = async (routes: RouteEntry[]) => {
    if (stopping) return;
    for (const p of procs) resetServers(p, routes);
    writeShared(routes);
    for (const p of procs) writeConfig(p, true);
    await eachProc((p) => reload(p));
  };

  /** Brings every process to `routes` with a restart, with more slot backends if they ran out. */
  const restartAllWithSlots = async (routes: RouteEntry[]) => {
    while (!assignSlots(routes)) growSlots(slots.length * 2);
    await restartAll(routes);
    logger.info({ slots: slots.length }, 'haproxy reloaded with more slot backends');
  };

  /** Starts `p` again after it crashed, on the current table (in the lane). */
  const relaunch = async (p: Proc) => {
    if (stopping || p.child) return;
    try {
      const routes = ctx.table.routes();
      if (!assignSlots(routes)) return await restartAllWithSlots(routes);
      resetServers(p, routes);
      writeShared(routes);
      writeConfig(p, true);
      await launch(p);
      logger.info(who(p), 'haproxy restarted');
    } catch (err) {
      logger.error({ ...who(p), err: (err as Error).message }, 'haproxy restart failed');
    }
  };

  /** Replaces a map's content in `p` atomically (prepare, add in chunks, commit). */
  const replaceMap = async (p: Proc, file: string, entries: Array<[string, string]>) => {
    const answer = await p.api.must(`prepare map ${file}`);
    const version = /New version created: (\d+)/.exec(answer)?.[1];
    if (!version) throw new Error(`haproxy "prepare map": ${answer.trim()}`);
    let chunk = '';
    for (const [k, v] of entries) {
      const line = `${k} ${v}\n`;
      if (chunk.length + line.length > MAP_CHUNK_BYTES) {
        await p.api.must(`add map @${version} ${file}`, chunk.trimEnd());
        chunk = '';
      }
      chunk += line;
    }
    if (chunk) await p.api.must(`add map @${version} ${file}`, chunk.trimEnd());
    await p.api.must(`commit map @${version} ${file}`);
  };

  /** Adds an instance as a ready server of a slot of `p`. */
  const addServer = async (p: Proc, id: string, address: string) => {
    // HAProxy 2.6 gives a server added at runtime no idle-connection pool by default (every
    // request would open a new connection to the instance): ask for the pool a configured server
    // has.
    await p.api.must(`add server ${id} ${address} ${DYNAMIC_SERVER_POOL}`);
    await p.api.must(`enable server ${id}`);
  };

  /** Applies the table to `p` through its Runtime API: new servers, then maps, then draining. */
  const applyRuntime = async (p: Proc, routes: RouteEntry[], maps: ReturnType<typeof mapEntries>) => {
    const byId = new Map(routes.map((r) => [r.projectId, r]));
    const drains: Array<[Slot, string]> = [];
    for (const s of slots) {
      const servers = serversOf(p, s);
      const want = new Set((s.projectId ? byId.get(s.projectId)?.upstreams : undefined) ?? []);
      for (const a of want) {
        const state = servers.get(a);
        const id = `${s.name}/${serverName(a)}`;
        if (state === undefined) {
          await addServer(p, id, a);
        } else if (state === 'maint') {
          // Deleted meanwhile (by HAProxy or a sweep of an earlier run): add it anew, no reload.
          const command = `set server ${id} state ready`;
          const answer = await p.api.send(command);
          if (/No such server/i.test(answer)) await addServer(p, id, a);
          else p.api.check(command, answer);
        }
        servers.set(a, 'ready');
      }
      for (const [a, state] of servers) if (!want.has(a) && state === 'ready') drains.push([s, a]);
    }
    // Pages and redirects first, the host map last: a host never points at a page not there yet.
    const order = ['names', 'html503', 'json503', 'p502', 'p504', 'redirect', 'hosts'] as const;
    for (const key of order) {
      // The redirect map is only loaded (referenced by haproxy.cfg) when there is a TLS listener.
      if (key === 'redirect' && tlsPort === undefined) continue;
      // A switch of instances changes servers, not maps: only a map whose text changed is replaced
      // (each replacement is several Runtime API round trips on the way of a deploy to traffic).
      const text = mapFile(maps[key]);
      if (p.loaded.get(key) === text) continue;
      p.loaded.delete(key); // unknown until the commit went through
      await replaceMap(p, paths.maps[key], maps[key]);
      p.loaded.set(key, text);
    }
    for (const [s, a] of drains) {
      await p.api.must(`set server ${s.name}/${serverName(a)} state maint`);
      serversOf(p, s).set(a, 'maint');
    }
  };

  /** Deletes drained servers once their last connection has closed (in the lane, see exclusive). */
  const sweep = async () => {
    for (const p of procs) {
      // A process that is down has no servers to delete: it starts again with the table's.
      if (!p.child) continue;
      for (const [slot, servers] of p.servers) {
        for (const [a, state] of servers) {
          if (stopping) return;
          if (state !== 'maint') continue;
          const answer = await p.api.send(`del server ${slot}/${serverName(a)}`).catch(() => '');
          if (/Server deleted|No such server/i.test(answer)) servers.delete(a);
        }
      }
    }
  };

  /**
   * Brings every process to the current table through its Runtime API (all at once); a reload of
   * all only when the slots ran out, of one when its runtime update failed.
   */
  const apply = async () => {
    const routes = ctx.table.routes();
    if (!assignSlots(routes)) return restartAllWithSlots(routes);
    const maps = mapEntries(routes, slotOf, tlsPort !== undefined);
    await eachProc(async (p) => {
      // A process that is down starts again on the table of then (relaunch).
      if (!p.child) return;
      try {
        await applyRuntime(p, routes, maps);
      } catch (err) {
        logger.warn({ ...who(p), err: (err as Error).message }, 'runtime update failed; reloading haproxy');
        resetServers(p, routes);
        writeShared(routes);
        writeConfig(p, true);
        await reload(p);
      }
    });
    writeShared(routes);
    for (const p of procs) writeConfig(p);
  };

  /** Runs apply() for the latest table, coalescing bursts of changes. */
  const schedule = () => {
    if (stopping) return;
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
          if (stopping) return;
          logger.info('certificates changed; reloading haproxy');
          exclusive(() => restartAll(ctx.table.routes())).catch((err: Error) =>
            logger.error({ err: err.message }, 'haproxy reload failed'),
          );
        }, 500);
      });
    } catch (err) {
      logger.warn(
        { err: (err as Error).message, dir: config.certsDir },
        'cannot watch the certificates directory',
      );
    }
  };

  /**
   * Soft-stops `p` (SIGUSR1: requests in flight finish, up to the drain timeout; SIGKILL after a
   * failed start) and reads its ring a last time.
   */
  const stopProc = async (p: Proc, how: 'SIGUSR1' | 'SIGKILL' = 'SIGUSR1') => {
    const proc = p.child;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      // SIGUSR1: soft stop — stop listening, let requests in flight finish (hard-stop-after caps it).
      proc.kill(how);
      p.ring?.workerStopping();
      const timer = setTimeout(() => proc.kill('SIGKILL'), config.timeouts.drainMs + 2_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(p.files.pidFile, { force: true });
    }
    p.child = undefined;
    // The last read of the worker's ring, now that it has exited.
    p.ring?.close();
  };

  return {
    kind: 'haproxy',
    async start(): Promise<Listening> {
      fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      await killStale();
      removeExtraFiles();
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
      for (const p of procs) resetServers(p, routes);
      writeShared(routes);
      const ports = () => (tlsPort === undefined ? [port] : [port, tlsPort]);
      for (const p of procs) {
        p.ring = new RingFileFollower(
          logSink,
          () => workerPid(p),
          () => {
            const stream = new RingFollower(
              p.files.socket,
              ACCESS_RING,
              logSink,
              () => workerPid(p),
              ports,
              logger,
            );
            return {
              attach: () => stream.attach(),
              workerStopping: (pid) => stream.workerStopping(pid),
              close: () => stream.close(),
            };
          },
          logger,
        );
        writeConfig(p, true);
      }
      // All at once; if one cannot start, none is left running.
      try {
        await eachProc((p) => launch(p));
      } catch (err) {
        stopping = true;
        await Promise.all(procs.map((p) => stopProc(p, 'SIGKILL')));
        if (ringDir !== undefined) closeRingDir(ringDir, paths.dir, logger);
        throw err;
      }
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
      // What is queued in the lane (a restart, a reload after a certificate change, a sweep) sees
      // `stopping` and starts nothing: it is done before the processes are stopped.
      await exclusive(async () => undefined);
      await Promise.all(procs.map((p) => stopProc(p)));
      if (ringDir !== undefined) closeRingDir(ringDir, paths.dir, logger);
    },
  };
}
