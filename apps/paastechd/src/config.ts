// paastechd configuration: the role from argv, and each started service's configuration read from
// the environment, all problems reported together.

import { type ApiConfig, readApiConfig } from '@paastech/api';
import { type GitControllerConfig, readGitControllerConfig } from '@paastech/git-controller';
import { collectConfig, type Env, processEnv } from '@paastech/kit';
import { type PomegrenadeConfig, readPomegrenadeConfig } from '@paastech/pomegrenade';
import { type RouterConfig, readRouterConfig } from '@paastech/router';

export const ROLES = ['all', 'api', 'git', 'pomegrenade', 'router'] as const;
export type Role = (typeof ROLES)[number];

/** The configuration of every service a role starts (absent = not started by this role). */
export interface DaemonConfig {
  role: Role;
  api?: ApiConfig;
  git?: GitControllerConfig;
  pomegrenade?: PomegrenadeConfig;
  router?: RouterConfig;
}

/** Reads the configuration of the services `role` starts; throws ConfigError listing every problem. */
export function readDaemonConfig(role: Role, env: Env = processEnv()): DaemonConfig {
  const wants = (r: Role) => role === 'all' || role === r;
  const parts = collectConfig({
    api: () => (wants('api') ? readApiConfig(env) : undefined),
    git: () => (wants('git') ? readGitControllerConfig(env) : undefined),
    pomegrenade: () => (wants('pomegrenade') ? readPomegrenadeConfig(env) : undefined),
    router: () => (wants('router') ? readRouterConfig(env) : undefined),
  });
  return { role, ...dropUndefined(parts) };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
