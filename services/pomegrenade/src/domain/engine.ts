// The deployment engine: owns the actual state of every project (deployments, builds, instances,
// routes) and drives deployments through queued → building → releasing → active, or failed /
// cancelled / superseded. Invariants: one deployment at a time per project (a promise chain per
// project), at most `maxConcurrentBuilds` builds at once overall, and traffic moves to new instances
// only once every new web instance passed its health check — until then the previous ones serve.
// With an orchestrating runtime (ports.ts Orchestrator: Docker Swarm) the engine keeps deciding
// what runs (deployments, formation, config, the switch) but hands each deployment whole to the
// orchestrator, which starts, health-checks, restarts and drains the instances; the engine's view
// of them (status, routes) is what the orchestrator reports.
import fs from 'node:fs';
import path from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  LimitExceededError,
  type Logger,
  NotFoundError,
} from '@paastech/kit';
import { resolveLimits } from '../isolation/limits.js';
import type { ProjectLog } from '../store/logs.js';
import type { StateStore } from '../store/state.js';
import { type BuildDeps, DeploymentFailedError, masker, runBuild, toFailure } from './build-runner.js';
import { DeploymentEvents } from './events.js';
import type { Diagnosis } from './health.js';
import { Instance } from './instance.js';
import {
  type DeploymentRecord,
  type DeploymentState,
  desiredCount,
  ENDED_STATES,
  type Failure,
  isValidEnvName,
  isValidProjectId,
  type Limits,
  nowIso,
  type ProjectRecord,
} from './model.js';
import {
  type DesiredDeployment,
  type Orchestrator,
  type PreparedProcess,
  RolloutFailedError,
  type TaskStatus,
} from './ports.js';
import { type RouteEntry, RouteTable } from './routes.js';
import { Semaphore } from './semaphore.js';

export interface EngineSettings {
  sandbox: 'bwrap' | 'none';
  maxConcurrentBuilds: number;
  buildTimeoutSeconds: number;
  keepBuilds: number;
  healthTimeoutSeconds: number;
  drainSeconds: number;
  stopGraceSeconds: number;
  maxInstancesPerProject: number;
  appUidBase: number;
  /** Operator-installed buildpacks, one directory per name (PAASTECH_BUILDPACKS_DIR). */
  buildpacksDir: string;
  /** Highest limits a deployment may ask for (isolation/limits.ts DEFAULT_BOUNDS when absent). */
  limitBounds?: Limits;
}

export interface EngineDeps extends BuildDeps {
  store: StateStore;
  logs(projectId: string): ProjectLog;
  forgetLogs(projectId: string): void;
  logger: Logger;
  settings: EngineSettings;
}

/** A CreateDeployment request, already decoded from the transport. */
export interface NewDeployment {
  projectId: string;
  projectName: string;
  number: number;
  commitSha: string;
  source: { kind: 'git'; refName: string; quarantine?: unknown } | { kind: 'build_of'; number: number };
  configVars: Record<string, string>;
  formation: Record<string, number>;
  domains: string[];
  httpsRedirect: boolean;
  builder: string;
  buildpackUrl: string;
  buildTimeoutSeconds: number;
  healthCheckPath: string;
  healthTimeoutSeconds: number;
  limits: Partial<Limits>;
  /** True to cut the project off from the outside world (a project setting, kept). */
  egressDisabled: boolean;
}

/** Settings UpdateProjectRouting changes between deployments. */
export interface ProjectRouting {
  name: string;
  domains: string[];
  httpsRedirect: boolean;
  /** Applied at once when set; unset keeps the project's setting. */
  egressDisabled?: boolean;
}

/** The running state of a project (GetProjectStatus). */
export interface ProjectStatus {
  record: ProjectRecord;
  active?: DeploymentRecord;
  pending?: DeploymentRecord;
  instances: Instance[];
  /** The instances an orchestrating runtime reports (empty with the local runtime). */
  tasks: TaskStatus[];
  formation: Record<string, number>;
  diskUsed: number;
}

/** In-memory companion of a project record. */
interface Project {
  record: ProjectRecord;
  chain: Promise<void>;
  /** Instances of the active deployment currently meant to serve. */
  instances: Instance[];
  /** Orchestrated runtime: the instances it reports, and the deployment whose web tasks get traffic. */
  tasks: TaskStatus[];
  serving: number;
  /** Settles once the orchestrator watches the project (with the deployment its services run). */
  attached?: Promise<number | null>;
  abort?: AbortController;
  deleted: boolean;
  /** web.1's sandbox, set up while deployment `number` builds (see prepareWeb). */
  prepared?: { number: number; web: Promise<PreparedProcess | null> };
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** The states of a deployment on its way to active (see setState). */
const IN_PROGRESS: ReadonlySet<DeploymentState> = new Set(['queued', 'building', 'releasing']);
const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** The deployment engine. */
export class Engine {
  readonly routes = new RouteTable();
  readonly events = new DeploymentEvents();
  private readonly projects = new Map<string, Project>();
  private readonly buildSlots: Semaphore;
  private readonly draining = new Set<Promise<void>>();

  constructor(private readonly deps: EngineDeps) {
    this.buildSlots = new Semaphore(deps.settings.maxConcurrentBuilds);
  }

  /** The orchestrator of an orchestrating runtime; undefined with the local runtime. */
  private get orchestrator(): Orchestrator | undefined {
    return this.deps.runtime.orchestrator;
  }

  // ---- start-up and shutdown ----

  /**
   * Re-converges after a restart: kills leftovers of the previous run, fails deployments that were
   * in progress ("interrupted by a platform restart"), removes half-built directories, and starts
   * every project's active deployment with its formation again.
   */
  async recover(): Promise<void> {
    const killed = await this.deps.runtime.cleanupLeftovers();
    if (killed > 0) this.deps.logger.warn({ killed }, 'killed processes left over by a previous run');
    // Project disks: a crash leaves them mounted; those of deleted projects go, the others stay.
    await this.deps.disk?.recover();
    const records = this.deps.store.loadAll((id, err) =>
      this.deps.logger.error({ err, projectId: id }, 'unreadable project state, skipped'),
    );
    for (const record of records) {
      const p = this.adopt(record);
      for (const d of record.deployments) {
        if (d.state === 'queued' || d.state === 'building' || d.state === 'releasing') {
          this.setState(p, d, 'failed', { reason: 'internal', message: 'interrupted by a platform restart' });
        }
      }
      this.removeStaleBuildDirs(p);
      this.persist(p);
      this.publish(p);
      // Before any process starts again: a restart must not reopen a closed network.
      await this.applyEgress(p);
      const active = this.active(p);
      if (this.orchestrator) {
        await this.reattach(p, active);
      } else if (active && !record.stopped) {
        this.log(p, 'platform', `restarting v${active.number} after a platform restart`, active.number);
        this.enqueue(p, () => this.reconcile(p));
      }
    }
  }

  /**
   * Orchestrated runtime after a platform restart: the orchestrator kept the instances running;
   * watch them again and bring the services to the active deployment and formation (a no-op when
   * nothing changed while the platform was down).
   */
  private async reattach(p: Project, active: DeploymentRecord | undefined): Promise<void> {
    const running = await p.attached;
    if (!active) return;
    p.serving = active.number;
    this.publish(p);
    if (running === active.number)
      this.log(p, 'platform', `re-attached to v${active.number} (its instances kept running)`, active.number);
    else this.log(p, 'platform', `bringing v${active.number} back after a platform restart`, active.number);
    this.enqueue(p, () => this.reconcile(p));
  }

  /** Starts following the project's orchestrated instances; resolves with the deployment they run. */
  private watch(p: Project): Promise<number | null> {
    const orch = this.orchestrator as Orchestrator;
    return orch.attach(p.record.id, {
      onTasks: (tasks) => {
        if (p.deleted) return;
        this.reportTaskChanges(p, p.tasks, tasks);
        p.tasks = tasks;
        this.publish(p);
      },
      onLine: (source, text, n) => this.log(p, source, text, n),
    });
  }

  /** Platform log lines for orchestrated instances that crashed or turned unhealthy. */
  private reportTaskChanges(p: Project, before: TaskStatus[], after: TaskStatus[]): void {
    for (const t of after) {
      if (t.state !== 'crashed' && t.state !== 'unhealthy') continue;
      const old = before.find(
        (b) =>
          b.processType === t.processType && b.index === t.index && b.deploymentNumber === t.deploymentNumber,
      );
      if (old && old.state === t.state && old.restartCount === t.restartCount) continue;
      const name = `${t.processType}.${t.index}`;
      this.log(
        p,
        'platform',
        `${name} ${t.state}: ${t.message || 'exited'}; the orchestrator restarts it`,
        t.deploymentNumber,
      );
    }
  }

  /** Stops every instance (platform shutdown; projects keep their desired state). */
  async shutdown(): Promise<void> {
    for (const p of this.projects.values()) p.abort?.abort();
    // Orchestrated instances keep running without the platform; only stop watching them.
    for (const p of this.projects.values()) this.orchestrator?.detach(p.record.id);
    await Promise.all(
      [...this.projects.values()].flatMap((p) => p.instances.map((i) => i.stop(this.graceMs()))),
    );
    await Promise.all(this.draining);
    await this.deps.disk?.detachAll();
  }

  // ---- deployments ----

  /** Queues a deployment (idempotent for the same request; ConflictError for a reused number). */
  create(req: NewDeployment): DeploymentRecord {
    this.validate(req);
    const p = this.projectFor(req.projectId, req.projectName);
    const existing = p.record.deployments.find((d) => d.number === req.number);
    if (existing) {
      if (existing.commitSha === req.commitSha) return existing;
      throw new ConflictError(
        `deployment v${req.number} of project "${req.projectId}" already exists for commit ${existing.commitSha.slice(0, 12)}`,
      );
    }
    let source = req.source;
    if (source.kind === 'build_of') {
      const from = this.deployment(p, source.number);
      if (!from.buildRetained || !from.build) {
        throw new InvalidArgumentError(`deployment v${source.number}: its build is no longer kept`, [
          { field: 'source.build_of_deployment_number', message: 'build no longer kept' },
        ]);
      }
      // A deployment that itself reused a build (a rollback, a config change) has no build directory
      // of its own: point at the deployment that really built it.
      source = { kind: 'build_of', number: this.buildOwner(from) };
    }
    const now = nowIso();
    const d: DeploymentRecord = {
      number: req.number,
      commitSha: req.commitSha,
      state: 'queued',
      createdAt: now,
      stateChangedAt: now,
      source: source.kind === 'git' ? { kind: 'git', refName: source.refName } : source,
      configVars: req.configVars,
      builder: req.builder,
      ...(req.buildpackUrl ? { buildpackUrl: req.buildpackUrl } : {}),
      buildTimeoutSeconds: req.buildTimeoutSeconds || this.deps.settings.buildTimeoutSeconds,
      healthCheckPath: req.healthCheckPath,
      healthTimeoutSeconds: req.healthTimeoutSeconds || this.deps.settings.healthTimeoutSeconds,
      limits: resolveLimits(req.limits, this.deps.settings.limitBounds),
      buildRetained: false,
    };
    p.record.name = req.projectName;
    p.record.domains = req.domains;
    p.record.httpsRedirect = req.httpsRedirect;
    p.record.formation = { ...req.formation };
    p.record.egressDisabled = req.egressDisabled;
    // A newer deployment replaces anything still pending: its push lost the race.
    for (const other of p.record.deployments) {
      if (other.state === 'queued') this.setState(p, other, 'cancelled');
    }
    p.abort?.abort();
    p.record.deployments.push(d);
    this.persist(p);
    this.emitState(p, d);
    this.publish(p);
    const quarantine = req.source.kind === 'git' ? req.source.quarantine : undefined;
    this.enqueue(p, () => this.deploy(p, d, quarantine));
    return d;
  }

  /** Checks a request before anything is recorded. */
  private validate(req: NewDeployment): void {
    const violations: Array<{ field: string; message: string }> = [];
    if (!isValidProjectId(req.projectId))
      violations.push({
        field: 'project_id',
        message: `project id "${req.projectId}" must be 1-64 of A-Z, a-z, 0-9, _, -`,
      });
    if (!DNS_LABEL.test(req.projectName))
      violations.push({
        field: 'project_name',
        message: `project "${req.projectName}": name must be a DNS label (a-z, 0-9, -)`,
      });
    if (!Number.isInteger(req.number) || req.number < 1)
      violations.push({ field: 'deployment_number', message: 'deployment number must be 1 or more' });
    if (!COMMIT.test(req.commitSha))
      violations.push({
        field: 'commit_sha',
        message: `commit "${req.commitSha.slice(0, 80)}" must be a full hex object id`,
      });
    for (const name of Object.keys(req.configVars)) {
      if (!isValidEnvName(name))
        violations.push({
          field: `config_vars.${name.slice(0, 80)}`,
          message: `config var "${name.slice(0, 80)}" must be a valid environment variable name`,
        });
    }
    const total = Object.values(req.formation).reduce((a, b) => a + b, 0);
    if (total > this.deps.settings.maxInstancesPerProject) {
      violations.push({
        field: 'formation',
        message: `formation asks for ${total} instances; the limit is ${this.deps.settings.maxInstancesPerProject} per project`,
      });
    }
    if (violations.length > 0)
      throw new InvalidArgumentError(violations.map((v) => v.message).join('; '), violations);
  }

  /** One deployment: build (unless reused), release, switch. Runs on the project's chain. */
  private async deploy(p: Project, d: DeploymentRecord, quarantine: unknown): Promise<void> {
    if (d.state !== 'queued' || p.deleted) return;
    const abort = new AbortController();
    p.abort = abort;
    try {
      if (this.deps.settings.sandbox === 'none') {
        this.step(
          p,
          d,
          "WARNING: PAASTECH_SANDBOX=none: this app runs UNSANDBOXED, with the platform's privileges",
        );
      }
      this.setState(p, d, 'building');
      this.publish(p);
      await this.applyEgress(p);
      if (d.source.kind === 'build_of') {
        const from = this.deployment(p, d.source.number);
        if (!from.build || !from.buildRetained)
          throw new DeploymentFailedError({
            reason: 'internal',
            message: `the build of v${from.number} is no longer kept`,
          });
        this.step(p, d, `Reusing the build of v${from.number}`);
        d.build = from.build;
        d.buildRetained = true;
      } else {
        await this.build(p, d, quarantine, abort.signal);
      }
      if (abort.signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
      // The build is written before anything long runs after it (an image, a release command), or
      // else once the new instances started (release): not on the way from the build to them.
      if (this.orchestrator || d.build?.release) this.persist(p);
      if (this.orchestrator) await this.prepare(p, d, abort.signal);
      this.setState(p, d, 'releasing');
      await this.release(p, d, { runRelease: true, signal: abort.signal, persistOnStart: true });
      this.activate(p, d);
      this.pruneBuilds(p);
    } catch (err) {
      this.fail(p, d, err, abort.signal.aborted);
    } finally {
      if (p.abort === abort) p.abort = undefined;
      // An unused prepared sandbox goes first: a publish that throws must not leave it waiting.
      await this.dropPrepared(p);
      this.publish(p);
    }
  }

  /** Builds in a global build slot. */
  private async build(
    p: Project,
    d: DeploymentRecord,
    quarantine: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    this.step(p, d, `Building v${d.number} (commit ${d.commitSha.slice(0, 12)})`);
    const release = await this.buildSlots.acquire(signal);
    try {
      d.build = await runBuild(
        {
          projectId: p.record.id,
          number: d.number,
          commitSha: d.commitSha,
          quarantine,
          builder: d.builder,
          buildpackUrl: d.buildpackUrl ?? '',
          buildpacksDir: this.deps.settings.buildpacksDir,
          timeoutSeconds: d.buildTimeoutSeconds,
          configVars: d.configVars,
          limits: d.limits,
          uid: p.record.uid,
          artifactDir: this.artifactDir(p, d.number),
          cacheDir: path.join(this.deps.store.projectDir(p.record.id), 'cache'),
          signal,
          step: (t) => this.step(p, d, t),
          line: (t) => this.line(p, d, 'build', t),
          onSource: () => this.prepareWeb(p, d),
        },
        this.deps,
      );
      d.builder = d.build.builder;
      d.buildRetained = true;
    } finally {
      release();
      fs.rmSync(`${this.artifactDir(p, d.number)}.tmp`, { recursive: true, force: true });
      // A failed build has no artifact: what is there is prepareWeb's empty placeholder.
      if (!d.build) fs.rmSync(this.artifactDir(p, d.number), { recursive: true, force: true });
    }
  }

  /** Records a failure (or a cancellation) and tells watchers. */
  private fail(p: Project, d: DeploymentRecord, err: unknown, aborted: boolean): void {
    if (ENDED_STATES.has(d.state) || d.state === 'active') return;
    if (aborted) {
      this.setState(p, d, 'cancelled');
      return;
    }
    const failure = toFailure(err);
    if (failure.reason === 'internal' && !(err instanceof DeploymentFailedError)) {
      this.deps.logger.error({ err, projectId: p.record.id, deployment: d.number }, 'deployment failed');
    }
    this.setState(p, d, 'failed', failure);
  }

  /**
   * Starts the deployment's instances beside the current ones, waits for every new web instance
   * to pass its health check, then moves traffic and drains the old instances. When any new
   * instance fails, the new ones are stopped and the old ones keep serving untouched.
   */
  private async release(
    p: Project,
    d: DeploymentRecord,
    o: {
      runRelease: boolean;
      signal?: AbortSignal;
      only?: (i: Instance) => boolean;
      /** Writes the project's state once the new instances are started (see deploy). */
      persistOnStart?: boolean;
    },
  ): Promise<void> {
    const build = d.build;
    if (!build) throw new DeploymentFailedError({ reason: 'internal', message: `v${d.number} has no build` });
    if (o.runRelease && build.release) await this.runReleaseCommand(p, d, build.release);
    if (p.record.stopped) {
      this.step(p, d, 'Project is stopped: instances will start with StartProject');
      return;
    }
    if (this.orchestrator) return this.rollOut(p, d, o);
    const plan = this.plan(p, d, o.only);
    const prepared = o.only ? undefined : await this.takePrepared(p, d);
    const web1 = plan.find((i) => i.isWeb && i.spec.index === 1);
    if (prepared && web1) web1.usePrepared(prepared);
    else await prepared?.cancel();
    if (plan.length > 0) this.step(p, d, `Starting ${plan.map((i) => i.name).join(', ')}`);
    const starting = plan.map((i) => i.start());
    if (o.persistOnStart) this.persist(p);
    const results = await Promise.allSettled(starting);
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0 || o.signal?.aborted) {
      await Promise.all(plan.map((i) => i.stop(0)));
      if (o.signal?.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
      const inst = plan[failed] as Instance;
      const diagnosis = (results[failed] as PromiseRejectedResult).reason as Diagnosis;
      this.step(p, d, `Last ${inst.tail.length} lines of ${inst.name}`);
      // These lines go back to the pusher: config var values are hidden as in build output.
      const mask = masker(d.configVars);
      for (const t of inst.tail)
        this.emit(p, d, { kind: 'line', source: inst.name, text: mask(t), time: new Date() });
      throw new DeploymentFailedError({ reason: diagnosis.reason, message: diagnosis.message });
    }
    if (p.record.stopped) {
      await Promise.all(plan.map((i) => i.stop(this.graceMs())));
      this.step(p, d, 'Project was stopped meanwhile: instances will start with StartProject');
      return;
    }
    const replaced = o.only ? p.instances.filter(o.only) : p.instances;
    p.instances = [...p.instances.filter((i) => !replaced.includes(i)), ...plan];
    this.publish(p);
    if (plan.some((i) => i.isWeb))
      this.step(
        p,
        d,
        `Traffic switched to ${plan
          .filter((i) => i.isWeb)
          .map((i) => i.name)
          .join(', ')} of v${d.number}`,
      );
    this.drain(p, replaced);
  }

  /**
   * Sets up web.1's sandbox while the build runs (from the end of its source fetch: earlier, it took
   * the CPU from the build sandbox's own start): the sandbox chain, up to bwrap's step that waits
   * for the environment with the system part of the tree set up, runs beside the build instead of
   * after it. bwrap wants the app directory's path to exist when it starts and binds it only once
   * started: builds/v<N>/app is an empty placeholder until the build's final rename replaces it
   * (moveIntoPlace in build-runner.ts). Local runtime only; unused, it is cancelled.
   */
  private prepareWeb(p: Project, d: DeploymentRecord): void {
    const runtime = this.deps.runtime;
    if (!runtime.prepare || this.orchestrator || p.record.stopped) return;
    if (desiredCount(p.record.formation, 'web') < 1) return;
    // Only a shortcut: when it fails, web.1 starts the usual way, after the build.
    const skipped = (err: unknown) => {
      this.deps.logger.warn({ err, projectId: p.record.id }, 'preparing web.1 failed: it starts afterwards');
      return null;
    };
    const appDir = path.join(this.artifactDir(p, d.number), 'app');
    try {
      fs.mkdirSync(appDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      skipped(err);
      return;
    }
    const web = runtime
      .prepare({
        projectId: p.record.id,
        id: `v${d.number}-web-1-${Date.now().toString(36)}p`,
        source: 'web.1',
        appDir,
        appWritable: false,
        extraBinds: [],
        limits: d.limits,
        uid: p.record.uid,
        gid: p.record.uid,
      })
      .catch(skipped);
    p.prepared = { number: d.number, web };
  }

  /** The sandbox prepared for deployment `d`'s web.1, if any (taken: it is used once). */
  private async takePrepared(p: Project, d: DeploymentRecord): Promise<PreparedProcess | null> {
    const prepared = p.prepared;
    if (prepared?.number !== d.number) return null;
    p.prepared = undefined;
    return prepared.web;
  }

  /** Cancels a prepared sandbox that no instance took (failed build, no web process, stopped). */
  private async dropPrepared(p: Project): Promise<void> {
    const prepared = p.prepared;
    p.prepared = undefined;
    await (await prepared?.web)?.cancel();
  }

  /** Orchestrated runtime: builds the deployment's image unless it exists (build output). */
  private async prepare(p: Project, d: DeploymentRecord, signal: AbortSignal): Promise<void> {
    const orch = this.orchestrator as Orchestrator;
    this.step(p, d, `Preparing the image of v${this.buildOwner(d)} for ${this.deps.runtime.kind}`);
    const mask = masker(d.configVars);
    try {
      await orch.prepare(this.desired(p, d), signal, (t) => this.line(p, d, 'build', mask(t)));
    } catch (err) {
      if (signal.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
      throw new DeploymentFailedError({
        reason: 'build_failed',
        message: `the image of v${this.buildOwner(d)} could not be built: ${(err as Error).message}`,
      });
    }
  }

  /**
   * Orchestrated runtime: hands the deployment to the orchestrator, which starts the new instances
   * beside the old ones and resolves once every new web instance is healthy; then traffic moves.
   * On failure the orchestrator rolled back, and the push gets the diagnosis and the last lines.
   */
  private async rollOut(
    p: Project,
    d: DeploymentRecord,
    o: { signal?: AbortSignal; only?: (i: Instance) => boolean; restart?: string[] },
  ): Promise<void> {
    const orch = this.orchestrator as Orchestrator;
    const desired = this.desired(p, d, o.restart ?? []);
    const types = Object.entries(desired.formation)
      .filter(([, n]) => n > 0)
      .map(([t, n]) => `${t} ×${n}`);
    this.step(
      p,
      d,
      `Rolling out v${d.number} on ${this.deps.runtime.kind}: ${types.join(', ') || 'no instances'}`,
    );
    try {
      await orch.rollOut(desired, o.signal);
    } catch (err) {
      if (o.signal?.aborted) throw new DeploymentFailedError({ reason: 'internal', message: 'cancelled' });
      if (!(err instanceof RolloutFailedError)) throw err;
      const f = err.failure;
      if (f.tail.length > 0) {
        this.step(p, d, `Last ${f.tail.length} lines of ${f.instance ?? 'the instance'}`);
        const mask = masker(d.configVars);
        for (const t of f.tail)
          this.emit(p, d, { kind: 'line', source: f.instance ?? 'app', text: mask(t), time: new Date() });
      }
      throw new DeploymentFailedError({ reason: f.reason, message: f.message });
    }
    p.serving = d.number;
    this.publish(p);
    if (desired.formation.web)
      this.step(p, d, `Traffic switched to web ×${desired.formation.web} of v${d.number}`);
  }

  /** The desired state of a deployment's processes, for an orchestrator. */
  private desired(p: Project, d: DeploymentRecord, restart: string[] = []): DesiredDeployment {
    const build = d.build as NonNullable<DeploymentRecord['build']>;
    const processes = Object.fromEntries(
      Object.entries(build.processes).map(([t, c]) => [t, withProfile(build, c)]),
    );
    const formation = Object.fromEntries(
      Object.keys(processes).map((t) => [t, p.record.stopped ? 0 : desiredCount(p.record.formation, t)]),
    );
    const { PAASTECH_INSTANCE: _, ...env } = this.instanceEnv(d, '');
    return {
      projectId: p.record.id,
      projectName: p.record.name,
      deploymentNumber: d.number,
      buildNumber: this.buildOwner(d),
      appDir: path.join(this.artifactDir(p, this.buildOwner(d)), 'app'),
      ...(build.image ? { builtImage: build.image } : {}),
      processes,
      formation,
      env,
      limits: d.limits,
      uid: p.record.uid,
      healthPath: d.healthCheckPath,
      healthTimeoutSeconds: d.healthTimeoutSeconds,
      drainSeconds: this.deps.settings.drainSeconds,
      stopGraceSeconds: this.deps.settings.stopGraceSeconds,
      restart,
      egressDisabled: p.record.egressDisabled ?? false,
    };
  }

  /** New instances for the deployment, per the formation (or replacements of `only`). */
  private plan(p: Project, d: DeploymentRecord, only?: (i: Instance) => boolean): Instance[] {
    const processes = d.build?.processes ?? {};
    if (only)
      return p.instances
        .filter(only)
        .map((old) => this.newInstance(p, d, old.spec.processType, old.spec.index));
    const plan: Instance[] = [];
    for (const type of Object.keys(processes)) {
      const n = desiredCount(p.record.formation, type);
      for (let i = 1; i <= n; i++) plan.push(this.newInstance(p, d, type, i));
    }
    if (plan.length > this.deps.settings.maxInstancesPerProject) {
      throw new DeploymentFailedError({
        reason: 'limit_exceeded',
        message: `formation asks for ${plan.length} instances; the limit is ${this.deps.settings.maxInstancesPerProject} per project`,
      });
    }
    return plan;
  }

  /** Creates (does not start) an instance of a process type of a deployment. */
  private newInstance(p: Project, d: DeploymentRecord, type: string, index: number): Instance {
    const build = d.build as NonNullable<DeploymentRecord['build']>;
    return new Instance(
      {
        projectId: p.record.id,
        deploymentNumber: d.number,
        processType: type,
        index,
        command: withProfile(build, build.processes[type] ?? ''),
        appDir: path.join(this.artifactDir(p, this.buildOwner(d)), 'app'),
        env: this.instanceEnv(d, `${type}.${index}`),
        limits: d.limits,
        uid: p.record.uid,
        healthPath: d.healthCheckPath,
        healthTimeoutSeconds: d.healthTimeoutSeconds,
      },
      {
        runtime: this.deps.runtime,
        onLine: (source, text, n) => this.log(p, source, text, n),
        onChange: () => this.publish(p),
        onEvent: (text) => this.log(p, 'platform', text, d.number),
      },
    );
  }

  /** The environment of an instance: build env, config vars, then the platform's own variables. */
  private instanceEnv(d: DeploymentRecord, name: string): Record<string, string> {
    const build = d.build?.env ?? {};
    const vars = Object.fromEntries(
      Object.entries(d.configVars).filter(([k]) => k !== 'PORT' && !k.startsWith('PAASTECH_')),
    );
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/app',
      LANG: 'C.UTF-8',
      ...build,
      ...vars,
      PAASTECH_DEPLOYMENT: `v${d.number}`,
      PAASTECH_INSTANCE: name,
    };
  }

  /** Runs the Procfile's release command once; a failure fails the deployment. */
  private async runReleaseCommand(p: Project, d: DeploymentRecord, command: string): Promise<void> {
    this.step(p, d, `Running release command: ${command}`);
    const proc = await this.deps.runtime.run(
      {
        projectId: p.record.id,
        id: `release-v${d.number}-${Date.now().toString(36)}`,
        source: 'release',
        appDir: path.join(this.artifactDir(p, this.buildOwner(d)), 'app'),
        appWritable: false,
        extraBinds: [],
        argv: ['/bin/sh', '-c', withProfile(d.build as NonNullable<DeploymentRecord['build']>, command)],
        env: this.instanceEnv(d, 'release'),
        limits: d.limits,
        uid: p.record.uid,
        gid: p.record.uid,
      },
      (
        (mask) => (text: string) =>
          this.line(p, d, 'release', mask(text))
      )(masker(d.configVars)),
    );
    const exit = await proc.exited;
    if (exit.code !== 0) {
      const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
      throw new DeploymentFailedError({ reason: 'build_failed', message: `release command ${how}` });
    }
  }

  /** Stops instances after the drain period, in the background. */
  private drain(p: Project, instances: Instance[]): void {
    if (instances.length === 0) return;
    for (const i of instances) i.state = 'stopping';
    const done = (async () => {
      await new Promise((r) => setTimeout(r, this.deps.settings.drainSeconds * 1000));
      await Promise.all(instances.map((i) => i.stop(this.graceMs())));
    })();
    this.draining.add(done);
    void done.finally(() => this.draining.delete(done));
    this.log(
      p,
      'platform',
      `draining ${instances.map((i) => `${i.name} (v${i.spec.deploymentNumber})`).join(', ')}`,
    );
  }

  /** Makes `d` the active deployment; the previous one becomes superseded (one write for both). */
  private activate(p: Project, d: DeploymentRecord): void {
    const previous = this.active(p);
    const superseded = previous && previous !== d ? previous : undefined;
    if (superseded) this.markState(superseded, 'superseded');
    p.record.activeNumber = d.number;
    this.markState(d, 'active');
    this.persist(p);
    if (superseded) this.announceState(p, superseded);
    this.announceState(p, d);
  }

  // ---- other operations ----

  /** Rollback: makes an earlier deployment active again with its own build and config. */
  activateEarlier(projectId: string, number: number): DeploymentRecord {
    const p = this.project(projectId);
    const d = this.deployment(p, number);
    if (!d.build || !d.buildRetained)
      throw new ConflictError(`deployment v${number}: its build is no longer kept`);
    if (d.state === 'active') return d;
    if (!['superseded', 'failed', 'cancelled'].includes(d.state))
      throw new ConflictError(`deployment v${number} is ${d.state}`);
    this.setState(p, d, 'releasing');
    d.failure = undefined;
    this.enqueue(p, async () => {
      try {
        this.step(p, d, `Rolling back to v${number} (its build and its config)`);
        await this.release(p, d, { runRelease: false });
        this.activate(p, d);
      } catch (err) {
        this.fail(p, d, err, false);
      }
    });
    return d;
  }

  /** Cancels a pending deployment. */
  cancel(projectId: string, number: number): DeploymentRecord {
    const p = this.project(projectId);
    const d = this.deployment(p, number);
    if (d.state === 'queued') this.setState(p, d, 'cancelled');
    else if (d.state === 'building' || d.state === 'releasing') p.abort?.abort();
    else throw new ConflictError(`deployment v${number} has already ended (${d.state})`);
    return d;
  }

  /** Changes instance counts; returns the whole formation of the active deployment. */
  scale(projectId: string, formation: Record<string, number>): Record<string, number> {
    const p = this.project(projectId);
    const types = Object.keys(this.active(p)?.build?.processes ?? {});
    for (const [type, n] of Object.entries(formation)) {
      if (!types.includes(type))
        throw new InvalidArgumentError(`process type "${type}": the active deployment does not declare it`, [
          { field: `formation.${type}`, message: 'unknown process type' },
        ]);
      if (!Number.isInteger(n) || n < 0)
        throw new InvalidArgumentError(`process type "${type}": count must be 0 or more`);
    }
    const next = { ...p.record.formation, ...formation };
    const total = types.reduce((sum, t) => sum + desiredCount(next, t), 0);
    if (total > this.deps.settings.maxInstancesPerProject) {
      throw new LimitExceededError(
        `formation asks for ${total} instances; the limit is ${this.deps.settings.maxInstancesPerProject} per project`,
      );
    }
    p.record.formation = next;
    this.persist(p);
    this.enqueue(p, () => this.reconcile(p));
    return Object.fromEntries(types.map((t) => [t, desiredCount(next, t)]));
  }

  /** Starts missing instances and stops extra ones of the active deployment. */
  private async reconcile(p: Project): Promise<void> {
    const d = this.active(p);
    if (this.orchestrator) return this.reconcileOrchestrated(p, d);
    if (!d?.build || p.record.stopped || p.deleted) return;
    const extra: Instance[] = [];
    const starts: Promise<void>[] = [];
    for (const type of Object.keys(d.build.processes)) {
      const want = desiredCount(p.record.formation, type);
      const have = p.instances.filter((i) => i.spec.processType === type);
      extra.push(...have.filter((i) => i.spec.index > want));
      for (let index = 1; index <= want; index++) {
        if (have.some((i) => i.spec.index === index)) continue;
        const inst = this.newInstance(p, d, type, index);
        p.instances.push(inst);
        // Started outside the deployment gate: a crash here is restarted with backoff.
        starts.push(inst.start().catch((diag: Diagnosis) => this.restartLater(p, inst, diag)));
      }
    }
    p.instances = p.instances.filter((i) => !extra.includes(i));
    this.publish(p);
    this.drain(p, extra);
    await Promise.all(starts);
  }

  /** Orchestrated runtime: brings the services to the active deployment and formation (0 when stopped). */
  private async reconcileOrchestrated(p: Project, d: DeploymentRecord | undefined): Promise<void> {
    if (!d?.build || p.deleted) return;
    try {
      await (this.orchestrator as Orchestrator).rollOut(this.desired(p, d));
      p.serving = d.number;
      this.publish(p);
    } catch (err) {
      this.log(
        p,
        'platform',
        `could not bring v${d.number} to its formation: ${toFailure(err).message}`,
        d.number,
      );
    }
  }

  /** An instance that failed to start outside a deployment: report it and try again later. */
  private restartLater(p: Project, inst: Instance, diag: Diagnosis): void {
    this.log(p, 'platform', `${inst.name}: ${diag.message}; retrying in 10s`, inst.spec.deploymentNumber);
    setTimeout(() => {
      if (!p.instances.includes(inst) || p.deleted) return;
      p.instances = p.instances.filter((i) => i !== inst);
      void this.enqueue(p, () => this.reconcile(p));
    }, 10_000).unref();
  }

  /** Restarts instances without downtime (replacements start and pass health checks first). */
  restart(projectId: string, processType: string, index: number): void {
    const p = this.project(projectId);
    const d = this.active(p);
    if (!d) throw new ConflictError(`project "${p.record.name}" has no active deployment`);
    const only = (i: Instance) =>
      (!processType || i.spec.processType === processType) && (!index || i.spec.index === index);
    const known = this.orchestrator
      ? p.tasks.some((t) => (!processType || t.processType === processType) && (!index || t.index === index))
      : p.instances.some(only);
    if (!known)
      throw new NotFoundError(`no instance matches "${processType || '*'}${index ? `.${index}` : ''}"`);
    this.enqueue(p, async () => {
      try {
        if (this.orchestrator) await this.restartOrchestrated(p, d, processType, index);
        else await this.release(p, d, { runRelease: false, only });
        this.log(p, 'platform', 'restart done', d.number);
      } catch (err) {
        this.log(
          p,
          'platform',
          `restart failed, previous instances kept: ${toFailure(err).message}`,
          d.number,
        );
      }
    });
  }

  /** Orchestrated runtime: replaces every instance of the process type (or all types), start-first. */
  private async restartOrchestrated(
    p: Project,
    d: DeploymentRecord,
    processType: string,
    index: number,
  ): Promise<void> {
    const types = Object.keys(d.build?.processes ?? {}).filter((t) => !processType || t === processType);
    if (index)
      this.log(
        p,
        'platform',
        `restarting every ${processType} instance (the orchestrator replaces whole services)`,
        d.number,
      );
    await this.rollOut(p, d, { restart: types });
  }

  /** Stops every instance; the router answers "stopped". */
  async stop(projectId: string): Promise<void> {
    const p = this.project(projectId);
    p.record.stopped = true;
    this.persist(p);
    if (this.orchestrator) {
      // The orchestrator scales every service to 0 (after what is already queued).
      this.publish(p);
      void this.enqueue(p, () => this.reconcile(p));
      return;
    }
    // Not queued behind a running build: the instances go now; a release in progress sees
    // `stopped` once its new instances are up and stops them instead of switching.
    const all = p.instances;
    p.instances = [];
    this.publish(p);
    await Promise.all(all.map((i) => i.stop(this.graceMs())));
  }

  /** Starts a stopped project with its formation. */
  async start(projectId: string): Promise<void> {
    const p = this.project(projectId);
    p.record.stopped = false;
    this.persist(p);
    this.publish(p);
    this.enqueue(p, () => this.reconcile(p));
  }

  /** Sets domains, HTTPS redirect and (when given) egress; creates the project record when unknown. */
  async updateRouting(projectId: string, routing: ProjectRouting): Promise<void> {
    const { name, domains, httpsRedirect, egressDisabled } = routing;
    if (!isValidProjectId(projectId))
      throw new InvalidArgumentError(
        `project id "${projectId.slice(0, 80)}" must be 1-64 of A-Z, a-z, 0-9, _, -`,
      );
    if (!DNS_LABEL.test(name))
      throw new InvalidArgumentError(
        `project "${name.slice(0, 80)}": name must be a DNS label (a-z, 0-9, -)`,
      );
    const p = this.projectFor(projectId, name);
    p.record.name = name;
    p.record.domains = domains.map((d) => d.toLowerCase());
    p.record.httpsRedirect = httpsRedirect;
    if (egressDisabled !== undefined) p.record.egressDisabled = egressDisabled;
    this.persist(p);
    this.publish(p);
    if (egressDisabled !== undefined) await this.applyEgress(p);
  }

  /** Hands the project's egress setting to the runtime (at once for its running processes). */
  private async applyEgress(p: Project): Promise<void> {
    await this.deps.runtime.setEgress?.(p.record.id, !p.record.egressDisabled);
  }

  /** Removes everything of a project (instances, builds, caches, logs, cgroups, uid). Idempotent. */
  async deleteProject(projectId: string): Promise<number> {
    const p = this.projects.get(projectId);
    if (!p) return 0;
    p.deleted = true;
    p.abort?.abort();
    this.projects.delete(projectId);
    const all = p.instances;
    p.instances = [];
    this.routes.remove(projectId);
    await Promise.all(all.map((i) => i.stop(0)));
    await p.chain;
    await this.deps.runtime.forgetProject(projectId);
    await this.deps.disk?.remove(projectId);
    const dir = this.deps.store.projectDir(projectId);
    const freed = this.diskUsed(p);
    fs.rmSync(dir, { recursive: true, force: true });
    this.deps.forgetLogs(projectId);
    this.events.forgetProject(projectId);
    return freed;
  }

  // ---- reads ----

  /** One deployment (NotFoundError when unknown). */
  getDeployment(projectId: string, number: number): DeploymentRecord {
    return this.deployment(this.project(projectId), number);
  }

  /** Deployments of a project, newest first; `limit` 0 lists all. */
  listDeployments(projectId: string, limit: number): DeploymentRecord[] {
    const p = this.projects.get(projectId);
    if (!p) return [];
    const list = [...p.record.deployments].sort((a, b) => b.number - a.number);
    return limit > 0 ? list.slice(0, limit) : list;
  }

  /** The running state of a project, or undefined when unknown. */
  status(projectId: string): ProjectStatus | undefined {
    const p = this.projects.get(projectId);
    if (!p) return undefined;
    const active = this.active(p);
    const pending = p.record.deployments.find(
      (d) => d.state === 'queued' || d.state === 'building' || d.state === 'releasing',
    );
    const types = Object.keys(active?.build?.processes ?? {});
    const formation = Object.fromEntries(types.map((t) => [t, desiredCount(p.record.formation, t)]));
    const instances = [...p.instances].sort(
      (a, b) => a.spec.processType.localeCompare(b.spec.processType) || a.spec.index - b.spec.index,
    );
    return {
      record: p.record,
      ...(active ? { active } : {}),
      ...(pending ? { pending } : {}),
      instances,
      tasks: p.tasks,
      formation,
      diskUsed: this.diskUsed(p),
    };
  }

  /** Memory and CPU of a project's orchestrated instances ("web.1" → usage; empty without an orchestrator). */
  async taskUsage(projectId: string): Promise<Map<string, { memoryBytes: number; cpuMillicores: number }>> {
    return this.orchestrator ? this.orchestrator.usage(projectId) : new Map();
  }

  /** True once the deployment can change no more (for watchers). */
  isEnded(d: DeploymentRecord): boolean {
    return d.state === 'active' || ENDED_STATES.has(d.state);
  }

  /** The project log (throws NotFoundError for unknown projects). */
  logsOf(projectId: string): ProjectLog {
    this.project(projectId);
    return this.deps.logs(projectId);
  }

  /** Writes a `router` log line for a project the router reported traffic for. */
  routerLog(projectId: string, text: string): void {
    const p = this.projects.get(projectId);
    if (p) this.log(p, 'router', text, p.record.activeNumber);
  }

  /** True when the project is known. */
  hasProject(projectId: string): boolean {
    return this.projects.has(projectId);
  }

  // ---- helpers ----

  /** A known project, or NotFoundError. */
  private project(projectId: string): Project {
    const p = this.projects.get(projectId);
    if (!p) throw new NotFoundError(`project "${projectId.slice(0, 80)}" has no deployments here`);
    return p;
  }

  /** A deployment of a project, or NotFoundError. */
  private deployment(p: Project, number: number): DeploymentRecord {
    const d = p.record.deployments.find((x) => x.number === number);
    if (!d) throw new NotFoundError(`deployment v${number} of project "${p.record.name}" does not exist`);
    return d;
  }

  /** The project's active deployment, if any. */
  private active(p: Project): DeploymentRecord | undefined {
    return p.record.deployments.find((d) => d.number === p.record.activeNumber && d.state === 'active');
  }

  /** The project's in-memory state, creating the record (with a uid) on first sight. */
  private projectFor(projectId: string, name: string): Project {
    const known = this.projects.get(projectId);
    if (known) return known;
    const used = new Set([...this.projects.values()].map((x) => x.record.uid));
    let uid = this.deps.settings.appUidBase;
    while (used.has(uid)) uid++;
    return this.adopt({
      id: projectId,
      name,
      domains: [],
      httpsRedirect: false,
      formation: {},
      stopped: false,
      activeNumber: 0,
      uid,
      deployments: [],
    });
  }

  /** Registers a project record in memory. */
  private adopt(record: ProjectRecord): Project {
    const p: Project = {
      record,
      chain: Promise.resolve(),
      instances: [],
      tasks: [],
      serving: 0,
      deleted: false,
    };
    this.projects.set(record.id, p);
    if (this.orchestrator)
      p.attached = this.watch(p).catch((err) => {
        this.deps.logger.error(
          { err, projectId: record.id },
          'could not watch the project on the orchestrator',
        );
        return null;
      });
    return p;
  }

  /** Runs `fn` after everything already queued for the project. */
  private enqueue(p: Project, fn: () => Promise<void>): Promise<void> {
    const next = p.chain
      .then(fn, fn)
      .catch((err) => this.deps.logger.error({ err, projectId: p.record.id }, 'project task failed'));
    p.chain = next;
    return next;
  }

  /** Where the build of deployment `n` lives. */
  private artifactDir(p: Project, n: number): string {
    return path.join(this.deps.store.projectDir(p.record.id), 'builds', `v${n}`);
  }

  /** The deployment whose build directory `d` uses (itself, or the one it reuses). */
  private buildOwner(d: DeploymentRecord): number {
    return d.source.kind === 'build_of' ? d.source.number : d.number;
  }

  /** Keeps the builds of the newest `keepBuilds` built deployments (and the active one). */
  private pruneBuilds(p: Project): void {
    const built = p.record.deployments
      .filter((d) => d.build && d.buildRetained)
      .sort((a, b) => b.number - a.number);
    const keep = new Set(built.slice(0, this.deps.settings.keepBuilds).map((d) => this.buildOwner(d)));
    const active = this.active(p);
    if (active) keep.add(this.buildOwner(active));
    for (const i of p.instances) keep.add(i.spec.deploymentNumber);
    for (const d of p.record.deployments) {
      if (!keep.has(this.buildOwner(d)) && d.buildRetained) d.buildRetained = false;
    }
    this.orchestrator
      ?.pruneImages(p.record.id, [...keep])
      .catch((err) => this.deps.logger.warn({ err, projectId: p.record.id }, 'could not prune images'));
    const buildsDir = path.join(this.deps.store.projectDir(p.record.id), 'builds');
    for (const name of safeReaddir(buildsDir)) {
      const n = Number(/^v(\d+)$/.exec(name)?.[1] ?? Number.NaN);
      if (!keep.has(n)) fs.rmSync(path.join(buildsDir, name), { recursive: true, force: true });
    }
    this.persist(p);
  }

  /** Removes *.tmp build dirs and builds no deployment keeps (after a crash). */
  private removeStaleBuildDirs(p: Project): void {
    const buildsDir = path.join(this.deps.store.projectDir(p.record.id), 'builds');
    const kept = new Set(p.record.deployments.filter((d) => d.buildRetained).map((d) => this.buildOwner(d)));
    for (const name of safeReaddir(buildsDir)) {
      const n = Number(/^v(\d+)$/.exec(name)?.[1] ?? Number.NaN);
      if (!kept.has(n)) fs.rmSync(path.join(buildsDir, name), { recursive: true, force: true });
    }
    for (const d of p.record.deployments) {
      if (d.buildRetained && !fs.existsSync(this.artifactDir(p, this.buildOwner(d)))) d.buildRetained = false;
    }
  }

  /** Bytes of the project's kept builds and logs. */
  private diskUsed(p: Project): number {
    const builds = new Map<number, number>();
    for (const d of p.record.deployments)
      if (d.buildRetained && d.build) builds.set(this.buildOwner(d), d.build.sizeBytes);
    return [...builds.values()].reduce((a, b) => a + b, 0) + this.deps.logs(p.record.id).diskBytes();
  }

  /** SIGTERM → SIGKILL delay in milliseconds. */
  private graceMs(): number {
    return this.deps.settings.stopGraceSeconds * 1000;
  }

  /** Saves the project record (not after it was deleted). */
  private persist(p: Project): void {
    if (!p.deleted) this.deps.store.save(p.record);
  }

  /**
   * Moves a deployment to a state, persists it and tells watchers. A move between two in-progress
   * states (queued → building → releasing) is not written by itself: after a restart all three mean
   * the same ("interrupted", see recover), and each write (fsync, rename) blocks the event loop on
   * the way to the new instance. Whatever else changed meanwhile (the build) is written on its own.
   */
  private setState(p: Project, d: DeploymentRecord, state: DeploymentState, failure?: Failure): void {
    const silent = IN_PROGRESS.has(d.state) && IN_PROGRESS.has(state);
    this.markState(d, state, failure);
    if (!silent) this.persist(p);
    this.announceState(p, d);
  }

  /** Records a state change in memory only. */
  private markState(d: DeploymentRecord, state: DeploymentState, failure?: Failure): void {
    d.state = state;
    d.stateChangedAt = nowIso();
    if (failure) d.failure = failure;
  }

  /** Tells watchers and the log about the deployment's (already recorded) state. */
  private announceState(p: Project, d: DeploymentRecord): void {
    this.emitState(p, d);
    const text =
      d.failure && d.state === 'failed'
        ? `v${d.number} failed: ${d.failure.message}`
        : `v${d.number} ${d.state}`;
    this.log(p, 'platform', text, d.number);
  }

  /** Tells watchers the deployment's current state (final once it can change no more). */
  private emitState(p: Project, d: DeploymentRecord): void {
    this.emit(
      p,
      d,
      {
        kind: 'state',
        state: d.state,
        time: new Date(d.stateChangedAt),
        ...(d.failure && d.state === 'failed' ? { failure: d.failure } : {}),
      },
      this.isEnded(d),
    );
  }

  /** Records a deployment event for watchers. */
  private emit(
    p: Project,
    d: DeploymentRecord,
    e: Parameters<DeploymentEvents['push']>[2],
    final = false,
  ): void {
    this.events.push(p.record.id, d.number, e, final);
  }

  /** A `-----> title` step of a deployment (also in the project log as a build line). */
  private step(p: Project, d: DeploymentRecord, title: string): void {
    this.emit(p, d, { kind: 'step', title, time: new Date() });
    this.log(p, d.state === 'releasing' ? 'release' : 'build', `-----> ${title}`, d.number);
  }

  /** A line of build or release output. */
  private line(p: Project, d: DeploymentRecord, source: string, text: string): void {
    this.emit(p, d, { kind: 'line', source, text, time: new Date() });
    this.log(p, source, text, d.number);
  }

  /** Appends a line to the project's log. */
  private log(p: Project, source: string, text: string, n = 0): void {
    // A deleted project's last words (instances being killed) must not re-create its log dir.
    if (!p.deleted) this.deps.logs(p.record.id).append(source, text, n);
  }

  /** Recomputes and publishes the project's route. */
  private publish(p: Project): void {
    if (p.deleted) return;
    this.routes.set(this.routeOf(p));
  }

  /** The project's route: healthy web instances, or why there are none. */
  private routeOf(p: Project): RouteEntry {
    const active = this.active(p);
    const base = {
      projectId: p.record.id,
      projectName: p.record.name,
      hostnames: p.record.domains,
      httpsRedirect: p.record.httpsRedirect,
      deploymentNumber: active?.number ?? 0,
    };
    if (this.orchestrator) return this.orchestratedRoute(p, active, base);
    const web = p.instances.filter((i) => i.isWeb);
    const healthy = web.filter((i) => i.state === 'running');
    if (healthy.length > 0) return { ...base, upstreams: healthy.map((i) => i.address) };
    return { ...base, upstreams: [], unavailable: this.whyUnavailable(p, active, web) };
  }

  /**
   * Orchestrated runtime: the running web tasks of the deployment traffic was switched to; while
   * none is known yet (the orchestrator replaces tasks as the engine switches), whatever still
   * serves, so the route never empties during a rollout.
   */
  private orchestratedRoute(
    p: Project,
    active: DeploymentRecord | undefined,
    base: Omit<RouteEntry, 'upstreams' | 'unavailable'>,
  ): RouteEntry {
    const web = p.tasks.filter((t) => t.processType === 'web' && t.address);
    let serving = web.filter((t) => t.state === 'running' && t.deploymentNumber === p.serving);
    if (serving.length === 0) serving = web.filter((t) => t.state === 'running' || t.state === 'stopping');
    if (!p.record.stopped && active && serving.length > 0)
      return { ...base, upstreams: serving.map((t) => t.address).sort() };
    const mirror = p.tasks
      .filter((t) => t.processType === 'web')
      .map((t) => ({ state: t.state, name: `${t.processType}.${t.index}`, lastExit: undefined }));
    const why = this.whyUnavailable(p, active, mirror);
    if (why.reason === 'crashed') {
      const t = p.tasks.find((x) => x.processType === 'web' && x.state === 'crashed');
      if (t) why.message = `web.${t.index} ${t.message || `exited with code ${t.lastExitCode}`}`;
    }
    return { ...base, upstreams: [], unavailable: why };
  }

  /** Why a project has no healthy web instance, for the router's error page. */
  private whyUnavailable(
    p: Project,
    active: DeploymentRecord | undefined,
    web: Pick<Instance, 'state' | 'name' | 'lastExit'>[],
  ): NonNullable<RouteEntry['unavailable']> {
    if (p.record.stopped) return { reason: 'stopped', message: 'the project is stopped' };
    if (!active) {
      const building = p.record.deployments.some(
        (d) => d.state === 'building' || d.state === 'queued' || d.state === 'releasing',
      );
      return building
        ? { reason: 'building', message: 'the first deployment is being built' }
        : { reason: 'not_deployed', message: 'nothing deployed yet' };
    }
    if (!active.build?.processes.web)
      return { reason: 'no_web_process', message: `v${active.number} declares no web process` };
    if (desiredCount(p.record.formation, 'web') === 0)
      return { reason: 'scaled_to_zero', message: 'web is scaled to 0 instances' };
    const crashed = web.find((i) => i.state === 'crashed');
    if (crashed) return { reason: 'crashed', message: `${crashed.name} ${describeExit(crashed.lastExit)}` };
    if (web.some((i) => i.state === 'unhealthy'))
      return { reason: 'unhealthy', message: 'web instances fail their health check' };
    return { reason: 'starting', message: 'web instances are starting' };
  }
}

/** Prefixes a command with sourcing .profile.d scripts when the build asked for it (buildpacks). */
function withProfile(build: NonNullable<DeploymentRecord['build']>, command: string): string {
  if (!build.profileD) return command;
  return `for f in /app/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; ${command}`;
}

/** "exited with code 1", "was killed by SIGKILL" or "ran out of memory". */
function describeExit(exit: Instance['lastExit']): string {
  if (!exit) return 'exited';
  if (exit.oomKilled) return 'ran out of memory';
  return exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal ?? 'a signal'}`;
}

/** Directory entries, or none when it does not exist. */
function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
