// Queries of the domains table.
import { Inject, Injectable } from '@nestjs/common';
import { ConflictError } from '@paastech/kit';
import type { Selectable } from 'kysely';
import type { Database } from '../db/database.js';
import type { DomainsTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique.js';
import { quote } from '../projects/project-name.js';
import { DATABASE } from '../providers.js';

export type DomainRow = Selectable<DomainsTable>;

@Injectable()
export class DomainsRepository {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** The project's domains, by hostname. */
  list(projectId: string): Promise<DomainRow[]> {
    return this.database.db
      .selectFrom('domains')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('hostname')
      .execute();
  }

  /** Inserts a domain; a hostname any project already has is a ConflictError that names no project. */
  async insert(row: DomainRow): Promise<void> {
    try {
      await this.database.db.insertInto('domains').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`domain ${quote(row.hostname)} is already in use`, { cause: err });
      throw err;
    }
  }

  /** Deletes the project's domain `hostname`; the deleted row, undefined when there was none. */
  delete(projectId: string, hostname: string): Promise<DomainRow | undefined> {
    return this.database.db
      .deleteFrom('domains')
      .where('project_id', '=', projectId)
      .where('hostname', '=', hostname)
      .returningAll()
      .executeTakeFirst();
  }
}
