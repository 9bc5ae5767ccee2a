// Queries of the deployments table (one set for SQLite and PostgreSQL). Invariant: deployment
// numbers are allocated inside a transaction as max + 1 and the (project_id, number) unique
// constraint settles races, so every project's numbers are unique and only grow.
import { Inject, Injectable } from '@nestjs/common';
import type { Selectable } from 'kysely';
import type { Sealed } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import { isoNow } from '../db/ids.js';
import type { ConfigVarsTable, DeploymentState, DeploymentsTable, ProjectsTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique.js';
import { DATABASE } from '../providers.js';

export type DeploymentRow = Selectable<DeploymentsTable>;

/** States a deployment can still leave on its own. */
export const UNFINISHED: readonly DeploymentState[] = ['queued', 'building', 'releasing'];

/** States a deployment never leaves (superseded follows active only). */
export function isFinished(state: DeploymentState): boolean {
  return !UNFINISHED.includes(state);
}

/** How often a lost race for a number is retried. */
const ALLOCATE_ATTEMPTS = 5;

/** A deployment row before its number is known. */
export type NewDeployment = Omit<DeploymentRow, 'number'>;

/** A state change to record. */
export interface StateUpdate {
  state: DeploymentState;
  at: string;
  failureReason?: string | null;
  buildOutput?: string;
}

@Injectable()
export class DeploymentsRepository {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /**
   * Inserts `build(number)` with the next number of its project. On PostgreSQL the project's row is
   * locked first, so concurrent deployments of one project take their numbers one after another
   * (without it, under READ COMMITTED, each of N concurrent inserts reads the same max and all but
   * one fail: with six at once, the last could lose more rounds than it retries). SQLite runs one
   * transaction at a time on its connection. A lost race is still retried.
   */
  async insertNext(projectId: string, build: (number: number) => NewDeployment): Promise<DeploymentRow> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.database.db.transaction().execute(async (trx) => {
          if (this.database.dialect === 'postgres')
            await trx.selectFrom('projects').select('id').where('id', '=', projectId).forUpdate().execute();
          const { max } = await trx
            .selectFrom('deployments')
            .select((eb) => eb.fn.max('number').as('max'))
            .where('project_id', '=', projectId)
            .executeTakeFirstOrThrow();
          const number = Number(max ?? 0) + 1;
          const row = { ...build(number), number };
          await trx.insertInto('deployments').values(row).execute();
          return row;
        });
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= ALLOCATE_ATTEMPTS) throw err;
      }
    }
  }

  /** The project's deployments, newest first. */
  list(projectId: string, limit = 100): Promise<DeploymentRow[]> {
    return this.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('number', 'desc')
      .limit(limit)
      .execute();
  }

  find(projectId: string, number: number): Promise<DeploymentRow | undefined> {
    return this.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('number', '=', number)
      .executeTakeFirst();
  }

  /** The newest deployment of the project in one of `states`. */
  latestIn(projectId: string, states: readonly DeploymentState[]): Promise<DeploymentRow | undefined> {
    return this.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('state', 'in', [...states])
      .orderBy('number', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** Every deployment of every project that has not ended (after a crash: to reconcile). */
  listUnfinished(): Promise<DeploymentRow[]> {
    return this.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('state', 'in', [...UNFINISHED])
      .orderBy('created_at')
      .execute();
  }

  /** Records a state change: building sets started_at, an end sets finished_at. */
  async updateState(id: string, update: StateUpdate): Promise<void> {
    const ends = isFinished(update.state) && update.state !== 'superseded';
    await this.database.db
      .updateTable('deployments')
      .set({
        state: update.state,
        ...(update.state === 'building' ? { started_at: update.at } : {}),
        ...(ends ? { finished_at: update.at } : {}),
        ...(update.failureReason !== undefined ? { failure_reason: update.failureReason } : {}),
        ...(update.buildOutput !== undefined ? { build_output: update.buildOutput } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Marks every other active deployment of the project superseded (a newer one became active). */
  async supersedeOthers(projectId: string, activeNumber: number): Promise<void> {
    await this.database.db
      .updateTable('deployments')
      .set({ state: 'superseded' })
      .where('project_id', '=', projectId)
      .where('state', '=', 'active')
      .where('number', '!=', activeNumber)
      .execute();
  }

  async saveOutput(id: string, buildOutput: string): Promise<void> {
    await this.database.db
      .updateTable('deployments')
      .set({ build_output: buildOutput })
      .where('id', '=', id)
      .execute();
  }

  async saveFormation(id: string, formation: string): Promise<void> {
    await this.database.db.updateTable('deployments').set({ formation }).where('id', '=', id).execute();
  }

  /** The project with this id (for pushes, which name projects by id). */
  findProject(projectId: string): Promise<Selectable<ProjectsTable> | undefined> {
    return this.database.db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirst();
  }

  /** The project's config vars, sealed. */
  configVars(projectId: string): Promise<Selectable<ConfigVarsTable>[]> {
    return this.database.db
      .selectFrom('config_vars')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
  }

  /**
   * Makes the project's config vars exactly `vars` (sealed, by name) in one transaction, unless a
   * deployment newer than `number` exists (then returns false and changes nothing): what a live
   * rollback restores. Upserts, so a config change committed meanwhile cannot make it fail.
   */
  async replaceConfigVars(
    projectId: string,
    number: number,
    vars: ReadonlyMap<string, Sealed>,
  ): Promise<boolean> {
    const at = isoNow();
    return this.database.db.transaction().execute(async (trx) => {
      const newer = await trx
        .selectFrom('deployments')
        .select('number')
        .where('project_id', '=', projectId)
        .where('number', '>', number)
        .executeTakeFirst();
      if (newer) return false;
      let stale = trx.deleteFrom('config_vars').where('project_id', '=', projectId);
      if (vars.size > 0) stale = stale.where('name', 'not in', [...vars.keys()]);
      await stale.execute();
      for (const [name, sealed] of vars) {
        const value = {
          value_ciphertext: sealed.ciphertext,
          value_nonce: sealed.nonce,
          key_version: sealed.keyVersion,
          updated_at: at,
        };
        await trx
          .insertInto('config_vars')
          .values({ project_id: projectId, name, ...value })
          .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet(value))
          .execute();
      }
      return true;
    });
  }

  /** Hostnames routed to the project besides its default one. */
  async customDomains(projectId: string): Promise<string[]> {
    const rows = await this.database.db
      .selectFrom('domains')
      .select('hostname')
      .where('project_id', '=', projectId)
      .orderBy('hostname')
      .execute();
    return rows.map((r) => r.hostname);
  }
}
