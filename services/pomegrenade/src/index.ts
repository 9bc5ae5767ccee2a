// Pomegrenade: builds, deployments and running instances (the actual state). Serves
// paastech.deploy.v1.DeploymentService and paastech.routing.v1.RoutingService, fetches sources from
// the git controller's GitService.GetArchive, and on start re-converges every project to its active
// deployment from what it persisted under <dataDir>/pomegrenade.
import path from 'node:path';
import {
  createLogger,
  type GrpcEndpoint,
  type Logger,
  resolveInternalSecret,
  type ServiceHandle,
  serveGrpc,
} from '@paastech/kit';
import { deploy, routing, SERVICE_NAMES } from '@paastech/proto';
import { defaultBuilders } from './build/builders.js';
import type { PomegrenadeConfig } from './config.js';
import type { SourceFetcher } from './domain/build-runner.js';
import { Engine } from './domain/engine.js';
import type { Builder, Runtime } from './domain/ports.js';
import { TrafficCounters } from './domain/traffic.js';
import { GitArchiveSource } from './grpc/git-source.js';
import { deploymentService, routingService } from './grpc/services.js';
import { DiskQuotas } from './isolation/disk-quota.js';
import { networkUnavailableReason } from './isolation/network.js';
import { LocalRuntime, sandboxUnavailableReason } from './runtime/local-runtime.js';
import { connectSwarm, type SwarmRuntime } from './runtime/swarm/swarm-runtime.js';
import { UnconfinedRuntime } from './runtime/unconfined-runtime.js';
import { LogBook } from './store/log-book.js';
import { StateStore } from './store/state.js';

export { type PomegrenadeConfig, readPomegrenadeConfig } from './config.js';
export { type Procfile, parseProcfile } from './domain/procfile.js';

/** Parts a test may swap (a FakeRuntime, a source without a git controller). */
export interface PomegrenadeOverrides {
  runtime?: Runtime;
  builders?: Builder[];
  source?: SourceFetcher;
}

/** Starts Pomegrenade: recovers persisted projects, then serves gRPC. */
export function startPomegrenade(
  config: PomegrenadeConfig,
  logger: Logger = createLogger('pomegrenade', config.log),
  overrides: PomegrenadeOverrides = {},
): ServiceHandle {
  let grpc: GrpcEndpoint | undefined;
  let engine: Engine | undefined;
  let source: GitArchiveSource | undefined;
  let logs: LogBook | undefined;
  let swarm: SwarmRuntime | undefined;
  const ready = (async () => {
    if (config.sandbox === 'bwrap' && !overrides.runtime) {
      const why = sandboxUnavailableReason();
      if (why)
        throw new Error(
          `pomegrenade cannot sandbox apps: ${why}; set PAASTECH_SANDBOX=none to run them unconfined (unsafe)`,
        );
    }
    if (config.sandbox === 'bwrap' && !overrides.runtime && config.instanceNetwork) {
      const why = networkUnavailableReason();
      if (why)
        throw new Error(
          `pomegrenade cannot give apps their own network: ${why}; set PAASTECH_INSTANCE_NETWORK=host to share the host's network (no network isolation)`,
        );
    }
    if (config.sandbox === 'none')
      logger.warn("PAASTECH_SANDBOX=none: apps and builds run UNSANDBOXED with the platform's privileges");
    const secret = resolveInternalSecret(config);
    const stateDir = path.join(config.dataDir, 'pomegrenade');
    const store = new StateStore(stateDir, path.join(config.dataDir, 'keys'));
    logs = new LogBook(store.projectsDir());
    const book = logs;
    source = new GitArchiveSource(config.gitGrpcAddress, secret);
    const local =
      config.sandbox === 'none'
        ? new UnconfinedRuntime()
        : new LocalRuntime({ sandbox: config.sandbox, stateDir, logger, network: config.instanceNetwork });
    // PAASTECH_RUNTIME=swarm: builds stay in this machine's sandbox, instances run as Swarm services.
    swarm =
      !overrides.runtime && config.runtime === 'swarm'
        ? await connectSwarm({ ...config.swarm, socketPath: config.swarm.dockerSocket, local, logger })
        : undefined;
    const runtime = overrides.runtime ?? swarm ?? local;
    // The disk quota of builds (what the real runtimes' builds write on this host's disk).
    const disk = overrides.runtime
      ? undefined
      : await DiskQuotas.create({
          projectsDir: store.projectsDir(),
          maxBytes: config.limitBounds.diskBytes,
          logger,
        });
    engine = new Engine({
      runtime,
      disk,
      // The swarm runtime's own builders (a repository Dockerfile) come first; the local runtime ignores Dockerfiles.
      builders: overrides.builders ?? [...(swarm?.builders ?? []), ...defaultBuilders()],
      source: overrides.source ?? source,
      store,
      logs: (id) => book.get(id),
      forgetLogs: (id) => book.forget(id),
      logger,
      settings: config,
    });
    await engine.recover();
    const e = engine;
    const traffic = new TrafficCounters();
    grpc = await serveGrpc({
      address: config.grpcAddress,
      secret,
      services: [SERVICE_NAMES.deploy, SERVICE_NAMES.routing],
      register: (server) => {
        server.addService(deploy.DeploymentServiceService, deploymentService(e, traffic));
        server.addService(routing.RoutingServiceService, routingService(e, traffic, logger));
      },
    });
    logger.info(
      { address: config.grpcAddress, runtime: runtime.kind, sandbox: config.sandbox },
      'pomegrenade listening',
    );
  })();
  return {
    name: 'pomegrenade',
    ready,
    endpoints: () => [{ label: 'pomegrenade gRPC', url: config.grpcAddress }],
    async stop() {
      await grpc?.stop();
      await engine?.shutdown();
      swarm?.close();
      logs?.flushAll();
      source?.close();
      logger.info('pomegrenade stopped');
    },
  };
}
