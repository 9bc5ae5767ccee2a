// Pomegrenade configuration, parsed once from the environment.
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

const schema = z.object({
  ...commonShape,
  PAASTECH_POMEGRENADE_GRPC_ADDRESS: grpcAddress.optional(),
  PAASTECH_GIT_GRPC_ADDRESS: grpcAddress.optional(),
});

export interface PomegrenadeConfig extends CommonConfig {
  /** Where Pomegrenade serves paastech.deploy.v1 and paastech.routing.v1. */
  grpcAddress: string;
  /** The git controller's paastech.git.v1 (archives of pushed commits). */
  gitGrpcAddress: string;
}

/** Reads Pomegrenade's configuration; throws ConfigError listing every bad variable. */
export function readPomegrenadeConfig(env: Env = processEnv()): PomegrenadeConfig {
  const e = parseEnv(schema, env);
  const common = toCommonConfig(e);
  return {
    ...common,
    grpcAddress: e.PAASTECH_POMEGRENADE_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'pomegrenade'),
    gitGrpcAddress: e.PAASTECH_GIT_GRPC_ADDRESS ?? defaultSocket(common.dataDir, 'git'),
  };
}
