// Router service: the HTTP edge in front of every application. In this version the route table is
// empty until Pomegrenade streams routes (paastech.routing.v1), so every host answers 404.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  closeHttp,
  createLogger,
  type Logger,
  listenHttp,
  listenHttpSocket,
  type ServiceHandle,
} from '@paastech/kit';
import type { RouterConfig } from './config.js';
import { sendPage } from './pages.js';

export { type RouterConfig, readRouterConfig } from './config.js';

/** Host header without port, lower-cased; '' when absent. */
function hostOf(req: http.IncomingMessage): string {
  const raw = (req.headers.host ?? '').toLowerCase();
  return raw.startsWith('[') ? raw.slice(0, raw.indexOf(']') + 1) : (raw.split(':')[0] ?? '');
}

/** Starts the router: the public data plane on the router port and the admin interface on a socket. */
export function startRouter(
  config: RouterConfig,
  logger: Logger = createLogger('router', config.log),
): ServiceHandle {
  let boundPort = config.port;
  const edge = http.createServer((req, res) => {
    const host = hostOf(req);
    sendPage(req, res, {
      status: 404,
      title: 'No application here',
      detail: host ? `No project is served at "${host}".` : 'The request named no host.',
      hint: `Projects are served at http://<project>.${config.appsDomain}:${boundPort}/ — check the project name, or add this host as a domain of your project.`,
    });
  });
  const admin = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}\n');
  });

  const ready = (async () => {
    boundPort = await listenHttp(edge, config.listenHost, config.port);
    await fs.promises.mkdir(path.dirname(config.adminSocket), { recursive: true, mode: 0o700 });
    await fs.promises.rm(config.adminSocket, { force: true });
    await listenHttpSocket(admin, config.adminSocket);
    await fs.promises.chmod(config.adminSocket, 0o600);
    logger.info({ port: boundPort, dataplane: 'node' }, 'router listening');
  })();

  return {
    name: 'router',
    ready,
    endpoints: () => [
      { label: 'apps', url: `http://<project>.${config.appsDomain}:${boundPort}/` },
      { label: 'router admin', url: `unix:${config.adminSocket}` },
    ],
    async stop() {
      await Promise.all([closeHttp(edge), closeHttp(admin)]);
      await fs.promises.rm(config.adminSocket, { force: true });
      logger.info('router stopped');
    },
  };
}
