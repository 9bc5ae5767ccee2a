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
});

export interface GitControllerConfig extends CommonConfig {
  httpPort: number;
  sshPort: number;
  /** Where the controller serves paastech.git.v1. */
  grpcAddress: string;
  /** The API's paastech.control.v1 (authorize git access, record pushes). */
  apiGrpcAddress: string;
  maxPushBytes: number;
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
  };
}
