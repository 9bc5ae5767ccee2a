// paastechd configuration: the role from argv, and each started service's configuration read from
// the environment, all problems reported together.

import path from 'node:path';
import { type ApiConfig, readApiConfig } from '@paastech/api';
import { type GitControllerConfig, readGitControllerConfig } from '@paastech/git-controller';
import { collectConfig, type Env, parseEnv, port, processEnv } from '@paastech/kit';
import { type PomegrenadeConfig, readPomegrenadeConfig } from '@paastech/pomegrenade';
import { type RouterConfig, readRouterConfig } from '@paastech/router';
import { z } from 'zod';

export const ROLES = ['all', 'api', 'git', 'pomegrenade', 'router'] as const;
export type Role = (typeof ROLES)[number];

/** The configuration of every service a role starts (absent = not started by this role). */
export interface DaemonConfig {
  role: Role;
  api?: ApiConfig;
  git?: GitControllerConfig;
  pomegrenade?: PomegrenadeConfig;
  router?: RouterConfig;
  /**
   * The private image registry paastechd runs for the swarm runtime (PAASTECH_RUNTIME=swarm without
   * PAASTECH_REGISTRY): on loopback, data under the data dir; Pomegrenade is told its address.
   */
  registry?: { dir: string; address: string };
}

const registrySchema = z.object({
  PAASTECH_RUNTIME: z.string().optional(),
  PAASTECH_REGISTRY: z.string().optional(),
  PAASTECH_REGISTRY_PORT: port(5000).refine((p) => p !== 0, 'must be a fixed port (image names carry it)'),
});

/** The loopback registry address to run, or undefined when none is needed (pure). */
export function localRegistryAddress(env: Env): string | undefined {
  const e = parseEnv(registrySchema, env);
  if (e.PAASTECH_RUNTIME !== 'swarm' || e.PAASTECH_REGISTRY) return undefined;
  return `127.0.0.1:${e.PAASTECH_REGISTRY_PORT}`;
}

/** Reads the configuration of the services `role` starts; throws ConfigError listing every problem. */
export function readDaemonConfig(role: Role, env: Env = processEnv()): DaemonConfig {
  const wants = (r: Role) => role === 'all' || role === r;
  let address: string | undefined;
  // Readers run in this order; the registry's address reaches Pomegrenade as PAASTECH_REGISTRY.
  const parts = collectConfig({
    api: () => (wants('api') ? readApiConfig(env) : undefined),
    git: () => (wants('git') ? readGitControllerConfig(env) : undefined),
    registry: () => {
      address = wants('pomegrenade') ? localRegistryAddress(env) : undefined;
    },
    pomegrenade: () =>
      wants('pomegrenade')
        ? readPomegrenadeConfig(address ? { ...env, PAASTECH_REGISTRY: address } : env)
        : undefined,
    router: () => (wants('router') ? readRouterConfig(env) : undefined),
  });
  const registry =
    address && parts.pomegrenade
      ? { dir: path.join(parts.pomegrenade.dataDir, 'registry'), address }
      : undefined;
  return { role, ...dropUndefined({ ...parts, registry }) };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
