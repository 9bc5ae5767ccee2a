// Starts the services of a role in dependency order, prints their endpoints, and stops them in
// reverse order. Services talk real gRPC to each other even when they share this process.

import { startApi } from '@paastech/api';
import { startGitController } from '@paastech/git-controller';
import {
  type CommonConfig,
  createLogger,
  type Logger,
  privateDir,
  type RunningRegistry,
  type ServiceHandle,
  startRegistry,
} from '@paastech/kit';
import { startPomegrenade } from '@paastech/pomegrenade';
import { startRouter } from '@paastech/router';
import type { DaemonConfig } from './config.js';

/** A running daemon: its services (in start order) and a stop that runs at most once. */
export interface Daemon {
  services: ServiceHandle[];
  stop(): Promise<void>;
}

/**
 * Starts every configured service: router → api → git → pomegrenade, and stops them in reverse.
 * The router goes first because it depends on nothing at start-up (it keeps retrying Pomegrenade's
 * route stream) and the API must know the apps port it really bound (port 0 = any free port) to
 * hand out app URLs; the API precedes the services that ask it questions. If one fails to start,
 * the ones already started are stopped again before the error is thrown.
 */
export async function startDaemon(
  config: DaemonConfig,
  logger: Logger,
  destination: NodeJS.WritableStream = process.stderr,
): Promise<Daemon> {
  const starters: Array<(started: ServiceHandle[]) => ServiceHandle> = [];
  const child = (name: string, c: CommonConfig) => createLogger(name, { ...c.log, destination });
  const { api, git, pomegrenade, router, registry } = config;
  // Before any service writes into it: the data dir holds the database, keys and repositories.
  for (const dir of new Set([router, api, git, pomegrenade].flatMap((c) => (c ? [c.dataDir] : []))))
    privateDir(dir);
  if (router) starters.push(() => startRouter(router, child('router', router)));
  if (api) {
    starters.push((started) => {
      const appsPort = started.find((s) => s.name === 'router')?.ports?.().http;
      return startApi(appsPort === undefined ? api : { ...api, routerPort: appsPort }, child('api', api));
    });
  }
  if (git) starters.push(() => startGitController(git, child('git', git)));
  if (registry) starters.push(() => registryService(registry));
  if (pomegrenade) starters.push(() => startPomegrenade(pomegrenade, child('pomegrenade', pomegrenade)));

  const services: ServiceHandle[] = [];
  const stopAll = async () => {
    for (const s of [...services].reverse()) {
      try {
        await s.stop();
      } catch (err) {
        logger.error({ err, service: s.name }, 'service did not stop cleanly');
      }
    }
  };
  try {
    for (const start of starters) {
      const s = start(services);
      services.push(s);
      await s.ready;
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return { services, stop: () => (stopping ??= stopAll()) };
}

/** The swarm runtime's private registry (docker-registry on loopback) as a service of the daemon. */
function registryService(o: { dir: string; address: string }): ServiceHandle {
  let running: RunningRegistry | undefined;
  const ready = startRegistry(o).then((r) => {
    running = r;
  });
  return {
    name: 'registry',
    ready,
    endpoints: () => [{ label: 'image registry', url: `http://${o.address}/v2/` }],
    async stop() {
      await ready.catch(() => {});
      await running?.stop();
    },
  };
}
