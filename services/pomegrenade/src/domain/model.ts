// Pomegrenade's vocabulary: deployments (immutable build + config), their states, and the project
// record persisted per project. Desired state comes from the API in each CreateDeployment request;
// this record is what Pomegrenade needs to re-converge after a restart without asking the API.

/** Where a deployment is in its life. */
export type DeploymentState =
  | 'queued'
  | 'building'
  | 'releasing'
  | 'active'
  | 'failed'
  | 'superseded'
  | 'cancelled';

/** States a deployment never leaves, except active → superseded. */
export const ENDED_STATES: ReadonlySet<DeploymentState> = new Set(['failed', 'superseded', 'cancelled']);

/** Why a deployment failed, one class per thing a person would do about it. */
export type FailureReason =
  | 'source_unavailable'
  | 'no_builder'
  | 'build_failed'
  | 'build_timed_out'
  | 'invalid_procfile'
  | 'instance_crashed'
  | 'health_check_failed'
  | 'limit_exceeded'
  | 'internal';

export interface Failure {
  reason: FailureReason;
  message: string;
}

/** A failure with its class, thrown through the pipeline and recorded on the deployment. */
export class DeploymentFailedError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

/** Limits of each instance (and of builds), already resolved to concrete values. */
export interface Limits {
  memoryBytes: number;
  cpuMillicores: number;
  maxProcesses: number;
  diskBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  memoryBytes: 512 * 1024 * 1024,
  cpuMillicores: 1000,
  maxProcesses: 256,
  diskBytes: 1024 * 1024 * 1024,
};

/** What a build produced: enough to start every process type without the builder again. */
export interface BuildInfo {
  builder: string;
  /** Process type → shell command run in the app directory. */
  processes: Record<string, string>;
  release?: string;
  /** Environment the builder adds for instances (e.g. PATH with a venv). */
  env: Record<string, string>;
  /** Source /app/.profile.d/*.sh before each command (custom buildpacks). */
  profileD?: boolean;
  /** The image the builder built itself (Dockerfile under the swarm runtime). */
  image?: string;
  sizeBytes: number;
}

/** One deployment as Pomegrenade keeps it. */
export interface DeploymentRecord {
  number: number;
  commitSha: string;
  state: DeploymentState;
  failure?: Failure;
  createdAt: string;
  stateChangedAt: string;
  /** Git ref for display, or the earlier deployment whose build is reused. */
  source: { kind: 'git'; refName: string } | { kind: 'build_of'; number: number };
  configVars: Record<string, string>;
  builder: string;
  /** Custom buildpack (directory or https git URL); empty for the built-in builders. */
  buildpackUrl?: string;
  buildTimeoutSeconds: number;
  healthCheckPath: string;
  healthTimeoutSeconds: number;
  limits: Limits;
  build?: BuildInfo;
  buildRetained: boolean;
}

/** Everything persisted about one project. */
export interface ProjectRecord {
  id: string;
  name: string;
  domains: string[];
  httpsRedirect: boolean;
  /** Desired instance count per process type (missing: 1 for web, 0 otherwise). */
  formation: Record<string, number>;
  stopped: boolean;
  activeNumber: number;
  /** uid and gid every process of the project runs as (allocated from a range, never 0). */
  uid: number;
  /** True when the project may not reach the outside world (absent in older records: false). */
  egressDisabled?: boolean;
  deployments: DeploymentRecord[];
}

/** Instances a process type runs under `formation`. */
export function desiredCount(formation: Record<string, number>, processType: string): number {
  return formation[processType] ?? (processType === 'web' ? 1 : 0);
}

const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** True when `id` is safe to use as a directory and cgroup name. */
export function isValidProjectId(id: string): boolean {
  return PROJECT_ID.test(id);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** True when `name` can be an environment variable name. */
export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** The ISO timestamp of now (one place, so tests read the same format everywhere). */
export function nowIso(): string {
  return new Date().toISOString();
}
