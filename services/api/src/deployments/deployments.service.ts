// Deployments, the desired state: the API numbers each deployment, records the config it runs with
// (sealed) and its formation, hands it to Pomegrenade and follows it to its end. Invariants: a
// deployment's config snapshot is sealed bound to its project and number, so it can only be opened
// as that deployment's config; a deployment is never left queued — when Pomegrenade cannot take it,
// it is failed with the reason; at start-up, deployments a crash left unfinished are reconciled.
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ConflictError, type Logger, NotFoundError } from '@paastech/kit';
import type { deploy, git } from '@paastech/proto';
import type { ApiConfig } from '../config.js';
import { SECRET_BOX } from '../crypto/crypto.module.js';
import { configVarAad, openConfigVars, type SecretBox } from '../crypto/secret-box.js';
import { isoNow, newId } from '../db/ids.js';
import type { DeploymentReason } from '../db/schema.js';
import { quote } from '../projects/project-name.js';
import type { ProjectRow } from '../projects/projects.repository.js';
import { API_CONFIG, LOGGER } from '../providers.js';
import { type DeploymentEvent, DeploymentEvents } from './deployment-events.js';
import { DEFAULT_FOLLOW_TIMING, DeploymentFollower, type FollowTiming } from './deployment-follower.js';
import { type DeploymentRow, DeploymentsRepository, UNFINISHED } from './deployments.repository.js';
import { type Formation, storedFormation } from './formation.js';
import type { Pomegrenade } from './pomegrenade-client.js';

export const POMEGRENADE = Symbol('POMEGRENADE');
export const FOLLOW_TIMING = Symbol('FOLLOW_TIMING');

/** The project a deployment belongs to. */
export type DeployedProject = Pick<
  ProjectRow,
  | 'id'
  | 'name'
  | 'health_check_path'
  | 'builder'
  | 'buildpack'
  | 'egress_enabled'
  | 'memory_mb'
  | 'cpu_millicores'
  | 'max_processes'
  | 'disk_mb'
>;

const MiB = 1024 * 1024;

/** Where the build of a new deployment comes from. */
export type BuildSource =
  | { kind: 'git'; refName: string; quarantine?: git.ObjectQuarantine }
  | { kind: 'build-of'; number: number };

/** Everything a new deployment is made of. */
export interface DeploymentSpec {
  reason: DeploymentReason;
  commitSha: string;
  refName: string;
  source: BuildSource;
  config: Record<string, string>;
  formation: Formation;
  clientId: string;
}

/** Associated data of a config snapshot: binds it to its project and deployment number. */
export function snapshotAad(projectId: string, number: number): string {
  return `deployment_config\u0000${projectId}\u0000${number}`;
}

@Injectable()
export class DeploymentsService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly events = new DeploymentEvents();
  private readonly follower: DeploymentFollower;
  private readonly stopping = new AbortController();
  private readonly following = new Map<string, Promise<void>>();
  /** Config redeploys waiting for a deployment under way, by project id. */
  private readonly configWaits = new Map<string, Promise<DeploymentRow | undefined>>();

  constructor(
    readonly repo: DeploymentsRepository,
    @Inject(POMEGRENADE) readonly pomegrenade: Pomegrenade,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(API_CONFIG) private readonly config: Pick<ApiConfig, 'appsDomain' | 'routerPort'>,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(FOLLOW_TIMING) timing: FollowTiming = DEFAULT_FOLLOW_TIMING,
  ) {
    this.follower = new DeploymentFollower(repo, pomegrenade, this.events, logger, timing, (row) =>
      this.adoptRolledBackConfig(row),
    );
  }

  /** Aborts when the API stops: long-lived streams (server-sent events) end then. */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  onApplicationBootstrap(): void {
    this.reconcile().catch((err: unknown) => this.logger.error({ err }, 'reconciling deployments failed'));
  }

  /** Stops following (deployments stay unfinished in the database, for the next start). */
  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.following.values(), ...this.configWaits.values()]);
    this.events.closeAll();
    this.pomegrenade.close();
  }

  /** Follows every deployment a previous run left queued, building or releasing. */
  async reconcile(): Promise<void> {
    for (const row of await this.repo.listUnfinished()) {
      this.logger.info(
        { project: row.project_id, number: row.number, state: row.state },
        'reconciling deployment',
      );
      this.track(row);
    }
  }

  /** Where the application of a project is served. */
  appUrl(name: string): string {
    const port = this.config.routerPort === 80 ? '' : `:${this.config.routerPort}`;
    return `http://${name}.${this.config.appsDomain}${port}/`;
  }

  /** Follows a deployment in the background, once. */
  private track(row: DeploymentRow): void {
    const key = `${row.project_id}#${row.number}`;
    if (this.following.has(key)) return;
    this.events.open(row.project_id, row.number);
    const done = this.follower
      .follow(row, this.stopping.signal)
      .catch((err: unknown) =>
        this.logger.error({ err, number: row.number }, 'following a deployment failed'),
      )
      .finally(() => this.following.delete(key));
    this.following.set(key, done);
  }

  /** Resolves once the deployment is no longer followed (it ended, or the API stops). */
  async settled(projectId: string, number: number): Promise<void> {
    await this.following.get(`${projectId}#${number}`);
  }

  /** Creates deployment vN, hands it to Pomegrenade and follows it; returns it as recorded. */
  async create(project: DeployedProject, spec: DeploymentSpec): Promise<DeploymentRow> {
    const createdAt = isoNow();
    const row = await this.repo.insertNext(project.id, (number) => {
      const sealed = this.box.seal(JSON.stringify(spec.config), snapshotAad(project.id, number));
      return {
        id: newId(),
        project_id: project.id,
        commit_sha: spec.commitSha,
        ref_name: spec.refName,
        state: 'queued',
        reason: spec.reason,
        config_snapshot_ciphertext: sealed.ciphertext,
        config_snapshot_nonce: sealed.nonce,
        config_snapshot_key_version: sealed.keyVersion,
        formation: JSON.stringify(spec.formation),
        created_at: createdAt,
        started_at: null,
        finished_at: null,
        failure_reason: null,
        build_output: null,
      };
    });
    this.events.open(project.id, row.number);
    this.events.publish(project.id, row.number, {
      type: 'state',
      state: 'queued',
      at: createdAt,
      failure_reason: null,
    });
    try {
      await this.pomegrenade.createDeployment(await this.request(project, row, spec));
    } catch (err) {
      await this.follower.failWith(row, err);
      return (await this.repo.find(project.id, row.number)) ?? row;
    }
    this.track(row);
    return row;
  }

  /**
   * A rollback that goes live makes the config it runs with the project's config vars again (as
   * Heroku's rollback restores config vars), so the next push or config change starts from it, not
   * from the config rolled back from; unless a newer deployment was created meanwhile (its config
   * is the project's). A rollback that fails changes nothing.
   */
  private async adoptRolledBackConfig(row: DeploymentRow): Promise<void> {
    if (row.reason !== 'rollback') return;
    const sealed = new Map(
      Object.entries(this.snapshot(row)).map(([name, value]) => [
        name,
        this.box.seal(value, configVarAad(row.project_id, name)),
      ]),
    );
    if (await this.repo.replaceConfigVars(row.project_id, row.number, sealed))
      this.logger.info({ projectId: row.project_id, number: row.number }, 'rolled-back config adopted');
  }

  /** The CreateDeployment request of a recorded deployment. */
  private async request(
    project: DeployedProject,
    row: DeploymentRow,
    spec: DeploymentSpec,
  ): Promise<deploy.CreateDeploymentRequest> {
    const source: deploy.DeploymentSource =
      spec.source.kind === 'git'
        ? {
            kind: {
              $case: 'git',
              value: { refName: spec.source.refName, quarantine: spec.source.quarantine },
            },
          }
        : { kind: { $case: 'buildOfDeploymentNumber', value: spec.source.number } };
    const defaultDomain = `${project.name}.${this.config.appsDomain}`;
    return {
      projectId: project.id,
      projectName: project.name,
      deploymentNumber: row.number,
      commitSha: spec.commitSha,
      source,
      configVars: spec.config,
      formation: spec.formation,
      domains: [defaultDomain, ...(await this.repo.customDomains(project.id))],
      httpsRedirect: false,
      build: {
        builder: project.builder === 'auto' ? '' : project.builder,
        timeoutSeconds: 0,
        // A name or an https:// URL (never a host path): Pomegrenade resolves names in its own
        // buildpacks directory.
        ...(project.buildpack ? { buildpackUrl: project.buildpack } : {}),
      },
      healthCheck: { path: project.health_check_path ?? '', timeoutSeconds: 0 },
      // null = 0 = the platform default; Pomegrenade refuses values above the operator's bounds.
      limits: {
        memoryBytes: (project.memory_mb ?? 0) * MiB,
        cpuMillicores: project.cpu_millicores ?? 0,
        maxProcesses: project.max_processes ?? 0,
        diskBytes: (project.disk_mb ?? 0) * MiB,
      },
      createdByClientId: spec.clientId,
      egressDisabled: project.egress_enabled === 0,
    };
  }

  /** Switches a deployed project's outside-world access at once; a project never deployed gets
   * it with its first deployment. */
  async applyEgress(project: DeployedProject, enabled: boolean): Promise<void> {
    await this.updateRouting(project, { egressDisabled: !enabled });
  }

  /**
   * Hands Pomegrenade the project's current domains at once: a removed domain must stop routing to
   * this project now (another Client may claim it next), not at its next deployment.
   */
  async syncDomains(project: Pick<DeployedProject, 'id' | 'name'>): Promise<void> {
    await this.updateRouting(project, {});
  }

  /** UpdateProjectRouting with the stored domains, for a project that has been deployed. */
  private async updateRouting(
    project: Pick<DeployedProject, 'id' | 'name'>,
    extra: { egressDisabled?: boolean },
  ): Promise<void> {
    if ((await this.repo.list(project.id, 1)).length === 0) return;
    await this.pomegrenade.updateProjectRouting({
      projectId: project.id,
      projectName: project.name,
      domains: [`${project.name}.${this.config.appsDomain}`, ...(await this.repo.customDomains(project.id))],
      httpsRedirect: false,
      ...extra,
    });
  }

  /** The config a deployment runs with, decrypted. */
  snapshot(row: DeploymentRow): Record<string, string> {
    if (!row.config_snapshot_ciphertext || !row.config_snapshot_nonce) return {};
    const sealed = {
      ciphertext: row.config_snapshot_ciphertext,
      nonce: row.config_snapshot_nonce,
      keyVersion: row.config_snapshot_key_version ?? 1,
    };
    return JSON.parse(this.box.open(sealed, snapshotAad(row.project_id, row.number))) as Record<
      string,
      string
    >;
  }

  /** The project's current config vars, decrypted. */
  async currentConfig(projectId: string): Promise<Record<string, string>> {
    return openConfigVars(this.box, projectId, await this.repo.configVars(projectId));
  }

  /** The formation new deployments get: the active deployment's, else the latest one's. */
  async desiredFormation(projectId: string): Promise<Formation> {
    const active = await this.repo.latestIn(projectId, ['active']);
    return storedFormation((active ?? (await this.repo.list(projectId, 1))[0])?.formation);
  }

  /** Deploys a push of `commitSha` on `refName`, with the project's current config. */
  async deployPush(
    project: DeployedProject,
    clientId: string,
    commitSha: string,
    refName: string,
    quarantine: git.ObjectQuarantine | undefined,
  ): Promise<DeploymentRow> {
    return this.create(project, {
      reason: 'push',
      commitSha,
      refName,
      source: { kind: 'git', refName, ...(quarantine ? { quarantine } : {}) },
      config: await this.currentConfig(project.id),
      formation: await this.desiredFormation(project.id),
      clientId,
    });
  }

  /**
   * After a config change: redeploys the active build with the new config — one deployment. While a
   * deployment is under way (it runs with the config it was created with), the redeploy waits for it
   * to end, so a config change never cancels a push in flight; changes made meanwhile share it.
   */
  async onConfigChanged(project: DeployedProject, clientId: string): Promise<DeploymentRow | undefined> {
    const pending = await this.repo.latestIn(project.id, UNFINISHED);
    if (!pending) return this.redeployConfig(project, clientId);
    if (!this.configWaits.has(project.id)) {
      const wait = this.settled(project.id, pending.number)
        .then(() => (this.stopping.signal.aborted ? undefined : this.redeployConfig(project, clientId)))
        .catch((err: unknown) => {
          this.logger.error({ err, project: project.id }, 'redeploying a config change failed');
          return undefined;
        })
        .finally(() => this.configWaits.delete(project.id));
      this.configWaits.set(project.id, wait);
    }
    return undefined;
  }

  /** Resolves once a config redeploy waiting for a deployment under way has been created. */
  async configRedeployed(projectId: string): Promise<DeploymentRow | undefined> {
    return this.configWaits.get(projectId);
  }

  /** Creates the config deployment: the active build with the current config, if anything is active. */
  private async redeployConfig(
    project: DeployedProject,
    clientId: string,
  ): Promise<DeploymentRow | undefined> {
    const active = await this.repo.latestIn(project.id, ['active']);
    if (!active) return undefined;
    return this.create(project, {
      reason: 'config',
      commitSha: active.commit_sha,
      refName: active.ref_name,
      source: { kind: 'build-of', number: active.number },
      config: await this.currentConfig(project.id),
      formation: storedFormation(active.formation),
      clientId,
    });
  }

  /** A deployment of the project, or NotFoundError. */
  async require(project: DeployedProject, number: number): Promise<DeploymentRow> {
    const row = await this.repo.find(project.id, number);
    if (!row) throw new NotFoundError(`project ${quote(project.name)}: deployment v${number} not found`);
    return row;
  }

  /** The deployment a rollback goes back to: `number`, else the newest one that was active before. */
  private async rollbackTarget(project: DeployedProject, number: number | undefined): Promise<DeploymentRow> {
    if (number === undefined) {
      const previous = await this.repo.latestIn(project.id, ['superseded']);
      if (!previous)
        throw new ConflictError(
          `project ${quote(project.name)}: no earlier successful deployment to roll back to`,
        );
      return previous;
    }
    const target = await this.require(project, number);
    if (target.state === 'active')
      throw new ConflictError(`project ${quote(project.name)}: v${number} is already active`);
    if (target.state !== 'superseded')
      throw new ConflictError(
        `project ${quote(project.name)}: v${number} never became active (${target.state}): only a deployment that was active can be rolled back to`,
      );
    return target;
  }

  /**
   * Rolls back: a NEW deployment reusing the target's build AND the config it ran with, which
   * becomes the project's config again once it is live (adoptRolledBackConfig).
   */
  async rollback(project: DeployedProject, clientId: string, number?: number): Promise<DeploymentRow> {
    const target = await this.rollbackTarget(project, number);
    // Refused before a deployment is numbered: Pomegrenade keeps only the last few builds.
    if (!(await this.pomegrenade.getDeployment(project.id, target.number)).buildRetained)
      throw new ConflictError(
        `project ${quote(project.name)}: the build of v${target.number} is no longer kept, so it cannot be rolled back to (push its commit again)`,
      );
    return this.create(project, {
      reason: 'rollback',
      commitSha: target.commit_sha,
      refName: target.ref_name,
      source: { kind: 'build-of', number: target.number },
      config: this.snapshot(target),
      formation: await this.desiredFormation(project.id),
      clientId,
    });
  }

  /**
   * Scales the running application (ScaleProject: no new deployment, nothing restarts) and records
   * the resulting formation on the active deployment, where later deployments take it from.
   */
  async scale(project: DeployedProject, formation: Formation): Promise<Formation> {
    const active = await this.repo.latestIn(project.id, ['active']);
    if (!active)
      throw new ConflictError(
        `project ${quote(project.name)}: nothing is deployed yet, push to deploy before scaling`,
      );
    const result = await this.pomegrenade.scaleProject(project.id, formation);
    const merged = { ...storedFormation(active.formation), ...formation, ...result };
    await this.repo.saveFormation(active.id, JSON.stringify(merged));
    return merged;
  }

  /** Cancels an unfinished deployment on Pomegrenade (its follower records the result). */
  async cancel(projectId: string, number: number): Promise<void> {
    const row = await this.repo.find(projectId, number);
    if (!row || !UNFINISHED.includes(row.state)) return;
    try {
      await this.pomegrenade.cancelDeployment(projectId, number);
    } catch (err) {
      if (err instanceof ConflictError) return;
      this.logger.warn({ err, number }, 'could not cancel a deployment');
    }
  }

  /**
   * Before a project is deleted: stops its application and removes its builds, logs and routes on
   * Pomegrenade. A project that never had a deployment has nothing there (and needs no Pomegrenade).
   * Stops following its deployments first, so none is recorded after the rows are gone.
   */
  async projectDeleted(projectId: string): Promise<void> {
    if ((await this.repo.list(projectId, 1)).length === 0) return;
    for (const row of await this.repo.list(projectId)) {
      if (UNFINISHED.includes(row.state)) await this.cancel(projectId, row.number);
    }
    await this.pomegrenade.deleteProject(projectId);
  }

  /** Events of a deployment: live ones while it runs, else its final state. */
  async *follow(
    project: DeployedProject,
    number: number,
    signal?: AbortSignal,
  ): AsyncIterable<DeploymentEvent> {
    const row = await this.require(project, number);
    if (this.events.has(project.id, number)) {
      yield* this.events.subscribe(project.id, number, signal);
      return;
    }
    const at = row.finished_at ?? row.started_at ?? row.created_at;
    yield { type: 'state', state: row.state, at, failure_reason: row.failure_reason };
  }
}
