// Schema migrations, run at start-up. Invariant: each migration runs inside its own transaction
// together with the row that records it, so a migration is either fully applied and recorded or
// not at all — a failure leaves the database as it was (both SQLite and PostgreSQL have
// transactional DDL). Applied migrations are skipped, so running them again is a no-op.
import { type Kysely, sql } from 'kysely';
import { isoNow } from './ids.js';

/** One schema change; `name` (NNNN_what) orders migrations and records them. */
export interface Migration {
  name: string;
  up(db: Kysely<unknown>): Promise<void>;
}

const TABLE = 'paastech_migrations';
/** Arbitrary constant for pg_advisory_xact_lock, so concurrent starts migrate one at a time. */
const PG_LOCK_KEY = 0x7061_6173;

interface MigrationsTable {
  paastech_migrations: { name: string; applied_at: string };
}

/** Applies every migration not yet recorded, in order; returns the names it applied. */
export async function runMigrations(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  migrations: readonly Migration[],
): Promise<string[]> {
  await db.schema
    .createTable(TABLE)
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction().execute(async (trx) => {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PG_LOCK_KEY})`.execute(trx);
      const t = trx as unknown as Kysely<MigrationsTable>;
      const done = await t
        .selectFrom(TABLE)
        .select('name')
        .where('name', '=', migration.name)
        .executeTakeFirst();
      if (done) return false;
      await migration.up(trx);
      await t.insertInto(TABLE).values({ name: migration.name, applied_at: isoNow() }).execute();
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}
