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

/** Starts the node data plane. */
export function createNodePlane(ctx: DataPlaneContext): DataPlane {
  const upstreams = new Upstreams();
  const tunnels = new Set<net.Socket>();
  let port = ctx.config.port;
  let tlsPort: number | undefined;
  const proxyContext = (proto: 'http' | 'https'): ProxyContext => ({
    config: ctx.config,
    table: ctx.table,
    upstreams,
    stats: ctx.stats,
    proto,
    port: () => (proto === 'http' ? port : (tlsPort as number)),
    tlsPort: () => tlsPort,
  });
  const servers: http.Server[] = [];
  const attach = (server: http.Server, pc: ProxyContext) => {
    server.on('request', (req, res) => handleRequest(pc, req, res));
    server.on('upgrade', (req, socket, head) => handleUpgrade(pc, tunnels, req, socket as net.Socket, head));
    servers.push(server);
  };
  const httpServer = http.createServer(serverOptions(ctx));
  const httpContext = proxyContext('http');
  attach(httpServer, httpContext);
  const fast = withFastPath(httpServer, httpContext);
  if (ctx.config.tlsPort !== undefined) {
    // Found certificates are cached; a missing one is looked for again at the next handshake, so
    // a certificate dropped into the directory is used without a restart.
    const contexts = new Map<string, tls.SecureContext>();
    const server = https.createServer({
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
    attach(server, proxyContext('https'));
  }

  return {
    kind: 'node',
    async start(): Promise<Listening> {
      port = await listenHttp(servers[0] as http.Server, ctx.config.listenHost, ctx.config.port);
      if (servers[1])
        tlsPort = await listenHttp(servers[1], ctx.config.listenHost, ctx.config.tlsPort as number);
      return tlsPort === undefined ? { port } : { port, tlsPort };
    },
    sync(table: RouteTable): void {
      upstreams.sync(table.routes());
    },
    async stop(): Promise<void> {
      // Tunnels have no request boundary to drain at: they close with the router.
      for (const t of tunnels) t.destroy();
      await Promise.all(
        servers.map((s) => drainServer(s, s === httpServer ? fast : undefined, ctx.config.timeouts.drainMs)),
      );
      upstreams.destroy();
    },
  };
}
