// Project settings that reach Pomegrenade with each deployment: outside-world access and the
// per-instance limits. NULL limits mean "the platform default" (Pomegrenade's, within the
// operator's bounds); egress is on unless the project turns it off.
import type { Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/** Adds the settings columns to projects. */
async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
  await db.schema
    .alterTable('projects')
    .addColumn('egress_enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  for (const column of ['memory_mb', 'cpu_millicores', 'max_processes', 'disk_mb']) {
    await db.schema.alterTable('projects').addColumn(column, 'integer').execute();
  }
}

export const projectSettings: Migration = { name: '0002_project_settings', up };
