// Ports of the deployment engine: the Runtime that runs sandboxed processes (instances, builds,
// release commands) and the Builders that turn a source tree into an artifact. Implementations:
// runtime/local-runtime.ts (bubblewrap + setpriv + cgroups), runtime/fake-runtime.ts (tests).
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
  /** A free port for a new web instance. */
  allocatePort(): Promise<number>;
  /** The address the router uses to reach an instance listening on `port`. */
  upstreamAddress(port: number): string;
  /** Kills and removes whatever a previous run of the platform left behind; returns how many. */
  cleanupLeftovers(): Promise<number>;
  /** Removes what the runtime keeps for a deleted project. */
  forgetProject(projectId: string): Promise<void>;
  /** Lets the project's processes reach the outside world or not, running ones included
   * (runtimes without a network of their own per project have nothing to switch). */
  setEgress?(projectId: string, on: boolean): Promise<void>;
}

/** Options of one build command. */
export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** More host directories to show inside the sandbox. */
  binds?: Bind[];
  /** Receives the output lines instead of the build log (e.g. bin/release's YAML). */
  capture?: (line: string) => void;
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
}

/** What a builder leaves behind for the instances. */
export interface BuildOutput {
  /** Default commands per process type (a Procfile entry overrides them). */
  defaultProcesses: Record<string, string>;
  /** Environment for instances (e.g. PATH including a venv). */
  env: Record<string, string>;
  /** Source /app/.profile.d/*.sh before every process command (Heroku buildpack convention). */
  profileD?: boolean;
}

/** Turns a source tree into something runnable. */
export interface Builder {
  readonly name: string;
  /** True when the source tree looks like this builder's kind of app. */
  detect(appDir: string): Promise<boolean>;
  build(ctx: BuildContext): Promise<BuildOutput>;
}
