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

/** Runs `fn` in a transaction on one connection that concurrent starts cannot both enter. */
async function exclusive<T>(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  fn: (trx: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (conn) => {
    // SQLite: IMMEDIATE takes the write lock up front (waiting out busy_timeout), where a deferred
    // BEGIN would fail with "database is locked" when two starts both upgrade from read to write.
    await sql.raw(dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(conn);
    try {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PG_LOCK_KEY})`.execute(conn);
      const result = await fn(conn);
      await sql.raw('commit').execute(conn);
      return result;
    } catch (err) {
      await sql.raw('rollback').execute(conn);
      throw err;
    }
  });
}

/** Names of the recorded migrations; empty when the table does not exist yet. */
async function appliedNames(db: Kysely<unknown>): Promise<Set<string>> {
  try {
    const rows = await (db as unknown as Kysely<MigrationsTable>).selectFrom(TABLE).select('name').execute();
    return new Set(rows.map((r) => r.name));
  } catch {
    return new Set();
  }
}

/** Applies every migration not yet recorded, in order; returns the names it applied. */
export async function runMigrations(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  migrations: readonly Migration[],
): Promise<string[]> {
  // The common case — nothing to apply — reads only, so it never waits for (or takes) a write lock.
  const recorded = await appliedNames(db);
  if (migrations.every((m) => recorded.has(m.name))) return [];
  await exclusive(db, dialect, (trx) =>
    trx.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute(),
  );
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await exclusive(db, dialect, async (trx) => {
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
