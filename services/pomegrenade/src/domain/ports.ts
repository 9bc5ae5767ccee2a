// Ports of the deployment engine: the Runtime that runs sandboxed processes (instances, builds,
// release commands) and the Builders that turn a source tree into an artifact. Implementations:
// runtime/local-runtime.ts (bubblewrap + setpriv + cgroups), runtime/fake-runtime.ts (tests),
// runtime/swarm/swarm-runtime.ts (an orchestrating runtime: Docker Swarm runs the instances).
import type { Readable } from 'node:stream';
import type { Limits } from './model.js';

/** A directory of the host made visible inside the sandbox. */
export interface Bind {
  host: string;
  sandbox: string;
  writable: boolean;
}

/** One process to run in a sandbox. */
export interface ProcessSpec {
  projectId: string;
  /** Unique among running processes; names the cgroup, e.g. "v3-web-1-k2j4". */
  id: string;
  /** Log source, e.g. "web.1", "build", "release". */
  source: string;
  /** Host directory seen as /app inside the sandbox, the working directory. */
  appDir: string;
  appWritable: boolean;
  extraBinds: Bind[];
  /** Argument vector run inside the sandbox, e.g. ["/bin/sh", "-c", procfileCommand]. */
  argv: string[];
  /** The whole environment of the process. */
  env: Record<string, string>;
  limits: Limits;
  uid: number;
  gid: number;
  /** Piped to the process's standard input (e.g. a source archive for `tar -x -f -`); /dev/null
   * when absent. */
  stdin?: Readable;
}

/** What a sandbox prepared ahead of its command is made of: everything but argv and environment. */
export type PreparedSpec = Omit<ProcessSpec, 'argv' | 'env' | 'stdin'>;

/** A sandbox set up ahead of its command (Runtime.prepare): started with `start`, or cancelled. */
export interface PreparedProcess {
  /** The port the instance is to listen on (its PORT). */
  readonly port: number;
  /** False once the sandbox ended on its own (it then must not be started: run a new one). */
  readonly usable: boolean;
  /** Runs `argv` with `env` (PORT included) in the sandbox; output lines so far go to `onLine` too. */
  start(argv: string[], env: Record<string, string>, onLine: (text: string) => void): RunningProcess;
  /** Removes the unused sandbox; resolves once it is gone. */
  cancel(): Promise<void>;
}

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** True when its cgroup recorded an out-of-memory kill. */
  oomKilled: boolean;
}

/** A socket a process listens on (for diagnosing a wrong bind). */
export interface ListeningSocket {
  address: string;
  port: number;
}

/** A started process. */
export interface RunningProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL of everything in its cgroup after `graceMs`; resolves once gone. */
  stop(graceMs: number): Promise<void>;
  /** TCP sockets its processes listen on. */
  listening(): Promise<ListeningSocket[]>;
  /** Memory in use (bytes) and CPU time used so far (microseconds). */
  usage(): Promise<{ memoryBytes: number; cpuMicros: number }>;
}

/** Runs sandboxed processes and hands out the ports web instances listen on. */
export interface Runtime {
  readonly kind: string;
  /** Starts `spec`; every output line (stdout and stderr) goes to `onLine`. */
  run(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess>;
  /**
   * Optional: sets up the sandbox of a web instance before its command and environment are known
   * (while its build runs), listening port included; null when this runtime cannot.
   */
  prepare?(spec: PreparedSpec): Promise<PreparedProcess | null>;
  /**
   * True when RunningProcess.listening() sees every socket the instance listens on (the health
   * check then also requires one on the instance's port); false or absent when it may miss some
   * (processes outside what the runtime tracks), and the probe's answer alone decides.
   */
  readonly knowsListeners?: boolean;
  /** A free port for a new web instance of the project (none of its other instances holds it). */
  allocatePort(projectId: string): Promise<number>;
  /**
   * The address the router uses to reach project `projectId`'s instance listening on `port` (two
   * projects' instances may listen on the same port, each in its own network).
   */
  upstreamAddress(projectId: string, port: number): string;
  /** Kills and removes whatever a previous run of the platform left behind; returns how many. */
  cleanupLeftovers(): Promise<number>;
  /** Removes what the runtime keeps for a deleted project. */
  forgetProject(projectId: string): Promise<void>;
  /** Lets the project's processes reach the outside world or not, running ones included
   * (runtimes without a network of their own per project have nothing to switch). */
  setEgress?(projectId: string, on: boolean): Promise<void>;
  /**
   * Present on runtimes whose instances an orchestrator (Docker Swarm, later Kubernetes) runs and
   * supervises. The engine then hands it whole deployments instead of starting, health-checking,
   * restarting and draining instances itself; builds and release commands still go through `run`
   * on this machine. Absent (the local runtime): the engine supervises every instance.
   */
  readonly orchestrator?: Orchestrator;
}

/**
 * The desired state of a project's processes for one deployment: everything an orchestrator needs
 * to realise it, and nothing of how (the engine keeps deployments, formation and config apart from
 * services, tasks and images).
 */
export interface DesiredDeployment {
  projectId: string;
  projectName: string;
  deploymentNumber: number;
  /** The deployment whose build this is (itself, or the one a rollback or config change reuses). */
  buildNumber: number;
  /** The build's tree (builds/v<buildNumber>/app): what becomes the image. */
  appDir: string;
  /** The image the build made itself (BuildOutput.image): pushed as it is instead of one made
   * from `appDir` (which then holds the build context, to build it again if it is gone). */
  builtImage?: string;
  /** Process type → shell command run in /app (.profile.d sourcing already applied). */
  processes: Record<string, string>;
  /** Instances per process type, every type of `processes` present (0 allowed; all 0 when stopped). */
  formation: Record<string, number>;
  /** Environment of every process: build env, config vars, PAASTECH_DEPLOYMENT. Never baked into an
   * image. The runtime adds PORT (web) and PAASTECH_INSTANCE. */
  env: Record<string, string>;
  limits: Limits;
  /** uid and gid the processes run as (the project's). */
  uid: number;
  /** HTTP path of the health check ("" = "/"). */
  healthPath: string;
  healthTimeoutSeconds: number;
  /** How long a replaced instance keeps serving after traffic left it, and then SIGTERM → SIGKILL. */
  drainSeconds: number;
  stopGraceSeconds: number;
  /** Process types whose instances are all replaced although nothing else changed (RestartProject). */
  restart: string[];
  /** True when the project may not reach the outside world. */
  egressDisabled: boolean;
}

/** The state of one orchestrated instance (a Swarm task), in the engine's instance vocabulary. */
export type TaskState = 'starting' | 'running' | 'unhealthy' | 'crashed' | 'stopping' | 'stopped';

/** One instance as the orchestrator reports it. */
export interface TaskStatus {
  processType: string;
  /** Slot of the instance: "web.2" is index 2. */
  index: number;
  deploymentNumber: number;
  state: TaskState;
  /** The node (hostname) it runs on. */
  node: string;
  /** "host:port" the router reaches it at (web instances that serve), else "". */
  address: string;
  startedAt?: Date;
  /** Earlier instances of the same slot and deployment that ended (Swarm restarted them). */
  restartCount: number;
  lastExitCode: number;
  /** The orchestrator's message when it failed ("task: non-zero exit (1)", "unhealthy container"). */
  message: string;
  memoryLimitBytes: number;
}

/** What an orchestrator tells the engine about a project it watches. */
export interface OrchestratorHooks {
  /** The project's whole task list, whenever something in it changed. */
  onTasks(tasks: TaskStatus[]): void;
  /** A line of an instance's output (`source` "web.1"), and platform messages (`source` "platform"). */
  onLine(source: string, text: string, deploymentNumber: number): void;
}

/** Why a rollout did not become live, and the last lines of the instance it names. */
export interface RolloutFailure {
  reason: 'instance_crashed' | 'health_check_failed' | 'limit_exceeded' | 'internal';
  message: string;
  /** Source of `tail` ("web.1"), when one instance is to blame. */
  instance?: string;
  tail: string[];
}

/** Thrown by `rollOut` when the deployment did not become live (the previous one still serves). */
export class RolloutFailedError extends Error {
  constructor(readonly failure: RolloutFailure) {
    super(failure.message);
  }
}

/**
 * Deployment-level operations of an orchestrating runtime. Invariants the engine relies on:
 * `rollOut` starts the new instances beside the old ones and resolves only once every new web
 * instance runs and passed its health check as seen from the router; when it rejects, the previous
 * deployment keeps serving (the orchestrator rolled its services back). The orchestrator keeps
 * instances running when the platform stops: `detach` only stops watching.
 */
export interface Orchestrator {
  /** Turns a finished build into what instances run from (image, pushed where every node pulls
   * it); lines go to the build output. Idempotent per (project, build number). */
  prepare(d: DesiredDeployment, signal: AbortSignal, onLine: (text: string) => void): Promise<void>;
  /**
   * Moves the project's instances to `d` (rolling update, or replicas only when nothing else
   * changed; process types `d` does not declare are removed once it is live); resolves once `d` is
   * live and the hooks of `attach` heard of its instances. Rejects with RolloutFailedError
   * (diagnosis + last lines).
   */
  rollOut(d: DesiredDeployment, signal?: AbortSignal): Promise<void>;
  /** Starts watching a project (tasks and their output, to `hooks`), also after a platform restart:
   * resolves with the deployment its services run, or null when it has none. */
  attach(projectId: string, hooks: OrchestratorHooks): Promise<number | null>;
  /** Stops watching a project; its instances keep running. */
  detach(projectId: string): void;
  /** Deletes the images of builds no longer kept for rollback (`keep`: build numbers to keep). */
  pruneImages(projectId: string, keep: number[]): Promise<void>;
  /** Memory in use (bytes) and CPU (thousandths of a core) of each instance ("web.1") that can be
   * sampled; instances on other nodes may be missing. */
  usage(projectId: string): Promise<Map<string, { memoryBytes: number; cpuMillicores: number }>>;
}

/** Options of one build command. */
export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** More host directories to show inside the sandbox. */
  binds?: Bind[];
  /** Receives the output lines instead of the build log (e.g. bin/release's YAML). */
  capture?: (line: string) => void;
  /** Piped to the command's standard input. */
  stdin?: Readable;
}

/** What a builder may do while building. */
export interface BuildContext {
  /** Host directory holding the source tree; the builder turns it into the artifact in place. */
  appDir: string;
  /** Per-project directory kept across builds (dependency caches). */
  cacheDir: string;
  configVars: Record<string, string>;
  /** Runs argv in the build sandbox (cwd /app, cache at /cache); rejects on non-zero exit. */
  exec(argv: string[], options?: ExecOptions): Promise<void>;
  /** Prints a step header `-----> title`. */
  step(title: string): void;
  /** Prints an indented line of builder output. */
  info(text: string): void;
  /** The project and deployment being built (for what a builder names after them: an image). */
  projectId: string;
  number: number;
  /** Aborted when the deployment is cancelled. */
  signal: AbortSignal;
  /** When the build's time limit runs out (ms since the epoch); `exec` enforces it by itself. */
  deadline: number;
  /** The build's memory and CPU limits (buildLimits): `exec` runs under them; a builder that runs
   * commands elsewhere (a Docker daemon) applies them itself. */
  limits: Pick<Limits, 'memoryBytes' | 'cpuMillicores'>;
}

/** What a builder leaves behind for the instances. */
export interface BuildOutput {
  /** Default commands per process type (a Procfile entry overrides them). */
  defaultProcesses: Record<string, string>;
  /** Environment for instances (e.g. PATH including a venv). */
  env: Record<string, string>;
  /** Source /app/.profile.d/*.sh before every process command (Heroku buildpack convention). */
  profileD?: boolean;
  /** An image the builder built itself (a repository Dockerfile, swarm runtime only), tagged but
   * not pushed: the orchestrator runs it instead of making one from the artifact. */
  image?: string;
}

/** Turns a source tree into something runnable. */
export interface Builder {
  readonly name: string;
  /** True when the source tree looks like this builder's kind of app. */
  detect(appDir: string): Promise<boolean>;
  build(ctx: BuildContext): Promise<BuildOutput>;
}
