// Router configuration, parsed once from the environment.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type CommonConfig,
  commonShape,
  defaultSocket,
  type Env,
  grpcAddress,
  hostname,
  parseEnv,
  port,
  processEnv,
  toCommonConfig,
} from '@paastech/kit';
import { z } from 'zod';

/** A positive whole number of milliseconds or bytes, with a default. */
const positive = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .default(fallback);

const schema = z.object({
  ...commonShape,
  PAASTECH_ROUTER_PORT: port(8080),
  PAASTECH_ROUTER_TLS_PORT: z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a whole number')
    .min(0, 'must be between 1 and 65535 (0 = any free port)')
    .max(65535, 'must be between 1 and 65535 (0 = any free port)')
    .optional(),
  PAASTECH_ROUTER_CERTS_DIR: z.string().optional(),
  PAASTECH_APPS_DOMAIN: hostname.default('localhost'),
  PAASTECH_ROUTER_ADMIN_SOCKET: z.string().optional(),
  PAASTECH_POMEGRENADE_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_ROUTER_DATAPLANE: z.enum(['node', 'haproxy']).optional(),
  PAASTECH_ROUTER_WORKERS: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be between 1 and 64')
    .max(64, 'must be between 1 and 64')
    .optional(),
  PAASTECH_ROUTER_MAX_BODY_BYTES: positive(100 * 1024 * 1024),
  PAASTECH_ROUTER_HEADERS_TIMEOUT_MS: positive(10_000),
  PAASTECH_ROUTER_REQUEST_TIMEOUT_MS: positive(300_000),
  PAASTECH_ROUTER_IDLE_TIMEOUT_MS: positive(30_000),
  PAASTECH_ROUTER_CONNECT_TIMEOUT_MS: positive(5_000),
  PAASTECH_ROUTER_UPSTREAM_TIMEOUT_MS: positive(60_000),
  PAASTECH_ROUTER_DRAIN_TIMEOUT_MS: positive(30_000),
  PAASTECH_ROUTER_ID: z.string().min(1).optional(),
  PAASTECH_ROUTER_REPORT_INTERVAL_MS: positive(30_000),
});

export type Dataplane = 'node' | 'haproxy';

export interface RouterTimeouts {
  /** Longest a client may take to send its request headers (slowloris). */
  headersMs: number;
  /** Longest a client may take to send a whole request, body included. */
  requestMs: number;
  /** Idle keep-alive connections (client side) and idle tunnels are closed after this. */
  idleMs: number;
  /** Longest to open a connection to an instance. */
  connectMs: number;
  /** Longest an instance may stay silent (before its response headers, or between body chunks). */
  upstreamMs: number;
  /** Longest a stopping router waits for requests in flight. */
  drainMs: number;
}

export interface RouterConfig extends CommonConfig {
  port: number;
  /** HTTPS listener port; undefined = no TLS listener. */
  tlsPort?: number;
  /** Directory holding `<hostname>.crt` and `<hostname>.key` per served hostname. */
  certsDir: string;
  appsDomain: string;
  /** Unix socket of the router's admin interface (health, counters); never reachable by apps. */
  adminSocket: string;
  /** Where Pomegrenade serves paastech.routing.v1. */
  pomegrenadeAddress: string;
  dataplane: Dataplane;
  /**
   * Processes serving requests. node plane: 1 = in the router's own process; more = that many
   * worker processes the router hands its connections to (default: one per CPU, at most 8).
   * haproxy plane: HAProxy processes of one thread each (default: one per CPU, at most 64).
   */
  workers: number;
  /** Largest request body accepted (413 beyond). */
  maxBodyBytes: number;
  timeouts: RouterTimeouts;
  /** Name of this router instance in Pomegrenade's logs. */
  routerId: string;
  /** How often traffic counts are reported to Pomegrenade (ReportRouterStats). */
  reportIntervalMs: number;
  /** haproxy plane: how often drained servers with no connection left are deleted (default 1 s; tests shorten it). */
  haproxySweepMs?: number;
}

/** True when an `haproxy` executable is on PATH. */
export function haproxyAvailable(env: Env = processEnv()): boolean {
  const dirs = (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, 'haproxy'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Reads the router's configuration; throws ConfigError listing every bad variable. */
export function readRouterConfig(env: Env = processEnv()): RouterConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  const dataplane = e.PAASTECH_ROUTER_DATAPLANE ?? (haproxyAvailable(env) ? 'haproxy' : 'node');
  return {
    ...common,
    port: e.PAASTECH_ROUTER_PORT,
    ...(e.PAASTECH_ROUTER_TLS_PORT !== undefined ? { tlsPort: e.PAASTECH_ROUTER_TLS_PORT } : {}),
    certsDir: path.resolve(common.dataDir, e.PAASTECH_ROUTER_CERTS_DIR ?? 'certs'),
    appsDomain: e.PAASTECH_APPS_DOMAIN,
    adminSocket: e.PAASTECH_ROUTER_ADMIN_SOCKET ?? path.join(common.dataDir, 'run', 'router-admin.sock'),
    pomegrenadeAddress: e.PAASTECH_POMEGRENADE_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'pomegrenade'),
    dataplane,
    // node plane: at most 8 by default (each is a Node process of its own, ~50 MiB); haproxy
    // plane: one HAProxy process (one thread) per CPU, as HAProxy's threads were before.
    workers: e.PAASTECH_ROUTER_WORKERS ?? Math.min(os.availableParallelism(), dataplane === 'node' ? 8 : 64),
    maxBodyBytes: e.PAASTECH_ROUTER_MAX_BODY_BYTES,
    timeouts: {
      headersMs: e.PAASTECH_ROUTER_HEADERS_TIMEOUT_MS,
      requestMs: e.PAASTECH_ROUTER_REQUEST_TIMEOUT_MS,
      idleMs: e.PAASTECH_ROUTER_IDLE_TIMEOUT_MS,
      connectMs: e.PAASTECH_ROUTER_CONNECT_TIMEOUT_MS,
      upstreamMs: e.PAASTECH_ROUTER_UPSTREAM_TIMEOUT_MS,
      drainMs: e.PAASTECH_ROUTER_DRAIN_TIMEOUT_MS,
    },
    routerId: e.PAASTECH_ROUTER_ID ?? `router-${process.pid}`,
    reportIntervalMs: e.PAASTECH_ROUTER_REPORT_INTERVAL_MS,
  };
}
