// Domain ⇄ proto mapping of Pomegrenade's gRPC transport.
import { deploy, routing } from '@paastech/proto';
import type { DeploymentEvent } from '../domain/events.js';
import type { Instance } from '../domain/instance.js';
import type { DeploymentRecord, DeploymentState, FailureReason } from '../domain/model.js';
import type { TaskStatus } from '../domain/ports.js';
import type { RouteEntry, UnavailableReason } from '../domain/routes.js';
import type { ProjectTraffic, TrafficReport } from '../domain/traffic.js';
import type { LogEntry } from '../store/logs.js';

const STATE: Record<DeploymentState, deploy.DeploymentState> = {
  queued: deploy.DeploymentState.DEPLOYMENT_STATE_QUEUED,
  building: deploy.DeploymentState.DEPLOYMENT_STATE_BUILDING,
  releasing: deploy.DeploymentState.DEPLOYMENT_STATE_RELEASING,
  active: deploy.DeploymentState.DEPLOYMENT_STATE_ACTIVE,
  failed: deploy.DeploymentState.DEPLOYMENT_STATE_FAILED,
  superseded: deploy.DeploymentState.DEPLOYMENT_STATE_SUPERSEDED,
  cancelled: deploy.DeploymentState.DEPLOYMENT_STATE_CANCELLED,
};

const REASON: Record<FailureReason, deploy.DeploymentFailureReason> = {
  source_unavailable: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_SOURCE_UNAVAILABLE,
  no_builder: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_NO_BUILDER,
  build_failed: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_BUILD_FAILED,
  build_timed_out: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_BUILD_TIMED_OUT,
  invalid_procfile: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_INVALID_PROCFILE,
  instance_crashed: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_INSTANCE_CRASHED,
  health_check_failed: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_HEALTH_CHECK_FAILED,
  limit_exceeded: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_LIMIT_EXCEEDED,
  internal: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_INTERNAL,
};

const UNAVAILABLE: Record<UnavailableReason, routing.RouteUnavailableReason> = {
  not_deployed: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_NOT_DEPLOYED,
  building: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_BUILDING,
  starting: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_STARTING,
  crashed: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_CRASHED,
  unhealthy: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_UNHEALTHY,
  scaled_to_zero: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_SCALED_TO_ZERO,
  stopped: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_STOPPED,
  no_web_process: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_NO_WEB_PROCESS,
};

const INSTANCE_STATE: Record<Instance['state'], deploy.InstanceState> = {
  starting: deploy.InstanceState.INSTANCE_STATE_STARTING,
  running: deploy.InstanceState.INSTANCE_STATE_RUNNING,
  unhealthy: deploy.InstanceState.INSTANCE_STATE_UNHEALTHY,
  crashed: deploy.InstanceState.INSTANCE_STATE_CRASHED,
  stopping: deploy.InstanceState.INSTANCE_STATE_STOPPING,
  stopped: deploy.InstanceState.INSTANCE_STATE_STOPPED,
};

/** proto state → domain state (for tests and clients of this module). */
export function stateName(s: deploy.DeploymentState): DeploymentState | undefined {
  return (Object.entries(STATE) as Array<[DeploymentState, deploy.DeploymentState]>).find(
    ([, v]) => v === s,
  )?.[0];
}

/** A deployment record as the proto Deployment. */
export function mapDeployment(projectId: string, d: DeploymentRecord): deploy.Deployment {
  return {
    projectId,
    number: d.number,
    commitSha: d.commitSha,
    state: STATE[d.state],
    failure:
      d.failure && d.state === 'failed'
        ? { reason: REASON[d.failure.reason], message: d.failure.message }
        : undefined,
    createdAt: new Date(d.createdAt),
    stateChangedAt: new Date(d.stateChangedAt),
    buildRetained: d.buildRetained,
    buildSizeBytes: d.build?.sizeBytes ?? 0,
    builder: d.build?.builder ?? d.builder,
    processTypes: Object.keys(d.build?.processes ?? {}),
  };
}

/** A deployment event as one WatchDeployment message. */
export function mapEvent(e: DeploymentEvent, deploymentNumber: number): deploy.WatchDeploymentResponse {
  switch (e.kind) {
    case 'state':
      return {
        event: {
          $case: 'stateChange',
          value: {
            state: STATE[e.state],
            time: e.time,
            failure: e.failure ? { reason: REASON[e.failure.reason], message: e.failure.message } : undefined,
          },
        },
      };
    case 'step':
      return { event: { $case: 'step', value: { title: e.title, time: e.time } } };
    case 'line':
      return {
        event: {
          $case: 'logLine',
          value: { time: e.time, source: e.source, text: e.text, deploymentNumber },
        },
      };
  }
}

/** A log entry as a proto LogLine. */
export function mapLogLine(e: LogEntry): deploy.LogLine {
  return { time: e.time, source: e.source, text: e.text, deploymentNumber: e.deploymentNumber };
}

/** A route entry as a proto Route. */
export function mapRoute(r: RouteEntry): routing.Route {
  return {
    projectId: r.projectId,
    projectName: r.projectName,
    hostnames: r.hostnames,
    upstreamAddresses: r.upstreams,
    unavailableReason: r.unavailable
      ? UNAVAILABLE[r.unavailable.reason]
      : routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_UNSPECIFIED,
    unavailableMessage: r.unavailable?.message ?? '',
    httpsRedirect: r.httpsRedirect,
    deploymentNumber: r.deploymentNumber,
  };
}

/** An instance (with its current usage) as a proto Instance. */
export async function mapInstance(i: Instance): Promise<deploy.Instance> {
  const u = await i.usage();
  return {
    processType: i.spec.processType,
    index: i.spec.index,
    state: INSTANCE_STATE[i.state],
    deploymentNumber: i.spec.deploymentNumber,
    startedAt: i.startedAt,
    restartCount: i.restartCount,
    lastExitCode: i.lastExitCode,
    memoryBytes: u.memoryBytes,
    memoryLimitBytes: i.spec.limits.memoryBytes,
    cpuMillicores: u.cpuMillicores,
    // One machine: every instance runs where paastechd does, so no node is named.
    node: '',
  };
}

/** An orchestrated instance (a Swarm task) as a proto Instance, with its usage when sampled. */
export function mapTask(
  t: TaskStatus,
  usage: { memoryBytes: number; cpuMillicores: number } | undefined,
): deploy.Instance {
  return {
    processType: t.processType,
    index: t.index,
    state: INSTANCE_STATE[t.state],
    deploymentNumber: t.deploymentNumber,
    startedAt: t.startedAt,
    restartCount: t.restartCount,
    lastExitCode: t.lastExitCode,
    memoryBytes: usage?.memoryBytes ?? 0,
    memoryLimitBytes: t.memoryLimitBytes,
    cpuMillicores: usage?.cpuMillicores ?? 0,
    node: t.node,
  };
}

/** Maps a project's traffic counters to the wire. */
export function mapTraffic(t: ProjectTraffic): deploy.ProjectTraffic {
  const w = t.lastWindow;
  return {
    countedSince: t.countedSince,
    requestCount: t.requests,
    serverErrorCount: t.serverErrors,
    unavailableCount: t.unavailable,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
    byStatusClass: t.byStatusClass,
    lastWindow: w
      ? {
          windowStart: w.start,
          windowEnd: w.end,
          requestCount: w.requests,
          serverErrorCount: w.serverErrors,
          unavailableCount: w.unavailable,
          byStatusClass: w.byStatusClass,
          latency: w.latency,
        }
      : undefined,
  };
}

/** Decodes a router report; a missing bound is the other one (a zero-length window). */
export function toTrafficReport(r: routing.ReportRouterStatsRequest, now = new Date()): TrafficReport {
  const end = r.windowEnd ?? now;
  return {
    start: r.windowStart ?? end,
    end,
    projects: new Map(
      r.projects.map((s) => [
        s.projectId,
        {
          requests: s.requestCount,
          serverErrors: s.serverErrorCount,
          unavailable: s.unavailableCount,
          bytesIn: s.bytesIn,
          bytesOut: s.bytesOut,
          byStatusClass: s.byStatusClass,
          latency: s.latency,
        },
      ]),
    ),
  };
}
