// Central API: REST for the CLI and the dashboard (NestJS on Fastify) and the internal gRPC
// ControlService for the git controller. The database is opened (and migrated) before either
// listens, and closed after both have stopped.
import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
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
import { control, SERVICE_NAMES } from '@paastech/proto';
import { AppModule } from './app.module.js';
import { type ResolvedApiConfig, resolveConfig } from './app-config.js';
import { AuditService } from './audit/audit.service.js';
import { SessionsService } from './auth/sessions.service.js';
import type { ApiConfig } from './config.js';
import { CoreModule } from './core.module.js';
import { type Database, openDatabase } from './db/database.js';
import { PushRecorder } from './deployments/push.js';
import { ControlHandlers } from './grpc/control.js';
import { BODY_LIMIT_BYTES } from './http/problem.js';
import { configureHttp } from './http/setup.js';
import { PinoNestLogger } from './nest-logger.js';
import { setupOpenApi } from './openapi/openapi.js';
import { TokensService } from './tokens/tokens.service.js';

export { type ApiConfig, readApiConfig } from './config.js';

/** The root module: CoreModule with this start's runtime values, plus the feature modules. */
function rootModule(config: ResolvedApiConfig, database: Database, logger: Logger): DynamicModule {
  @Module({})
  class ApiRootModule {}
  return { module: ApiRootModule, imports: [CoreModule.forRoot({ config, database, logger }), AppModule] };
}

/** Creates the Nest application with the API's HTTP conventions and OpenAPI document. */
async function createApp(
  config: ResolvedApiConfig,
  database: Database,
  logger: Logger,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    rootModule(config, database, logger),
    new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES }),
    { logger: new PinoNestLogger(logger), abortOnError: false, bodyParser: false },
  );
  app.setGlobalPrefix('api/v1', { exclude: ['healthz', 'readyz'] });
  configureHttp(app, logger);
  setupOpenApi(app);
  return app;
}

/** Deletes expired sessions and device codes once an hour (a failure is logged and retried next hour). */
function schedulePurge(sessions: SessionsService, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    sessions
      .purgeExpired()
      .catch((err) => logger.warn({ err: String(err) }, 'purging expired sessions failed'));
  }, 3_600_000);
  timer.unref();
  return timer;
}

/** Starts the REST server and the internal gRPC server. */
export function startApi(config: ApiConfig, logger: Logger = createLogger('api', config.log)): ServiceHandle {
  let app: NestFastifyApplication | undefined;
  let grpc: GrpcEndpoint | undefined;
  let database: Database | undefined;
  let port = config.port;
  let purge: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(purge);
    await grpc?.stop();
    await app?.close();
    await database?.close();
  };
  const ready = (async () => {
    try {
      database = await openDatabase(config, {
        onPoolError: (err) => logger.warn({ err: err.message }, 'database connection lost'),
      });
      const resolved = resolveConfig(config, config.port);
      app = await createApp(resolved, database, logger);
      await app.listen(config.port, config.listenHost);
      const address = app.getHttpServer().address();
      port = typeof address === 'object' && address ? address.port : config.port;
      if (!config.publicUrl) resolved.publicUrl = `http://${urlHost(config.listenHost)}:${port}`;
      const handlers = new ControlHandlers(
        database,
        app.get(TokensService),
        app.get(AuditService),
        logger,
        app.get(PushRecorder),
      );
      grpc = await serveGrpc({
        address: config.grpcAddress,
        secret: resolveInternalSecret(config),
        services: [SERVICE_NAMES.control],
        register: (server) => server.addService(control.ControlServiceService, handlers.implementation()),
      });
      purge = schedulePurge(app.get(SessionsService), logger);
      logger.info({ port, grpc: config.grpcAddress, database: database.dialect }, 'api listening');
    } catch (err) {
      await stop();
      throw err;
    }
  })();
  return {
    name: 'api',
    ready,
    endpoints: () => [
      { label: 'dashboard and API', url: `http://${urlHost(config.listenHost)}:${port}/` },
      { label: 'api gRPC', url: config.grpcAddress },
    ],
    async stop() {
      await stop();
      logger.info('api stopped');
    },
  };
}
