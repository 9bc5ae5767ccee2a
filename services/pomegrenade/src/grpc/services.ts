// gRPC transport of Pomegrenade: paastech.deploy.v1.DeploymentService and
// paastech.routing.v1.RoutingService. Thin adapters over the Engine: decode, call, map; domain
// errors become gRPC statuses through kit's one mapper (toGrpcError).
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, type Logger, toGrpcError } from '@paastech/kit';
import { deploy, routing } from '@paastech/proto';
import type { Engine, NewDeployment } from '../domain/engine.js';
import type { TaskStatus } from '../domain/ports.js';
import type { TrafficCounters } from '../domain/traffic.js';
import { matchesLogQuery } from '../store/logs.js';
import {
  mapDeployment,
  mapEvent,
  mapInstance,
  mapLogLine,
  mapRoute,
  mapTask,
  mapTraffic,
  toTrafficReport,
} from './mappers.js';

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

/** Wraps an async handler: its result or its error (mapped) goes to the callback. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res): Unary<Req, Res> {
  return (call, cb) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => cb(null, res),
        (err) => cb(toGrpcError(err) as grpc.ServiceError),
      );
  };
}

/** Decodes a CreateDeploymentRequest. */
function toNewDeployment(r: deploy.CreateDeploymentRequest): NewDeployment {
  const kind = r.source?.kind;
  if (!kind)
    throw new InvalidArgumentError('source must be set (git or build_of_deployment_number)', [
      { field: 'source', message: 'required' },
    ]);
  return {
    projectId: r.projectId,
    projectName: r.projectName,
    number: r.deploymentNumber,
    commitSha: r.commitSha,
    source:
      kind.$case === 'git'
        ? {
            kind: 'git',
            refName: kind.value.refName,
            ...(kind.value.quarantine ? { quarantine: kind.value.quarantine } : {}),
          }
        : { kind: 'build_of', number: kind.value },
    configVars: r.configVars,
    formation: r.formation,
    domains: r.domains.map((d) => d.toLowerCase()),
    httpsRedirect: r.httpsRedirect,
    builder: r.build?.builder ?? '',
    buildpackUrl: r.build?.buildpackUrl ?? '',
    buildTimeoutSeconds: r.build?.timeoutSeconds ?? 0,
    healthCheckPath: r.healthCheck?.path ?? '',
    healthTimeoutSeconds: r.healthCheck?.timeoutSeconds ?? 0,
    limits: {
      memoryBytes: r.limits?.memoryBytes ?? 0,
      cpuMillicores: r.limits?.cpuMillicores ?? 0,
      maxProcesses: r.limits?.maxProcesses ?? 0,
      diskBytes: r.limits?.diskBytes ?? 0,
    },
    egressDisabled: r.egressDisabled ?? false,
  };
}

/** DeploymentService handlers; `traffic` holds the router's counts shown in GetProjectStatus. */
export function deploymentService(engine: Engine, traffic: TrafficCounters): deploy.DeploymentServiceServer {
  return {
    createDeployment: unary((r: deploy.CreateDeploymentRequest) => ({
      deployment: mapDeployment(r.projectId, engine.create(toNewDeployment(r))),
    })),
    getDeployment: unary((r: deploy.GetDeploymentRequest) => ({
      deployment: mapDeployment(r.projectId, engine.getDeployment(r.projectId, r.deploymentNumber)),
    })),
    listDeployments: unary((r: deploy.ListDeploymentsRequest) => ({
      deployments: engine.listDeployments(r.projectId, r.limit).map((d) => mapDeployment(r.projectId, d)),
    })),
    watchDeployment: (
      call: grpc.ServerWritableStream<deploy.WatchDeploymentRequest, deploy.WatchDeploymentResponse>,
    ) => {
      const { projectId, deploymentNumber } = call.request;
      let d: ReturnType<Engine['getDeployment']>;
      try {
        d = engine.getDeployment(projectId, deploymentNumber);
      } catch (err) {
        // emit('error'), not destroy(): grpc-js sends no status for a destroyed server stream.
        call.emit('error', toGrpcError(err));
        return;
      }
      if (!engine.events.has(projectId, deploymentNumber)) {
        call.write(
          mapEvent(
            {
              kind: 'state',
              state: d.state,
              time: new Date(d.stateChangedAt),
              ...(d.failure && d.state === 'failed' ? { failure: d.failure } : {}),
            },
            deploymentNumber,
          ),
        );
      }
      const stop = engine.events.watch(projectId, deploymentNumber, engine.isEnded(d), (e) => {
        if (e === null) call.end();
        else call.write(mapEvent(e, deploymentNumber));
      });
      call.on('cancelled', stop);
      call.on('close', stop);
    },
    cancelDeployment: unary((r: deploy.CancelDeploymentRequest) => ({
      deployment: mapDeployment(r.projectId, engine.cancel(r.projectId, r.deploymentNumber)),
    })),
    activateDeployment: unary((r: deploy.ActivateDeploymentRequest) => ({
      deployment: mapDeployment(r.projectId, engine.activateEarlier(r.projectId, r.deploymentNumber)),
    })),
    scaleProject: unary((r: deploy.ScaleProjectRequest) => ({
      formation: engine.scale(r.projectId, r.formation),
    })),
    restartProject: unary((r: deploy.RestartProjectRequest) => {
      engine.restart(r.projectId, r.processType, r.instanceIndex);
      return {};
    }),
    stopProject: unary(async (r: deploy.StopProjectRequest) => {
      await engine.stop(r.projectId);
      return {};
    }),
    startProject: unary(async (r: deploy.StartProjectRequest) => {
      await engine.start(r.projectId);
      return {};
    }),
    updateProjectRouting: unary(async (r: deploy.UpdateProjectRoutingRequest) => {
      await engine.updateRouting(r.projectId, {
        name: r.projectName,
        domains: r.domains,
        httpsRedirect: r.httpsRedirect,
        ...(r.egressDisabled === undefined ? {} : { egressDisabled: r.egressDisabled }),
      });
      return {};
    }),
    deleteProject: unary(async (r: deploy.DeleteProjectRequest) => {
      const freedBytes = await engine.deleteProject(r.projectId);
      traffic.forget(r.projectId);
      return { freedBytes };
    }),
    streamLogs: (call: grpc.ServerWritableStream<deploy.StreamLogsRequest, deploy.StreamLogsResponse>) => {
      const r = call.request;
      if (!engine.hasProject(r.projectId)) {
        if (r.follow) return; // nothing yet: the stream stays open until the client leaves
        call.end();
        return;
      }
      const log = engine.logsOf(r.projectId);
      const query = { sources: r.sources, tail: r.tailLines, ...(r.since ? { since: r.since } : {}) };
      const past = log.read(query);
      for (let i = 0; i < past.length; i += 500)
        call.write({ lines: past.slice(i, i + 500).map(mapLogLine) });
      if (!r.follow) {
        call.end();
        return;
      }
      const stop = log.follow((e) => {
        if (matchesLogQuery(e, query)) call.write({ lines: [mapLogLine(e)] });
      });
      call.on('cancelled', stop);
      call.on('close', stop);
    },
    getProjectStatus: unary(async (r: deploy.GetProjectStatusRequest) => {
      const s = engine.status(r.projectId);
      const t = mapTraffic(traffic.of(r.projectId));
      if (!s) {
        // Unknown project: the empty status, with traffic only if the router counted some.
        const empty = { formation: {}, instances: [], stopped: false, diskUsedBytes: 0 };
        return traffic.has(r.projectId) ? { ...empty, traffic: t } : empty;
      }
      return {
        traffic: t,
        activeDeployment: s.active ? mapDeployment(r.projectId, s.active) : undefined,
        pendingDeployment: s.pending ? mapDeployment(r.projectId, s.pending) : undefined,
        formation: s.formation,
        instances: [
          ...(await Promise.all(s.instances.map(mapInstance))),
          ...(s.tasks.length > 0 ? await taskInstances(engine, r.projectId, s.tasks) : []),
        ],
        stopped: s.record.stopped,
        diskUsedBytes: s.diskUsed,
      };
    }),
  };
}

/** Orchestrated instances with the usage the runtime could sample (none when sampling fails). */
async function taskInstances(
  engine: Engine,
  projectId: string,
  tasks: TaskStatus[],
): Promise<deploy.Instance[]> {
  const usage = await engine.taskUsage(projectId).catch(() => new Map());
  return tasks.map((t) => mapTask(t, usage.get(`${t.processType}.${t.index}`)));
}

/** RoutingService handlers; router reports are summed into `traffic`. */
export function routingService(
  engine: Engine,
  traffic: TrafficCounters,
  logger: Logger,
): routing.RoutingServiceServer {
  return {
    watchRoutes: (
      call: grpc.ServerWritableStream<routing.WatchRoutesRequest, routing.WatchRoutesResponse>,
    ) => {
      logger.info({ routerId: call.request.routerId }, 'router watching routes');
      const stop = engine.routes.watch((u) => {
        if (u.kind === 'snapshot')
          call.write({ update: { $case: 'snapshot', value: { routes: u.routes.map(mapRoute) } } });
        else
          call.write({
            update: {
              $case: 'change',
              value: { upsertedRoutes: u.upserted.map(mapRoute), removedProjectIds: u.removed },
            },
          });
      });
      call.on('cancelled', stop);
      call.on('close', stop);
    },
    reportRouterStats: unary((r: routing.ReportRouterStatsRequest) => {
      traffic.record(toTrafficReport(r));
      const seconds =
        r.windowStart && r.windowEnd
          ? Math.round((r.windowEnd.getTime() - r.windowStart.getTime()) / 1000)
          : 0;
      for (const s of r.projects) {
        engine.routerLog(
          s.projectId,
          `${s.requestCount} requests in ${seconds}s: ${s.serverErrorCount} answered 5xx by the app, ${s.unavailableCount} answered 502/503/504 by the router`,
        );
      }
      logger.debug({ projects: r.projects.length }, 'router stats');
      return {};
    }),
  };
}
