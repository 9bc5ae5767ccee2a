// One supervised instance of a process type: started in the sandbox by the Runtime, health-gated
// (web), restarted with exponential backoff when it exits, reported as crash-looping after repeated
// failures, and stopped with SIGTERM then SIGKILL of its whole cgroup.
import { ANSWERED_BY_ANOTHER, type Diagnosis, diagnose, probe } from './health.js';
import type { Limits } from './model.js';
import type { ExitInfo, PreparedProcess, ProcessSpec, RunningProcess, Runtime } from './ports.js';
import { execForm } from './procfile.js';

export type InstanceState = 'starting' | 'running' | 'unhealthy' | 'crashed' | 'stopping' | 'stopped';

/** What an instance needs from its project and deployment. */
export interface InstanceSpec {
  projectId: string;
  deploymentNumber: number;
  processType: string;
  index: number;
  command: string;
  appDir: string;
  env: Record<string, string>;
  limits: Limits;
  uid: number;
  healthPath: string;
  healthTimeoutSeconds: number;
}

export interface InstanceHooks {
  runtime: Runtime;
  /** A line of its output. */
  onLine(source: string, text: string, deploymentNumber: number): void;
  /** State changed (routes may need republishing). */
  onChange(): void;
  /** A platform message about the instance (restarts, crash loops). */
  onEvent(text: string): void;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const CRASH_LOOP_AFTER = 5;
const STABLE_AFTER_MS = 30_000;
/** Health probe interval while a new instance is expected to come up, and for how long. A refused
 * connection costs the daemon ~0.1 ms, and the switch waits half an interval on average. */
const FAST_PROBE_MS = 3;
const FAST_PROBE_WINDOW_MS = 2000;
const TAIL_LINES = 30;

/** A supervised process. */
export class Instance {
  state: InstanceState = 'starting';
  port = 0;
  startedAt: Date | undefined;
  restartCount = 0;
  lastExitCode = 0;
  crashLooping = false;
  lastExit: ExitInfo | undefined;
  readonly tail: string[] = [];
  private proc: RunningProcess | undefined;
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private gate: { resolve: () => void; reject: (d: Diagnosis) => void } | undefined;
  private seq = 0;
  private lastCpu: { at: number; micros: number } | undefined;
  /** A sandbox set up for this instance while its build ran (used by the first launch only). */
  private prepared: PreparedProcess | undefined;

  constructor(
    readonly spec: InstanceSpec,
    private readonly hooks: InstanceHooks,
  ) {}

  /** "web.1" */
  get name(): string {
    return `${this.spec.processType}.${this.spec.index}`;
  }

  get isWeb(): boolean {
    return this.spec.processType === 'web';
  }

  /** The router's address of this instance once it serves. */
  get address(): string {
    return this.hooks.runtime.upstreamAddress(this.spec.projectId, this.port);
  }

  /** Hands over a sandbox prepared for this instance (Runtime.prepare); start() uses it. */
  usePrepared(prepared: PreparedProcess): void {
    this.prepared = prepared;
  }

  /**
   * Starts the first process. Resolves once it is ready (web: passed its health check; others:
   * started), rejects with a diagnosis when it exits or never becomes healthy. No restart happens
   * before this settles: a crash while starting fails the deployment instead.
   */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.gate = { resolve, reject };
    });
    void this.launch();
    return ready;
  }

  /** Starts the process and, for web, polls its health. */
  private async launch(): Promise<void> {
    const seq = ++this.seq;
    this.state = 'starting';
    this.hooks.onChange();
    try {
      // A sandbox prepared while the build ran (first launch only); one that ended by itself is
      // replaced by a new process on the same port.
      const prepared = this.prepared;
      this.prepared = undefined;
      if (this.isWeb)
        this.port = prepared?.port ?? (await this.hooks.runtime.allocatePort(this.spec.projectId));
      const env = { ...this.spec.env, ...(this.isWeb ? { PORT: String(this.port) } : {}) };
      const spec = this.processSpec(env);
      const onLine = (text: string) => this.line(text);
      const proc = prepared?.usable
        ? prepared.start(spec.argv, env, onLine)
        : await this.runFresh(prepared, spec, onLine);
      if (seq !== this.seq || this.isStopping()) {
        await proc.stop(0);
        return;
      }
      this.proc = proc;
      this.startedAt = new Date();
      proc.exited.then((exit) => this.exited(seq, exit));
      if (this.isWeb) await this.waitHealthy(seq, proc);
      else this.ready(seq);
    } catch (err) {
      this.line(`failed to start: ${(err as Error).message}`);
      this.exited(seq, { code: 127, signal: null, oomKilled: false });
    }
  }

  /** Starts the process in a new sandbox, after removing a prepared one that ended by itself. */
  private async runFresh(
    prepared: PreparedProcess | undefined,
    spec: ProcessSpec,
    onLine: (text: string) => void,
  ): Promise<RunningProcess> {
    await prepared?.cancel();
    return this.hooks.runtime.run(spec, onLine);
  }

  /** True once stop() was called (state changes asynchronously while awaiting). */
  private isStopping(): boolean {
    return this.state === 'stopping' || this.state === 'stopped';
  }

  /** The process spec handed to the runtime. */
  private processSpec(env: Record<string, string>): ProcessSpec {
    const s = this.spec;
    const id = `v${s.deploymentNumber}-${s.processType}-${s.index}-${Date.now().toString(36)}${this.seq}`;
    return {
      projectId: s.projectId,
      id,
      source: this.name,
      appDir: s.appDir,
      appWritable: false,
      extraBinds: [],
      argv: ['/bin/sh', '-c', execForm(s.command)],
      env,
      limits: s.limits,
      uid: s.uid,
      gid: s.uid,
    };
  }

  /** Marks the instance serving. */
  private ready(seq: number): void {
    if (seq !== this.seq) return;
    this.state = 'running';
    this.gate?.resolve();
    this.gate = undefined;
    const seqAtReady = seq;
    setTimeout(() => {
      if (this.seq === seqAtReady && this.state === 'running') this.consecutiveFailures = 0;
    }, STABLE_AFTER_MS).unref();
    this.hooks.onChange();
  }

  /** Polls the health check until it passes, the process exits or the timeout expires. */
  private async waitHealthy(seq: number, proc: RunningProcess): Promise<void> {
    const deadline = Date.now() + this.spec.healthTimeoutSeconds * 1000;
    let last: string | undefined;
    // Short polls: the switch happens as soon as the app answers (a deploy's critical path). A
    // refused connection costs little, so poll every 3 ms for the first 2 s (most apps are up by
    // then) and back off only for the slow starters.
    const fastUntil = Date.now() + FAST_PROBE_WINDOW_MS;
    let delay = FAST_PROBE_MS;
    while (seq === this.seq && this.state === 'starting') {
      const r = await probe(this.address, this.spec.healthPath || '/');
      if (seq !== this.seq || this.state !== 'starting') return;
      // The answer must come from this instance's own processes: one that lost its port to another
      // process (and exits with EADDRINUSE) must not be put in traffic on that process's answer.
      if (r.ok && (!this.hooks.runtime.knowsListeners || (await this.ownsPort(proc)))) return this.ready(seq);
      if (seq !== this.seq || this.state !== 'starting') return;
      last = r.ok ? `${ANSWERED_BY_ANOTHER} ${this.port}` : r.detail;
      if (Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, delay));
      if (Date.now() >= fastUntil) delay = Math.min(delay * 2, 250);
    }
    if (seq !== this.seq || this.state !== 'starting') return;
    const listening = await proc.listening();
    const diagnosis = diagnose({
      instance: this.name,
      port: this.port,
      memoryLimitBytes: this.spec.limits.memoryBytes,
      listening,
      timeoutSeconds: this.spec.healthTimeoutSeconds,
      ...(last ? { lastProbe: last } : {}),
    });
    if (this.gate) {
      this.gate.reject(diagnosis);
      this.gate = undefined;
      return;
    }
    // After a restart: keep it out of traffic and try again later.
    this.state = 'unhealthy';
    this.hooks.onEvent(`${this.name} is unhealthy: ${diagnosis.message}`);
    this.hooks.onChange();
    await proc.stop(2000);
  }

  /** True when one of the instance's processes listens on its port. */
  private async ownsPort(proc: RunningProcess): Promise<boolean> {
    return (await proc.listening()).some((s) => s.port === this.port);
  }

  /** Handles an exit: fails the start gate, or schedules a restart with backoff. */
  private exited(seq: number, exit: ExitInfo): void {
    if (seq !== this.seq) return;
    this.proc = undefined;
    this.lastExit = exit;
    this.lastExitCode = exit.code ?? 128;
    this.startedAt = undefined;
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (this.gate) {
      this.state = 'crashed';
      this.gate.reject(
        diagnose({
          instance: this.name,
          port: this.port,
          exit,
          memoryLimitBytes: this.spec.limits.memoryBytes,
          listening: [],
          timeoutSeconds: this.spec.healthTimeoutSeconds,
        }),
      );
      this.gate = undefined;
      return;
    }
    this.consecutiveFailures++;
    this.crashLooping = this.consecutiveFailures >= CRASH_LOOP_AFTER;
    this.state = 'crashed';
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 1), BACKOFF_MAX_MS);
    const how = exit.oomKilled
      ? 'ran out of memory'
      : exit.code !== null
        ? `exited with code ${exit.code}`
        : `was killed by ${exit.signal}`;
    this.hooks.onEvent(
      `${this.name} ${how}${this.crashLooping ? ' (crash-looping)' : ''}; restarting in ${Math.round(delay / 1000)}s`,
    );
    this.hooks.onChange();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== 'crashed') return;
      this.restartCount++;
      void this.launch();
    }, delay);
  }

  /** Records a line of output (tail kept for failure reports). */
  private line(text: string): void {
    this.tail.push(text);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.hooks.onLine(this.name, text, this.spec.deploymentNumber);
  }

  /** Stops the process: SIGTERM, SIGKILL of its cgroup after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const unused = this.prepared;
    this.prepared = undefined;
    await unused?.cancel();
    this.state = 'stopping';
    this.seq++;
    this.gate?.reject({ reason: 'health_check_failed', message: `${this.name} was stopped while starting` });
    this.gate = undefined;
    this.hooks.onChange();
    const proc = this.proc;
    this.proc = undefined;
    await proc?.stop(graceMs);
    this.state = 'stopped';
    this.startedAt = undefined;
    this.hooks.onChange();
  }

  /** Memory in use and CPU in thousandths of a core since the previous call. */
  async usage(): Promise<{ memoryBytes: number; cpuMillicores: number }> {
    if (!this.proc) return { memoryBytes: 0, cpuMillicores: 0 };
    const u = await this.proc.usage();
    const now = Date.now();
    const prev = this.lastCpu;
    this.lastCpu = { at: now, micros: u.cpuMicros };
    const millicores = prev && now > prev.at ? Math.round((u.cpuMicros - prev.micros) / (now - prev.at)) : 0;
    return { memoryBytes: u.memoryBytes, cpuMillicores: Math.max(0, millicores) };
  }
}
