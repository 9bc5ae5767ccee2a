// Starts a router (either data plane) fed by a RoutingContractServer, in a temp data dir, and
// offers the small clients the tests use (HTTP with a chosen Host, raw sockets, TLS).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type ServiceHandle } from '@paastech/kit';
import { type RouterConfig, readRouterConfig, startRouter } from '../../src/index.js';
import { type PlaneName, planeSetup } from './planes.js';
import { RoutingContractServer } from './routing-server.js';

export const SECRET = 'router-test-secret-0123456789';

export interface Harness {
  dataDir: string;
  routes: RoutingContractServer;
  router: ServiceHandle;
  port: number;
  tlsPort?: number;
  env: Record<string, string>;
  /** Restarts the router with the same configuration. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Makes a short temp dir (Unix socket paths must stay under 108 bytes). */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rt-'));
}

/** Starts the contract server and a router on `dataplane` (`tune`: settings with no variable). */
export async function startHarness(
  plane: PlaneName,
  extraEnv: Record<string, string> = {},
  tune: Pick<RouterConfig, 'haproxySweepMs'> = {},
): Promise<Harness> {
  const { dataplane, env: planeEnv } = planeSetup(plane);
  const dataDir = tempDir();
  const address = `unix:${path.join(dataDir, 'run', 'pomegrenade.sock')}`;
  const routes = new RoutingContractServer(address, SECRET);
  await routes.start();
  const env = {
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_ROUTER_PORT: '0',
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_ROUTER_DATAPLANE: dataplane,
    ...planeEnv,
    PAASTECH_LOG_LEVEL: process.env.ROUTER_TEST_LOG ?? 'silent',
    PAASTECH_LOG_FORMAT: 'json',
    PAASTECH_APPS_DOMAIN: 'apps.test',
    // Bounds a stop (and HAProxy's hard-stop-after) so no test waits for the 30 s default.
    PAASTECH_ROUTER_DRAIN_TIMEOUT_MS: '3000',
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...extraEnv,
  };
  const h: Harness = {
    dataDir,
    routes,
    router: undefined as unknown as ServiceHandle,
    port: 0,
    env,
    async restart() {
      await h.router.stop();
      // Rebind the same ports, so clients see the same router come back.
      await boot({
        PAASTECH_ROUTER_PORT: String(h.port),
        ...(h.tlsPort ? { PAASTECH_ROUTER_TLS_PORT: String(h.tlsPort) } : {}),
      });
    },
    async stop() {
      await h.router.stop();
      await routes.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const boot = async (over: Record<string, string> = {}) => {
    const config = { ...readRouterConfig({ ...env, ...over }), ...tune };
    h.router = startRouter(config, createLogger('router', config.log));
    await h.router.ready;
    const eps = h.router.endpoints();
    const portOf = (label: string) => {
      const url = eps.find((e) => e.label === label)?.url;
      return url ? Number(new URL(url.replace('<project>.', 'x.')).port) : undefined;
    };
    h.port = portOf('apps') as number;
    const tls = portOf('apps over HTTPS');
    if (tls !== undefined) h.tlsPort = tls;
  };
  await boot();
  return h;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends one request with the given Host header; resolves with the whole response. */
export function request(
  port: number,
  host: string,
  urlPath = '/',
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string;
    agent?: http.Agent | false;
    tls?: boolean;
    servername?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = options.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: options.method ?? 'GET',
        headers: { host, ...options.headers },
        agent: options.agent ?? false,
        ...(options.tls
          ? { servername: options.servername ?? host.split(':')[0], rejectUnauthorized: false }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes raw bytes to the port (a string as UTF-8, a Buffer as it is) and collects everything until
 * the server closes (or `waitMs`).
 */
export function raw(port: number, bytes: string | Buffer, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (b) => {
      out += b.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(bytes);
  });
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** GETs a path of the router's admin socket as JSON. */
export function admin<T = unknown>(dataDir: string, urlPath: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: path.join(dataDir, 'run', 'router-admin.sock'), path: urlPath }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(JSON.parse(body) as T));
      })
      .on('error', reject);
  });
}
