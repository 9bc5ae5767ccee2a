// Router configuration, parsed once from the environment.
import path from 'node:path';
import {
  type CommonConfig,
  commonShape,
  type Env,
  hostname,
  parseEnv,
  port,
  processEnv,
  toCommonConfig,
} from '@paastech/kit';
import { z } from 'zod';

const schema = z.object({
  ...commonShape,
  PAASTECH_ROUTER_PORT: port(8080),
  PAASTECH_APPS_DOMAIN: hostname.default('localhost'),
  PAASTECH_ROUTER_ADMIN_SOCKET: z.string().optional(),
});

export interface RouterConfig extends CommonConfig {
  port: number;
  appsDomain: string;
  /** Unix socket of the router's admin interface (health, counters); never reachable by apps. */
  adminSocket: string;
}

/** Reads the router's configuration; throws ConfigError listing every bad variable. */
export function readRouterConfig(env: Env = processEnv()): RouterConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  return {
    ...common,
    port: e.PAASTECH_ROUTER_PORT,
    appsDomain: e.PAASTECH_APPS_DOMAIN,
    adminSocket: e.PAASTECH_ROUTER_ADMIN_SOCKET ?? path.join(common.dataDir, 'run', 'router-admin.sock'),
  };
}
