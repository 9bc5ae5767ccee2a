// The `node` data plane: in-process HTTP (and HTTPS with SNI) listeners proxying to instances.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { listenHttp } from '@paastech/kit';
import type { DataPlane, DataPlaneContext, Listening } from '../dataplane.js';
import type { RouteTable } from '../routes.js';
import { createFastPath, type FastPath } from './fast.js';
import { handleRequest, type ProxyContext } from './proxy.js';
import { handleUpgrade } from './tunnel.js';
import { Upstreams } from './upstreams.js';
import { createWorkerPlane } from './workers.js';

/** Server options shared by the HTTP and HTTPS listeners (slowloris and idle limits). */
function serverOptions(ctx: DataPlaneContext): http.ServerOptions {
  const t = ctx.config.timeouts;
  return {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.idleMs,
    // Header/request timeouts are only checked this often: keep it well under the headers timeout.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(t.headersMs / 2))),
    // Duplicate headers stay visible in rawHeaders, where the smuggling checks look.
    joinDuplicateHeaders: false,
    noDelay: true,
  };
}

/** Loads `<certsDir>/<host>.crt|.key` as a TLS context, or undefined when absent or invalid. */
function loadContext(certsDir: string, host: string): tls.SecureContext | undefined {
  if (!/^[a-z0-9.-]+$/.test(host) || host.includes('..')) return undefined;
  try {
    return tls.createSecureContext({
      cert: fs.readFileSync(path.join(certsDir, `${host}.crt`)),
      key: fs.readFileSync(path.join(certsDir, `${host}.key`)),
    });
  } catch {
    return undefined;
  }
}

/**
 * Stops accepting and closes each connection as soon as it has no request in flight (keep-alive
 * connections going idle later are closed then, not after the idle timeout); whatever is still
 * busy after `graceMs` is cut. Covers the fast path's connections too.
 */
function drainServer(server: http.Server, fast: FastPath | undefined, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => {
      server.closeAllConnections();
      fast?.destroyAll();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
    fast?.closeIdle();
  });
}

/**
 * Puts the fast path (fast.ts) in front of node:http on a plain-HTTP server: every new connection
 * goes to it first, and it hands a connection to node:http's own connection handler as soon as a
 * request needs more than the fast path does.
 */
function withFastPath(server: http.Server, pc: ProxyContext): FastPath {
  const [httpConnection] = server.listeners('connection') as Array<(socket: net.Socket) => void>;
  if (!httpConnection) throw new Error('node:http registered no connection handler');
  server.removeListener('connection', httpConnection);
  const fast = createFastPath(pc, (socket) => httpConnection.call(server, socket));
  server.on('connection', (socket: net.Socket) => fast.accept(socket));
  return fast;
}

/** Which listener a connection arrived on. */
export type ListenerKind = 'http' | 'https';

/**
 * The serving half of the node plane — the request handling of the HTTP (and HTTPS) listener,
 * without the listening: an in-process plane binds these servers itself, a worker process
 * (worker.ts) is handed the connections its primary accepted.
 */
export interface NodeServing {
  servers: { http: http.Server; https?: http.Server };
  /** Serves a connection accepted elsewhere (a worker's); its bytes must all still be unread. */
  accept(kind: ListenerKind, socket: net.Socket): void;
  sync(table: RouteTable): void;
  /**
   * Drains the connections handed to accept(): each closes when it has no request in flight;
   * what is still busy after `graceMs` is cut. Then releases the pools.
   */
  drainAccepted(graceMs: number): Promise<void>;
  /** Stops the servers' own listeners the same way (in-process plane). */
  drainListening(graceMs: number): Promise<void>;
}

/** Creates the request handling of the node plane; `ports` are those the listeners are reachable on. */
export function createNodeServing(
  ctx: DataPlaneContext,
  ports: () => { port: number; tlsPort?: number },
): NodeServing {
  const upstreams = new Upstreams();
  const tunnels = new Set<net.Socket>();
  const accepted = new Set<net.Socket>();
  const proxyContext = (proto: 'http' | 'https'): ProxyContext => ({
    config: ctx.config,
    table: ctx.table,
    upstreams,
    stats: ctx.stats,
    proto,
    port: () => (proto === 'http' ? ports().port : (ports().tlsPort as number)),
    tlsPort: () => ports().tlsPort,
  });
  const attach = (server: http.Server, pc: ProxyContext) => {
    server.on('request', (req, res) => handleRequest(pc, req, res));
    server.on('upgrade', (req, socket, head) => handleUpgrade(pc, tunnels, req, socket as net.Socket, head));
  };
  const httpServer = http.createServer(serverOptions(ctx));
  attach(httpServer, proxyContext('http'));
  const fast = withFastPath(httpServer, proxyContext('http'));
  let httpsServer: http.Server | undefined;
  if (ctx.config.tlsPort !== undefined) {
    // Found certificates are cached; a missing one is looked for again at the next handshake, so
    // a certificate dropped into the directory is used without a restart.
    const contexts = new Map<string, tls.SecureContext>();
    httpsServer = https.createServer({
      ...serverOptions(ctx),
      SNICallback: (servername, cb) => {
        const host = servername.toLowerCase();
        let found = contexts.get(host);
        if (!found) {
          found = loadContext(ctx.config.certsDir, host);
          if (found) contexts.set(host, found);
        }
        cb(found ? null : new Error(`no certificate for "${host}"`), found);
      },
    });
    attach(httpsServer, proxyContext('https'));
  }
  const closeIdle = () => {
    httpServer.closeIdleConnections();
    httpsServer?.closeIdleConnections();
    fast.closeIdle();
  };
  const cutAll = () => {
    // Tunnels have no request boundary to drain at: they close with the router.
    for (const t of tunnels) t.destroy();
    httpServer.closeAllConnections();
    httpsServer?.closeAllConnections();
    fast.destroyAll();
    for (const s of accepted) s.destroy();
  };
  return {
    servers: httpsServer ? { http: httpServer, https: httpsServer } : { http: httpServer },
    accept(kind, socket) {
      const server = kind === 'https' ? httpsServer : httpServer;
      if (!server) return void socket.destroy();
      accepted.add(socket);
      socket.once('close', () => accepted.delete(socket));
      server.emit('connection', socket);
    },
    sync(table) {
      upstreams.sync(table.routes());
    },
    async drainAccepted(graceMs) {
      for (const t of tunnels) t.destroy();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        };
        const sweep = setInterval(() => {
          closeIdle();
          if (accepted.size === 0) done();
        }, 50);
        const cut = setTimeout(() => {
          cutAll();
          done();
        }, graceMs);
        closeIdle();
        if (accepted.size === 0) done();
      });
      upstreams.destroy();
    },
    async drainListening(graceMs) {
      for (const t of tunnels) t.destroy();
      await Promise.all([
        drainServer(httpServer, fast, graceMs),
        ...(httpsServer ? [drainServer(httpsServer, undefined, graceMs)] : []),
      ]);
      upstreams.destroy();
    },
  };
}

/**
 * Starts the node data plane: in this process when one worker is configured, else in
 * `config.workers` worker processes this process hands its connections to (workers.ts).
 */
export function createNodePlane(ctx: DataPlaneContext): DataPlane {
  if (ctx.config.workers > 1) return createWorkerPlane(ctx);
  let listening: Listening = { port: ctx.config.port };
  const serving = createNodeServing(ctx, () => listening);
  return {
    kind: 'node',
    async start(): Promise<Listening> {
      const port = await listenHttp(serving.servers.http, ctx.config.listenHost, ctx.config.port);
      listening = { port };
      if (serving.servers.https) {
        const tlsPort = await listenHttp(
          serving.servers.https,
          ctx.config.listenHost,
          ctx.config.tlsPort as number,
        );
        listening = { port, tlsPort };
      }
      return listening;
    },
    sync(table: RouteTable): void {
      serving.sync(table);
    },
    stop(): Promise<void> {
      return serving.drainListening(ctx.config.timeouts.drainMs);
    },
  };
}
