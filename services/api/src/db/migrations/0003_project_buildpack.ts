// A project's custom buildpack (the name of an operator-installed one, or an https:// git URL);
// NULL = the built-in builders detect how to build. Reaches Pomegrenade with each deployment.
import type { Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/** Adds projects.buildpack. */
async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('projects').addColumn('buildpack', 'text').execute();
}

export const projectBuildpack: Migration = { name: '0003_project_buildpack', up };
