// The deployment routes' use cases: resolve `:name` with the projects module's ownership rule
// (another Client's project is a 404, exactly like a missing one), then call the deployments domain
// and map the results to response shapes.
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import type { DeploymentEvent } from './deployment-events.js';
import {
  type DeploymentDetailDto,
  type DeploymentDto,
  type DeploymentListDto,
  type LogLinesDto,
  mapDeployment,
  mapDeploymentDetail,
  mapLogLine,
  mapStatus,
  type ProjectStatusDto,
} from './deployments.dto.js';
import { DeploymentsService } from './deployments.service.js';
import { type Formation, parseFormation } from './formation.js';
import { type LogsQuery } from './logs-query.js';
import type { SseEvent } from './sse.js';

/** Largest deployment number a path may name (beyond it: 404, like any missing deployment). */
const NUMBER_MAX = 2_147_483_647;

/** Parses `:number` (`3` or `v3`); anything else is a number no deployment has. */
export function parseDeploymentNumber(text: string): number {
  const m = /^v?([1-9][0-9]{0,9})$/.exec(text);
  const n = m ? Number(m[1]) : 0;
  return n <= NUMBER_MAX ? n : 0;
}

/** A deployment event as a server-sent event. */
function toSse(e: DeploymentEvent): SseEvent {
  const { type, ...data } = e;
  return { event: type, data };
}

@Injectable()
export class ProjectDeployments {
  constructor(
    private readonly projects: ProjectsService,
    private readonly deployments: DeploymentsService,
    private readonly audit: AuditService,
  ) {}

  async list(clientId: string, name: string): Promise<DeploymentListDto> {
    const project = await this.projects.requireOwned(clientId, name);
    return { deployments: (await this.deployments.repo.list(project.id)).map(mapDeployment) };
  }

  async get(clientId: string, name: string, number: string): Promise<DeploymentDetailDto> {
    const project = await this.projects.requireOwned(clientId, name);
    return mapDeploymentDetail(await this.deployments.require(project, parseDeploymentNumber(number)));
  }

  /** Checks access now; the returned stream follows the deployment until it ends. */
  async events(
    clientId: string,
    name: string,
    number: string,
  ): Promise<(signal: AbortSignal) => AsyncIterable<SseEvent>> {
    const project = await this.projects.requireOwned(clientId, name);
    const row = await this.deployments.require(project, parseDeploymentNumber(number));
    const deployments = this.deployments;
    return async function* (signal) {
      const until = AbortSignal.any([signal, deployments.stopSignal]);
      for await (const e of deployments.follow(project, row.number, until)) yield toSse(e);
    };
  }

  async rollback(
    clientId: string,
    name: string,
    number: number | undefined,
    ip: string | null,
  ): Promise<DeploymentDto> {
    const project = await this.projects.requireOwned(clientId, name);
    const row = await this.deployments.rollback(project, clientId, number);
    await this.audit.record(clientId, 'deployment.rollback', `project:${name}`, ip, {
      number: row.number,
      to: number ?? null,
      // The config vars it restores once live (names only, as config changes are audited).
      config: Object.keys(this.deployments.snapshot(row)).sort(),
    });
    return mapDeployment(row);
  }

  async formation(clientId: string, name: string): Promise<{ formation: Formation }> {
    const project = await this.projects.requireOwned(clientId, name);
    return { formation: await this.deployments.desiredFormation(project.id) };
  }

  async scale(
    clientId: string,
    name: string,
    raw: unknown,
    ip: string | null,
  ): Promise<{ formation: Formation }> {
    const formation = parseFormation(raw);
    const project = await this.projects.requireOwned(clientId, name);
    const result = await this.deployments.scale(project, formation);
    await this.audit.record(clientId, 'formation.change', `project:${name}`, ip, { formation: result });
    return { formation: result };
  }

  async restart(
    clientId: string,
    name: string,
    processType: string | undefined,
    ip: string | null,
  ): Promise<void> {
    const project = await this.projects.requireOwned(clientId, name);
    if (processType !== undefined) parseFormation({ [processType]: 0 });
    await this.deployments.pomegrenade.restartProject(project.id, processType ?? '');
    await this.audit.record(clientId, 'project.restart', `project:${name}`, ip, {
      process_type: processType ?? null,
    });
  }

  async status(clientId: string, name: string): Promise<ProjectStatusDto> {
    const project = await this.projects.requireOwned(clientId, name);
    return mapStatus(await this.deployments.pomegrenade.getProjectStatus(project.id), Date.now());
  }

  /** Past log lines (not following). */
  async logs(clientId: string, name: string, query: LogsQuery): Promise<LogLinesDto> {
    const project = await this.projects.requireOwned(clientId, name);
    const lines = [];
    const request = { projectId: project.id, follow: false, sources: query.sources, tailLines: query.lines };
    for await (const line of this.deployments.pomegrenade.streamLogs(request)) lines.push(mapLogLine(line));
    return { lines };
  }

  /** Checks access now; the returned stream sends past lines, then new ones as they are written. */
  async followLogs(
    clientId: string,
    name: string,
    query: LogsQuery,
  ): Promise<(signal: AbortSignal) => AsyncIterable<SseEvent>> {
    const project = await this.projects.requireOwned(clientId, name);
    const pomegrenade = this.deployments.pomegrenade;
    // Asked before the stream opens, so an unreachable Pomegrenade is a 503, not a broken stream.
    await pomegrenade.getProjectStatus(project.id);
    const request = { projectId: project.id, follow: true, sources: query.sources, tailLines: query.lines };
    const stopping = this.deployments.stopSignal;
    return async function* (signal) {
      for await (const line of pomegrenade.streamLogs(request, AbortSignal.any([signal, stopping])))
        yield { event: 'log', data: mapLogLine(line) };
    };
  }
}
