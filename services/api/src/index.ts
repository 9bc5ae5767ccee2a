// Central API: REST for the CLI and the dashboard (NestJS on Fastify) and the internal gRPC
// ControlService for the git controller.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createLogger,
  type GrpcEndpoint,
  type Logger,
  resolveInternalSecret,
  type ServiceHandle,
  serveGrpc,
  urlHost,
} from '@paastech/kit';
import { AppModule } from './app.module.js';
import type { ApiConfig } from './config.js';
import { PinoNestLogger } from './nest-logger.js';

export { type ApiConfig, readApiConfig } from './config.js';

/** Starts the REST server and the internal gRPC server. */
export function startApi(config: ApiConfig, logger: Logger = createLogger('api', config.log)): ServiceHandle {
  let app: NestFastifyApplication | undefined;
  let grpc: GrpcEndpoint | undefined;
  let port = config.port;
  const ready = (async () => {
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: new PinoNestLogger(logger),
      abortOnError: false,
    });
    await app.listen(config.port, config.listenHost);
    const address = app.getHttpServer().address();
    port = typeof address === 'object' && address ? address.port : config.port;
    grpc = await serveGrpc({
      address: config.grpcAddress,
      secret: resolveInternalSecret(config),
      services: [],
    });
    logger.info({ port, grpc: config.grpcAddress }, 'api listening');
  })();
  return {
    name: 'api',
    ready,
    endpoints: () => [
      { label: 'dashboard and API', url: `http://${urlHost(config.listenHost)}:${port}/` },
      { label: 'api gRPC', url: config.grpcAddress },
    ],
    async stop() {
      await grpc?.stop();
      await app?.close();
      logger.info('api stopped');
    },
  };
}
