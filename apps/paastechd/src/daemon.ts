// Starts the services of a role in dependency order, prints their endpoints, and stops them in
// reverse order. Services talk real gRPC to each other even when they share this process.

import { startApi } from '@paastech/api';
import { startGitController } from '@paastech/git-controller';
import { type CommonConfig, createLogger, type Logger, type ServiceHandle } from '@paastech/kit';
import { startPomegrenade } from '@paastech/pomegrenade';
import { startRouter } from '@paastech/router';
import type { DaemonConfig } from './config.js';

/** A running daemon: its services (in start order) and a stop that runs at most once. */
export interface Daemon {
  services: ServiceHandle[];
  stop(): Promise<void>;
}

/**
 * Starts every configured service: api → git → pomegrenade → router (the API owns the data every
 * other service asks about; the router needs Pomegrenade's routes). If one fails to start, the ones
 * already started are stopped again before the error is thrown.
 */
export async function startDaemon(
  config: DaemonConfig,
  logger: Logger,
  destination: NodeJS.WritableStream = process.stderr,
): Promise<Daemon> {
  const starters: Array<() => ServiceHandle> = [];
  const child = (name: string, c: CommonConfig) => createLogger(name, { ...c.log, destination });
  const { api, git, pomegrenade, router } = config;
  if (api) starters.push(() => startApi(api, child('api', api)));
  if (git) starters.push(() => startGitController(git, child('git', git)));
  if (pomegrenade) starters.push(() => startPomegrenade(pomegrenade, child('pomegrenade', pomegrenade)));
  if (router) starters.push(() => startRouter(router, child('router', router)));

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
      const s = start();
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
