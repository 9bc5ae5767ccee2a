// Request and response shapes of the deployment routes, as validated and as shown in OpenAPI.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { deploy } from '@paastech/proto';
import { IsInt, IsObject, IsOptional, IsString, Max, Min } from 'class-validator';
import type { DeploymentRow } from './deployments.repository.js';
import { storedFormation } from './formation.js';
import { estimatePercentile } from './latency.js';

const STATES = ['queued', 'building', 'releasing', 'active', 'failed', 'superseded', 'cancelled'];
const FORMATION_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'integer', minimum: 0 },
  example: { web: 2, worker: 1 },
} as const;

export class DeploymentDto {
  @ApiProperty({ example: 3, description: 'v3 is number 3; numbers only grow within a project' })
  number!: number;

  @ApiProperty({
    example: 'c0ffee0000000000000000000000000000000000',
    description: 'full object id of the commit',
  })
  commit_sha!: string;

  @ApiProperty({ example: 'refs/heads/main' })
  ref_name!: string;

  @ApiProperty({ enum: STATES, example: 'active' })
  state!: string;

  @ApiProperty({ enum: ['push', 'config', 'rollback', 'scale'], description: 'what created it' })
  reason!: string;

  @ApiProperty({
    ...FORMATION_SCHEMA,
    description: 'instances per process type ({} = platform default: web 1)',
  })
  formation!: Record<string, number>;

  @ApiProperty({ format: 'date-time', description: 'when it was queued' })
  created_at!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when its build started' })
  started_at!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'when it became active, failed or was cancelled',
  })
  finished_at!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'build failed: npm install exited with code 1' })
  failure_reason!: string | null;
}

export class DeploymentDetailDto extends DeploymentDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'build and release output (bounded: the middle of very long output is left out)',
  })
  build_output!: string | null;
}

export class DeploymentListDto {
  @ApiProperty({ type: [DeploymentDto], description: 'newest first' })
  deployments!: DeploymentDto[];
}

export class RollbackDto {
  @ApiPropertyOptional({
    example: 2,
    description: 'deployment to go back to; default: the previous successful one',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  number?: number;
}

export class FormationDto {
  @ApiProperty({
    ...FORMATION_SCHEMA,
    description: 'instances per process type, 0..10 each, at most 20 in all',
  })
  @IsObject()
  formation!: Record<string, unknown>;
}

export class RestartDto {
  @ApiPropertyOptional({ example: 'web', description: 'process type to restart; default: every instance' })
  @IsOptional()
  @IsString()
  process_type?: string;
}

export class InstanceDto {
  @ApiProperty({ example: 'web.1' })
  name!: string;

  @ApiProperty({ example: 'web' })
  process_type!: string;

  @ApiProperty({ enum: ['starting', 'running', 'unhealthy', 'crashed', 'stopping', 'stopped', 'unknown'] })
  state!: string;

  @ApiProperty({ example: 3, description: 'deployment it runs' })
  deployment!: number;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'seconds since its process started; null when not running',
  })
  uptime_seconds!: number | null;

  @ApiProperty({ description: 'restarts after crashes' })
  restarts!: number;

  @ApiProperty({ description: 'exit code of its last exit; 0 when it never exited' })
  last_exit_code!: number;

  @ApiProperty()
  memory_bytes!: number;

  @ApiProperty()
  memory_limit_bytes!: number;

  @ApiProperty({ description: 'CPU over the last sampling interval, in thousandths of a core' })
  cpu_millicores!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'node-2',
    description:
      'host name of the node it runs on (swarm runtime); null when the runtime names none (local runtime)',
  })
  node!: string | null;
}

export class StatusClassesDto {
  @ApiProperty({ description: 'answers 100–199 (101 to a WebSocket upgrade)' })
  '1xx'!: number;

  @ApiProperty({ description: 'answers 200–299' })
  '2xx'!: number;

  @ApiProperty({ description: 'answers 300–399' })
  '3xx'!: number;

  @ApiProperty({ description: "answers 400–499, the router's 400, 404 and 413 pages included" })
  '4xx'!: number;

  @ApiProperty({ description: "answers 500–599: the app's, and the router's 502, 503 and 504" })
  '5xx'!: number;
}

const STATUS_CLASSES_NOTE =
  'requests by status class of the answer visitors got; null when the router reported none (a router older than these counts)';

export class LatencyEstimateDto {
  @ApiProperty({
    example: 250,
    description:
      'upper bound (ms) of the histogram bucket holding the percentile: the percentile is at most this; with above, the last bound',
  })
  ms!: number;

  @ApiProperty({
    description: 'true when the percentile is in the overflow bucket: slower than ms, the last bound',
  })
  above!: boolean;
}

const ESTIMATE_NOTE = 'estimated from the histogram; null when the interval counted no request';

export class LatencyHistogramDto {
  @ApiProperty({
    type: [Number],
    example: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    description: "upper bounds of the buckets in ms, ascending (the router's buckets)",
  })
  buckets_ms!: number[];

  @ApiProperty({
    type: [Number],
    description:
      'answers per bucket, from the request reaching the router to the end of the response: one count per bound, then the overflow (slower than the last bound)',
  })
  counts!: number[];

  @ApiProperty({ type: LatencyEstimateDto, nullable: true, description: `median; ${ESTIMATE_NOTE}` })
  p50!: LatencyEstimateDto | null;

  @ApiProperty({ type: LatencyEstimateDto, nullable: true, description: `95th percentile; ${ESTIMATE_NOTE}` })
  p95!: LatencyEstimateDto | null;

  @ApiProperty({ type: LatencyEstimateDto, nullable: true, description: `99th percentile; ${ESTIMATE_NOTE}` })
  p99!: LatencyEstimateDto | null;
}

export class TrafficWindowDto {
  @ApiProperty({ format: 'date-time', description: 'start of the interval' })
  start!: string;

  @ApiProperty({ format: 'date-time', description: 'end of the interval: when the router last reported' })
  end!: string;

  @ApiProperty({ example: 30, description: 'length of the interval, in seconds' })
  seconds!: number;

  @ApiProperty({ description: 'requests in the interval (to instances and answered by the router)' })
  requests!: number;

  @ApiProperty({ description: 'of those, answered with 5xx by the app' })
  server_errors!: number;

  @ApiProperty({ description: 'of those, answered 502, 503 or 504 by the router itself' })
  router_errors!: number;

  @ApiProperty({
    type: StatusClassesDto,
    nullable: true,
    description:
      'requests in the interval by status class; null when the last report carried none for the project (an older router, or no request)',
  })
  by_status_class!: StatusClassesDto | null;

  @ApiProperty({
    type: LatencyHistogramDto,
    nullable: true,
    description:
      'how long the answers in the interval took, with p50/p95/p99 estimates; null when the last report carried none for the project (an older router, or no request)',
  })
  latency!: LatencyHistogramDto | null;
}

export class ProjectTrafficDto {
  @ApiProperty({
    format: 'date-time',
    description: 'counts start here: when the platform (Pomegrenade) last started',
  })
  counted_since!: string;

  @ApiProperty({ description: 'requests the router got for the project (to instances and answered by it)' })
  requests!: number;

  @ApiProperty({ description: 'of those, answered with a 5xx status by the app' })
  server_errors!: number;

  @ApiProperty({
    description: 'of those, answered 502, 503 or 504 by the router itself (no healthy instance, timeout)',
  })
  router_errors!: number;

  @ApiProperty({ description: 'request bytes received from visitors' })
  bytes_in!: number;

  @ApiProperty({ description: 'response bytes sent to visitors' })
  bytes_out!: number;

  @ApiProperty({
    type: StatusClassesDto,
    nullable: true,
    description: `${STATUS_CLASSES_NOTE}; they add up to requests unless such an older router counted some too`,
  })
  by_status_class!: StatusClassesDto | null;

  @ApiProperty({
    type: TrafficWindowDto,
    nullable: true,
    description: "the router's last report interval; null until the router reported once",
  })
  last_window!: TrafficWindowDto | null;
}

export class ProjectStatusDto {
  @ApiProperty({ type: Number, nullable: true, description: 'the number of the active deployment' })
  active_deployment!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'a deployment queued, building or releasing' })
  pending_deployment!: number | null;

  @ApiProperty({ ...FORMATION_SCHEMA })
  formation!: Record<string, number>;

  @ApiProperty({ type: [InstanceDto] })
  instances!: InstanceDto[];

  @ApiProperty({ description: 'true while the project is stopped' })
  stopped!: boolean;

  @ApiProperty({ description: "disk used by the project's builds and logs, in bytes" })
  disk_used_bytes!: number;

  @ApiProperty({
    type: ProjectTrafficDto,
    description: "requests the router counted, from the router's reports",
  })
  traffic!: ProjectTrafficDto;
}

export class LogLineDto {
  @ApiProperty({ format: 'date-time' })
  time!: string;

  @ApiProperty({
    example: 'web.1',
    description: 'build, release, <process type>.<index>, router or platform',
  })
  source!: string;

  @ApiProperty()
  text!: string;

  @ApiProperty({ description: 'deployment the line belongs to; 0 for none' })
  deployment!: number;
}

export class LogLinesDto {
  @ApiProperty({ type: [LogLineDto], description: 'oldest first' })
  lines!: LogLineDto[];
}

/** The response form of a deployment (never its config snapshot: that holds secrets). */
export function mapDeployment(row: DeploymentRow): DeploymentDto {
  return {
    number: row.number,
    commit_sha: row.commit_sha,
    ref_name: row.ref_name,
    state: row.state,
    reason: row.reason,
    formation: storedFormation(row.formation),
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    failure_reason: row.failure_reason,
  };
}

/** The response form of a deployment with its build output. */
export function mapDeploymentDetail(row: DeploymentRow): DeploymentDetailDto {
  return { ...mapDeployment(row), build_output: row.build_output };
}

/** The response form of one instance; uptime is measured against `now`. */
export function mapInstance(i: deploy.Instance, now: number): InstanceDto {
  const states = ['unknown', 'starting', 'running', 'unhealthy', 'crashed', 'stopping', 'stopped'];
  return {
    name: `${i.processType}.${i.index}`,
    process_type: i.processType,
    state: states[i.state] ?? 'unknown',
    deployment: i.deploymentNumber,
    uptime_seconds: i.startedAt ? Math.max(0, Math.floor((now - i.startedAt.getTime()) / 1000)) : null,
    restarts: i.restartCount,
    last_exit_code: i.lastExitCode,
    memory_bytes: Number(i.memoryBytes),
    memory_limit_bytes: Number(i.memoryLimitBytes),
    cpu_millicores: i.cpuMillicores,
    node: i.node || null,
  };
}

/** The response form of a project's running state. */
export function mapStatus(s: deploy.GetProjectStatusResponse, now: number): ProjectStatusDto {
  return {
    active_deployment: s.activeDeployment?.number ?? null,
    pending_deployment: s.pendingDeployment?.number ?? null,
    formation: s.formation,
    instances: s.instances.map((i) => mapInstance(i, now)),
    stopped: s.stopped,
    disk_used_bytes: Number(s.diskUsedBytes),
    traffic: mapTraffic(s.traffic, now),
  };
}

/** The response form of a project's traffic; an older Pomegrenade that sends none reads as zeros. */
export function mapTraffic(t: deploy.ProjectTraffic | undefined, now: number): ProjectTrafficDto {
  const w = t?.lastWindow;
  const unavailable = Number(t?.unavailableCount ?? 0);
  return {
    counted_since: (t?.countedSince ?? new Date(now)).toISOString(),
    requests: Number(t?.requestCount ?? 0) + unavailable,
    server_errors: Number(t?.serverErrorCount ?? 0),
    router_errors: unavailable,
    bytes_in: Number(t?.bytesIn ?? 0),
    bytes_out: Number(t?.bytesOut ?? 0),
    by_status_class: mapStatusClasses(t?.byStatusClass),
    last_window: w ? mapTrafficWindow(w) : null,
  };
}

/** The response form of counts by status class; null when Pomegrenade has none. */
function mapStatusClasses(c: deploy.TrafficStatusClasses | undefined): StatusClassesDto | null {
  if (!c) return null;
  return {
    '1xx': Number(c.informational),
    '2xx': Number(c.success),
    '3xx': Number(c.redirection),
    '4xx': Number(c.clientError),
    '5xx': Number(c.serverError),
  };
}

/** The response form of the router's last report interval. */
function mapTrafficWindow(w: deploy.ProjectTrafficWindow): TrafficWindowDto {
  const end = w.windowEnd ?? new Date(0);
  const start = w.windowStart ?? end;
  return {
    start: start.toISOString(),
    end: end.toISOString(),
    seconds: Math.max(0, Math.round((end.getTime() - start.getTime()) / 1000)),
    requests: Number(w.requestCount) + Number(w.unavailableCount),
    server_errors: Number(w.serverErrorCount),
    router_errors: Number(w.unavailableCount),
    by_status_class: mapStatusClasses(w.byStatusClass),
    latency: mapLatency(w.latency),
  };
}

/** The response form of a latency histogram with its percentile estimates; null when there is none. */
function mapLatency(l: deploy.TrafficLatencyHistogram | undefined): LatencyHistogramDto | null {
  if (!l || l.counts.length !== l.upperBoundsMs.length + 1) return null;
  const bounds = l.upperBoundsMs.map(Number);
  const counts = l.counts.map(Number);
  const at = (p: number) => estimatePercentile(bounds, counts, p);
  return { buckets_ms: bounds, counts, p50: at(50), p95: at(95), p99: at(99) };
}

/** The response form of a log line. */
export function mapLogLine(l: deploy.LogLine): LogLineDto {
  return {
    time: (l.time ?? new Date(0)).toISOString(),
    source: l.source,
    text: l.text,
    deployment: l.deploymentNumber,
  };
}
