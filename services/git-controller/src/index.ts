// Git controller: owns the hosted repositories. This version serves its gRPC endpoint and the
// smart-HTTP listener's health check; repositories, push and clone come with the git issue.
import http from 'node:http';
import {
  closeHttp,
  createLogger,
  type GrpcEndpoint,
  type Logger,
  listenHttp,
  resolveInternalSecret,
  type ServiceHandle,
  serveGrpc,
  urlHost,
} from '@paastech/kit';
import type { GitControllerConfig } from './config.js';

export { type GitControllerConfig, readGitControllerConfig } from './config.js';

/** Starts the git controller's HTTP listener and gRPC server. */
export function startGitController(
  config: GitControllerConfig,
  logger: Logger = createLogger('git', config.log),
): ServiceHandle {
  let grpc: GrpcEndpoint | undefined;
  let httpPort = config.httpPort;
  const web = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  const ready = (async () => {
    grpc = await serveGrpc({
      address: config.grpcAddress,
      secret: resolveInternalSecret(config),
      services: [],
    });
    httpPort = await listenHttp(web, config.listenHost, config.httpPort);
    logger.info({ httpPort, grpc: config.grpcAddress }, 'git controller listening');
  })();
  return {
    name: 'git',
    ready,
    endpoints: () => [
      { label: 'git over HTTP', url: `http://${urlHost(config.listenHost)}:${httpPort}/<project>.git` },
      { label: 'git gRPC', url: config.grpcAddress },
    ],
    async stop() {
      await closeHttp(web);
      await grpc?.stop();
      logger.info('git controller stopped');
    },
  };
}
