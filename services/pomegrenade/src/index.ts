// Pomegrenade: builds, deployments and running instances. This version serves its gRPC endpoint
// and health only; deployments (paastech.deploy.v1) and routes (paastech.routing.v1) come next.
import {
  createLogger,
  type GrpcEndpoint,
  type Logger,
  resolveInternalSecret,
  type ServiceHandle,
  serveGrpc,
} from '@paastech/kit';
import type { PomegrenadeConfig } from './config.js';

export { type PomegrenadeConfig, readPomegrenadeConfig } from './config.js';

/** Starts Pomegrenade's gRPC server. */
export function startPomegrenade(
  config: PomegrenadeConfig,
  logger: Logger = createLogger('pomegrenade', config.log),
): ServiceHandle {
  let grpc: GrpcEndpoint | undefined;
  const ready = (async () => {
    grpc = await serveGrpc({
      address: config.grpcAddress,
      secret: resolveInternalSecret(config),
      services: [],
    });
    logger.info({ address: config.grpcAddress }, 'pomegrenade listening');
  })();
  return {
    name: 'pomegrenade',
    ready,
    endpoints: () => [{ label: 'pomegrenade gRPC', url: config.grpcAddress }],
    async stop() {
      await grpc?.stop();
      logger.info('pomegrenade stopped');
    },
  };
}
