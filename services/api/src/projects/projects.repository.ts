// Queries of the projects table (one set for SQLite and PostgreSQL).
import { Inject, Injectable } from '@nestjs/common';
import { ConflictError } from '@paastech/kit';
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Database } from '../db/database.js';
import type { ProjectsTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique.js';
import { DATABASE } from '../providers.js';
import { quote } from './project-name.js';

export type ProjectRow = Selectable<ProjectsTable>;
/** The columns a project's REST form shows. */
export type ProjectSummary = Pick<ProjectRow, 'id' | 'name' | 'created_at'>;

@Injectable()
export class ProjectsRepository {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** The Client's projects, by name (only what the list shows). */
  listByClient(clientId: string): Promise<ProjectSummary[]> {
    return this.database.db
      .selectFrom('projects')
      .select(['id', 'name', 'created_at'])
      .where('client_id', '=', clientId)
      .orderBy('name')
      .execute();
  }

  /** The project `name` if `clientId` owns it; another Client's project is as absent as a missing one. */
  findOwned(clientId: string, name: string): Promise<ProjectRow | undefined> {
    return this.database.db
      .selectFrom('projects')
      .selectAll()
      .where('client_id', '=', clientId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Inserts a project; a name taken by any Client is a ConflictError (the unique index decides). */
  async insert(row: Insertable<ProjectsTable>): Promise<void> {
    try {
      await this.database.db.insertInto('projects').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`project name ${quote(row.name)} is taken`, { cause: err });
      throw err;
    }
  }

  /** Changes the given columns of a project. */
  async update(id: string, columns: Updateable<ProjectsTable>): Promise<void> {
    await this.database.db.updateTable('projects').set(columns).where('id', '=', id).execute();
  }

  /** Deletes a project; its config vars, domains and deployments go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<void> {
    await this.database.db.deleteFrom('projects').where('id', '=', id).execute();
  }
}
