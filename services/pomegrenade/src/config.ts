// Pomegrenade configuration, parsed once from the environment.

import path from 'node:path';
import {
  type CommonConfig,
  commonShape,
  defaultSocket,
  type Env,
  grpcAddress,
  parseEnv,
  processEnv,
  toCommonConfig,
} from '@paastech/kit';
import { z } from 'zod';
import type { Limits } from './domain/model.js';
import { parseIpv4Net } from './isolation/addresses.js';

/** True for a CIDR range the instance network can use. */
function isIpv4Net(v: string): boolean {
  try {
    parseIpv4Net(v);
    return true;
  } catch {
    return false;
  }
}

const count = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`)
    .default(fallback);

const schema = z.object({
  ...commonShape,
  PAASTECH_POMEGRENADE_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_GIT_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_SANDBOX: z.enum(['bwrap', 'none']).default('bwrap'),
  PAASTECH_MAX_CONCURRENT_BUILDS: count(2, 1, 64),
  PAASTECH_BUILD_TIMEOUT_SECONDS: count(600, 1, 86_400),
  PAASTECH_KEEP_BUILDS: count(5, 1, 100),
  PAASTECH_BUILDPACKS_DIR: z.string().startsWith('/', 'must be an absolute path').optional(),
  PAASTECH_HEALTH_TIMEOUT_SECONDS: count(60, 1, 3600),
  PAASTECH_DRAIN_SECONDS: count(5, 0, 600),
  PAASTECH_STOP_GRACE_SECONDS: count(10, 0, 600),
  PAASTECH_MAX_INSTANCES_PER_PROJECT: count(10, 1, 1000),
  PAASTECH_APP_UID_BASE: count(200_000, 1000, 2_000_000_000),
  PAASTECH_INSTANCE_NETWORK: z
    .string()
    .refine(
      (v) => v === 'host' || isIpv4Net(v),
      'must be an IPv4 CIDR range from /8 to /30 with zero host bits (e.g. 10.213.0.0/16), or "host"',
    )
    .default('10.213.0.0/16'),
  PAASTECH_INSTANCE_EGRESS: z.enum(['nat', 'none']).default('nat'),
  PAASTECH_MAX_INSTANCE_MEMORY_MB: count(4096, 16, 1_048_576),
  PAASTECH_MAX_INSTANCE_CPU_MILLICORES: count(4000, 100, 1_024_000),
  PAASTECH_MAX_INSTANCE_PROCESSES: count(4096, 8, 4_194_304),
  PAASTECH_MAX_INSTANCE_DISK_MB: count(10_240, 1, 16_777_216),
  PAASTECH_RUNTIME: z.enum(['local', 'swarm']).default('local'),
  PAASTECH_DOCKER_SOCKET: z
    .string()
    .startsWith('/', 'must be an absolute path')
    .default('/var/run/docker.sock'),
  PAASTECH_REGISTRY: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be host or host:port (e.g. 127.0.0.1:5000)')
    .default('127.0.0.1:5000'),
  PAASTECH_SWARM_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,11}$/, 'must be 1-12 of a-z, 0-9, starting with a letter')
    .default('pt'),
  PAASTECH_SWARM_BASE_CACHE: z.string().startsWith('/', 'must be an absolute path').optional(),
  PAASTECH_SWARM_PORT_GUARD: z.enum(['on', 'off']).default('on'),
  PAASTECH_DEBIAN_MIRROR: z.string().url().optional(),
});

export interface PomegrenadeConfig extends CommonConfig {
  /** Where Pomegrenade serves paastech.deploy.v1 and paastech.routing.v1. */
  grpcAddress: string;
  /** The git controller's paastech.git.v1 (archives of pushed commits). */
  gitGrpcAddress: string;
  /** `bwrap`: every build and instance in a bubblewrap sandbox; `none`: plain processes (unsafe). */
  sandbox: 'bwrap' | 'none';
  /** Builds running at once, all projects together. */
  maxConcurrentBuilds: number;
  buildTimeoutSeconds: number;
  /** Builds kept per project for rollback (the active one is always kept). */
  keepBuilds: number;
  /**
   * Operator-installed buildpacks, one directory per name (`<name>/bin/compile`); a project's
   * buildpack setting names one of them (or is an https git URL). Never a Client's choice of path.
   */
  buildpacksDir: string;
  healthTimeoutSeconds: number;
  /** How long replaced instances keep running after traffic left them. */
  drainSeconds: number;
  /** SIGTERM → SIGKILL delay when stopping an instance. */
  stopGraceSeconds: number;
  maxInstancesPerProject: number;
  /** First uid/gid handed to projects (one per project, upwards). */
  appUidBase: number;
  /**
   * A network namespace per project with a /30 of this range (the router reaches instances there),
   * or null ("host"): instances share the host's network (no network isolation).
   */
  instanceNetwork: { range: string; egress: boolean } | null;
  /** Highest limits a deployment may ask for (PAASTECH_MAX_INSTANCE_*). */
  limitBounds: Limits;
  /**
   * Where instances run: `local` (this machine's sandbox, the default; never needs Docker) or
   * `swarm` (Docker Swarm services from images in `registry`; builds stay on this machine).
   */
  runtime: 'local' | 'swarm';
  swarm: {
    /** The Engine API socket of a swarm manager. */
    dockerSocket: string;
    /** host[:port] of the registry every node pulls from (PAASTECH_REGISTRY). */
    registry: string;
    /** Prefix of the services and networks this installation owns. */
    namespace: string;
    /** Cache of base-image root filesystems. */
    baseCacheDir: string;
    mirror?: string;
    /** Install the published-port guard's iptables rules on this node (docs/swarm.md). */
    portGuard: boolean;
  };
}

/** Reads Pomegrenade's configuration; throws ConfigError listing every bad variable. */
export function readPomegrenadeConfig(env: Env = processEnv()): PomegrenadeConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  return {
    ...common,
    grpcAddress: e.PAASTECH_POMEGRENADE_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'pomegrenade'),
    gitGrpcAddress: e.PAASTECH_GIT_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'git'),
    sandbox: e.PAASTECH_SANDBOX,
    maxConcurrentBuilds: e.PAASTECH_MAX_CONCURRENT_BUILDS,
    buildTimeoutSeconds: e.PAASTECH_BUILD_TIMEOUT_SECONDS,
    keepBuilds: e.PAASTECH_KEEP_BUILDS,
    buildpacksDir: e.PAASTECH_BUILDPACKS_DIR ?? path.join(common.dataDir, 'buildpacks'),
    healthTimeoutSeconds: e.PAASTECH_HEALTH_TIMEOUT_SECONDS,
    drainSeconds: e.PAASTECH_DRAIN_SECONDS,
    stopGraceSeconds: e.PAASTECH_STOP_GRACE_SECONDS,
    maxInstancesPerProject: e.PAASTECH_MAX_INSTANCES_PER_PROJECT,
    appUidBase: e.PAASTECH_APP_UID_BASE,
    instanceNetwork:
      e.PAASTECH_INSTANCE_NETWORK === 'host'
        ? null
        : { range: e.PAASTECH_INSTANCE_NETWORK, egress: e.PAASTECH_INSTANCE_EGRESS === 'nat' },
    limitBounds: {
      memoryBytes: e.PAASTECH_MAX_INSTANCE_MEMORY_MB * 1024 * 1024,
      cpuMillicores: e.PAASTECH_MAX_INSTANCE_CPU_MILLICORES,
      maxProcesses: e.PAASTECH_MAX_INSTANCE_PROCESSES,
      diskBytes: e.PAASTECH_MAX_INSTANCE_DISK_MB * 1024 * 1024,
    },
    runtime: e.PAASTECH_RUNTIME,
    swarm: {
      dockerSocket: e.PAASTECH_DOCKER_SOCKET,
      registry: e.PAASTECH_REGISTRY,
      namespace: e.PAASTECH_SWARM_NAMESPACE,
      baseCacheDir: e.PAASTECH_SWARM_BASE_CACHE ?? path.join(common.dataDir, 'pomegrenade', 'base-images'),
      ...(e.PAASTECH_DEBIAN_MIRROR ? { mirror: e.PAASTECH_DEBIAN_MIRROR } : {}),
      portGuard: e.PAASTECH_SWARM_PORT_GUARD === 'on',
    },
  };
}
