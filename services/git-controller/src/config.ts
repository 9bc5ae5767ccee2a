// Git controller configuration, parsed once from the environment.
import {
  type CommonConfig,
  commonShape,
  defaultSocket,
  type Env,
  grpcAddress,
  parseEnv,
  port,
  processEnv,
  toCommonConfig,
} from '@paastech/kit';
import { z } from 'zod';

/** A public base URL override: scheme, host, optional port, no trailing slash. */
const baseUrl = (scheme: 'http' | 'ssh') =>
  z
    .string()
    .regex(
      scheme === 'http'
        ? /^https?:\/\/[A-Za-z0-9.[\]:-]+(\/[A-Za-z0-9._~-]+)*$/
        : /^ssh:\/\/([A-Za-z0-9._-]+@)?[A-Za-z0-9.[\]:-]+$/,
      scheme === 'http'
        ? 'must be an http(s) base URL such as https://git.example.com (no trailing slash)'
        : 'must be an ssh base URL such as ssh://git@git.example.com:2222 (no trailing slash)',
    );

const milliseconds = (fallback: number, min: number) =>
  z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(min, `must be at least ${min} ms`)
    .default(fallback);

const schema = z.object({
  ...commonShape,
  PAASTECH_GIT_HTTP_PORT: port(3001),
  PAASTECH_GIT_SSH_PORT: port(2222),
  PAASTECH_GIT_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_API_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_GIT_MAX_PUSH_BYTES: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int('must be a whole number of bytes')
    .min(1024, 'must be at least 1024 bytes')
    .default(512 * 1024 * 1024),
  PAASTECH_GIT_PUBLIC_HTTP_URL: baseUrl('http').optional(),
  PAASTECH_GIT_PUBLIC_SSH_URL: baseUrl('ssh').optional(),
  PAASTECH_GIT_PUSH_LOCK_TIMEOUT_MS: milliseconds(10 * 60_000, 100),
  PAASTECH_GIT_IDLE_TIMEOUT_MS: milliseconds(60_000, 100),
  PATH: z.string().default('/usr/local/bin:/usr/bin:/bin'),
});

export interface GitControllerConfig extends CommonConfig {
  httpPort: number;
  sshPort: number;
  /** Where the controller serves paastech.git.v1. */
  grpcAddress: string;
  /** The API's paastech.control.v1 (authorize git access, record pushes). */
  apiGrpcAddress: string;
  maxPushBytes: number;
  /** Base URLs handed out by GetGitEndpoints instead of the bound ones (behind a proxy). */
  publicHttpUrl?: string;
  publicSshUrl?: string;
  /** How long a push waits for the push before it on the same project. */
  pushLockTimeoutMs: number;
  /** A client that sends nothing for this long while we wait for its input is cut off. */
  idleTimeoutMs: number;
  /** PATH given to git (the only variable of ours git inherits; everything else is set by us). */
  systemPath: string;
}

/** Reads the git controller's configuration; throws ConfigError listing every bad variable. */
export function readGitControllerConfig(env: Env = processEnv()): GitControllerConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  return {
    ...common,
    httpPort: e.PAASTECH_GIT_HTTP_PORT,
    sshPort: e.PAASTECH_GIT_SSH_PORT,
    grpcAddress: e.PAASTECH_GIT_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'git'),
    apiGrpcAddress: e.PAASTECH_API_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'api'),
    maxPushBytes: e.PAASTECH_GIT_MAX_PUSH_BYTES,
    ...(e.PAASTECH_GIT_PUBLIC_HTTP_URL ? { publicHttpUrl: e.PAASTECH_GIT_PUBLIC_HTTP_URL } : {}),
    ...(e.PAASTECH_GIT_PUBLIC_SSH_URL ? { publicSshUrl: e.PAASTECH_GIT_PUBLIC_SSH_URL } : {}),
    pushLockTimeoutMs: e.PAASTECH_GIT_PUSH_LOCK_TIMEOUT_MS,
    idleTimeoutMs: e.PAASTECH_GIT_IDLE_TIMEOUT_MS,
    systemPath: e.PATH,
  };
}
