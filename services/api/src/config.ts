// Central API configuration, parsed once from the environment.
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

const schema = z.object({
  ...commonShape,
  PAASTECH_API_PORT: port(3000),
  PAASTECH_APPS_DOMAIN: hostname.default('localhost'),
  PAASTECH_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL (unset = embedded SQLite in the data dir)')
    .optional(),
  PAASTECH_DATABASE_POOL_SIZE: z.coerce
    .number({ error: 'must be a number of connections' })
    .int('must be a whole number')
    .min(1, 'must be between 1 and 100')
    .max(100, 'must be between 1 and 100')
    .optional(),
  // off: for a pooler that does not keep a session per client (PgBouncer in transaction mode < 1.21).
  PAASTECH_DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  PAASTECH_API_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_GIT_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_POMEGRENADE_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_MASTER_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_-]{43}=?$/, 'must be base64 of 32 bytes')
    .optional(),
  PAASTECH_ROUTER_PORT: port(8080),
  PAASTECH_WEB_DIR: z.string().min(1).optional(),
  PAASTECH_PUBLIC_URL: z
    .url({
      protocol: /^https?$/,
      error: 'must be an http:// or https:// URL such as https://paas.example.com',
    })
    .optional(),
});

export interface ApiConfig extends CommonConfig {
  port: number;
  appsDomain: string;
  /** PostgreSQL URL; undefined = SQLite at `<dataDir>/paastech.db`. */
  databaseUrl?: string;
  /** Most PostgreSQL connections open at once; unset = the database module's default. */
  databasePoolSize?: number;
  /** False: PostgreSQL statements are never prepared by name (for poolers without sessions). */
  databasePreparedStatements: boolean;
  /** Where the API serves paastech.control.v1 (for the git controller). */
  grpcAddress: string;
  gitGrpcAddress: string;
  pomegrenadeGrpcAddress: string;
  /** Base64 of the 32-byte key encrypting config vars; unset = `<dataDir>/keys/master.key`. */
  masterKey?: string;
  /** Port the router serves apps on, for app URLs (80 = omitted). */
  routerPort: number;
  /** The built dashboard to serve at `/`; unset = apps/web/dist of this checkout. */
  webDir?: string;
  /**
   * Origin of the dashboard and API as browsers see it (e.g. https://paas.example.com); decides the
   * cookie's Secure flag and `__Host-` prefix and the allowed Origin of cookie requests. Unset =
   * http://<listen host>:<bound port>.
   */
  publicUrl?: string;
  /** Rate limits; only tests change them (not an environment variable). */
  rateLimits?: Partial<RateLimits>;
}

/** One limit: at most `max` attempts per `windowMs`. */
export interface Limit {
  max: number;
  windowMs: number;
}

/** Rate limits of the endpoints attackers hammer. */
export interface RateLimits {
  loginPerIp: Limit;
  loginPerAccount: Limit;
  signupPerIp: Limit;
  devicePollPerIp: Limit;
  deviceStartPerIp: Limit;
  /** Looking up, approving or denying user codes, per Client (RFC 8628 §5.1: no guessing codes). */
  deviceVerifyPerClient: Limit;
}

const MINUTE = 60_000;

/** Limits that let a person mistype a few times but stop password guessing. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  loginPerIp: { max: 50, windowMs: 15 * MINUTE },
  loginPerAccount: { max: 10, windowMs: 15 * MINUTE },
  signupPerIp: { max: 20, windowMs: 60 * MINUTE },
  devicePollPerIp: { max: 120, windowMs: MINUTE },
  deviceStartPerIp: { max: 30, windowMs: 15 * MINUTE },
  deviceVerifyPerClient: { max: 30, windowMs: 15 * MINUTE },
};

/** Reads the API's configuration; throws ConfigError listing every bad variable. */
export function readApiConfig(env: Env = processEnv()): ApiConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  return {
    ...common,
    port: e.PAASTECH_API_PORT,
    appsDomain: e.PAASTECH_APPS_DOMAIN,
    ...(e.PAASTECH_DATABASE_URL ? { databaseUrl: e.PAASTECH_DATABASE_URL } : {}),
    ...(e.PAASTECH_DATABASE_POOL_SIZE ? { databasePoolSize: e.PAASTECH_DATABASE_POOL_SIZE } : {}),
    databasePreparedStatements: e.PAASTECH_DATABASE_PREPARED_STATEMENTS === 'on',
    grpcAddress: e.PAASTECH_API_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'api'),
    gitGrpcAddress: e.PAASTECH_GIT_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'git'),
    pomegrenadeGrpcAddress:
      e.PAASTECH_POMEGRENADE_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'pomegrenade'),
    ...(e.PAASTECH_MASTER_KEY ? { masterKey: e.PAASTECH_MASTER_KEY } : {}),
    routerPort: e.PAASTECH_ROUTER_PORT,
    ...(e.PAASTECH_WEB_DIR ? { webDir: e.PAASTECH_WEB_DIR } : {}),
    ...(e.PAASTECH_PUBLIC_URL ? { publicUrl: new URL(e.PAASTECH_PUBLIC_URL).origin } : {}),
  };
}
