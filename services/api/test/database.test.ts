import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, StatementNames } from '../src/db/database.js';
import { isoNow, newId } from '../src/db/ids.js';
import { MIGRATIONS } from '../src/db/migrations.js';
import type { Migration } from '../src/db/migrator.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './support/databases.js';

/** Names of the user tables in the database, sorted. */
async function tableNames(db: Kysely<unknown>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables.map((t) => t.name).sort();
}

describe.each(DIALECTS)('database on %s', (dialect) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.drop();
    t = undefined;
  });

  it('creates every table once; a second start applies nothing and keeps the data', async () => {
    t = await createTestDatabase(dialect);
    const first = await openDatabase(t);
    expect(first.dialect).toBe(dialect);
    const id = newId();
    await first.db
      .insertInto('clients')
      .values({ id, email: 'a@example.com', password_hash: 'x', created_at: isoNow() })
      .execute();
    await first.close();
    const second = await openDatabase(t);
    const names = await tableNames(second.db as unknown as Kysely<unknown>);
    expect(names).toEqual(
      [
        'api_tokens',
        'audit_events',
        'clients',
        'config_vars',
        'deployments',
        'device_authorizations',
        'domains',
        'paastech_migrations',
        'projects',
        'sessions',
        'ssh_keys',
      ].sort(),
    );
    const rows = await second.db.selectFrom('clients').select('email').execute();
    expect(rows).toEqual([{ email: 'a@example.com' }]);
    await second.close();
  });

  it('a failing migration leaves the database as it was', async () => {
    t = await createTestDatabase(dialect);
    const broken: Migration = {
      name: '9999_broken',
      async up(db) {
        await db.schema.createTable('half_done').addColumn('id', 'text').execute();
        await sql`insert into clients (id, email, password_hash, created_at) values ('x', 'b@x', 'h', 'now')`.execute(
          db,
        );
        await sql`select * from no_such_table`.execute(db);
      },
    };
    await expect(openDatabase(t, { migrations: [...MIGRATIONS, broken] })).rejects.toThrow(/no_such_table/);
    const again = await openDatabase(t);
    const names = await tableNames(again.db as unknown as Kysely<unknown>);
    expect(names).not.toContain('half_done');
    expect(names).toContain('clients');
    expect(await again.db.selectFrom('clients').selectAll().execute()).toEqual([]);
    const recorded = await sql<{ name: string }>`select name from paastech_migrations`.execute(again.db);
    expect(recorded.rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    await again.close();
  });

  it('the settings migration keeps existing projects, with egress on and platform-default limits', async () => {
    t = await createTestDatabase(dialect);
    const old = await openDatabase(t, { migrations: MIGRATIONS.slice(0, 1) });
    await sql`insert into clients (id, email, password_hash, created_at) values ('c', 'a@x', 'h', 'now')`.execute(
      old.db,
    );
    await sql`insert into projects (id, client_id, name, created_at) values ('p', 'c', 'shop', 'now')`.execute(
      old.db,
    );
    await old.close();
    const upgraded = await openDatabase(t);
    expect(await upgraded.db.selectFrom('projects').selectAll().execute()).toEqual([
      {
        id: 'p',
        client_id: 'c',
        name: 'shop',
        created_at: 'now',
        health_check_path: null,
        builder: 'auto',
        buildpack: null,
        egress_enabled: 1,
        memory_mb: null,
        cpu_millicores: null,
        max_processes: null,
        disk_mb: null,
      },
    ]);
    await upgraded.close();
  });

  it('the buildpack migration keeps existing settings, with auto-detection (null) for every project', async () => {
    t = await createTestDatabase(dialect);
    const old = await openDatabase(t, { migrations: MIGRATIONS.slice(0, 2) });
    await sql`insert into clients (id, email, password_hash, created_at) values ('c', 'a@x', 'h', 'now')`.execute(
      old.db,
    );
    await sql`insert into projects (id, client_id, name, created_at, builder, memory_mb) values ('p', 'c', 'shop', 'now', 'node', 64)`.execute(
      old.db,
    );
    await old.close();
    const upgraded = await openDatabase(t);
    const read = () =>
      upgraded.db.selectFrom('projects').select(['builder', 'memory_mb', 'buildpack']).executeTakeFirst();
    expect(await read()).toEqual({ builder: 'node', memory_mb: 64, buildpack: null });
    // The longest value the API accepts fits (PostgreSQL text, SQLite text: no length limit).
    const url = `https://example.com/${'b'.repeat(492)}`;
    await upgraded.db.updateTable('projects').set({ buildpack: url }).execute();
    expect((await read())?.buildpack).toBe(url);
    await upgraded.close();
  });

  // PostgreSQL only: several API replicas may share one server. (Two SQLite connections in one
  // process would block each other's thread; separate processes wait on BEGIN IMMEDIATE.)
  it.runIf(dialect === 'postgres')(
    'two API instances starting at once migrate once, without error',
    async () => {
      t = await createTestDatabase(dialect);
      const both = await Promise.all([openDatabase(t), openDatabase(t)]);
      const recorded = await sql<{ name: string }>`select name from paastech_migrations`.execute(both[0].db);
      expect(recorded.rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
      await Promise.all(both.map((d) => d.close()));
    },
  );

  // The first burst of requests must not pay for new backends (bench/api: ~100 ms of queueing).
  it.runIf(dialect === 'postgres')('opens every pool connection at start-up', async () => {
    t = await createTestDatabase(dialect);
    const database = await openDatabase({ ...t, databasePoolSize: 3 });
    const backends = async () => {
      const { rows } = await sql<{ n: string }>`
        select count(*) as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`.execute(database.db);
      return Number(rows[0]?.n);
    };
    // The query itself holds one of the three; the other two are idle, open.
    expect(await backends()).toBe(2);
    await database.close();
  });

  // bench/api: parsing and planning each query was a third of PostgreSQL's CPU per request.
  it.runIf(dialect === 'postgres')(
    'prepares parameterised statements once per connection, after the migrations, and they keep working',
    async () => {
      t = await createTestDatabase(dialect);
      const database = await openDatabase({ ...t, databasePoolSize: 1 });
      const { db } = database;
      const prepared = async () => {
        const { rows } = await sql<{ name: string; statement: string }>`
          select name, statement from pg_prepared_statements order by name`.execute(db);
        return rows;
      };
      // Migrations ran unnamed: nothing prepared before the first query of the application.
      expect(await prepared()).toEqual([]);
      const byName = (name: string) =>
        db.selectFrom('projects').select(['id']).where('name', '=', name).execute();
      await byName('a');
      await byName('b');
      const after = await prepared();
      expect(after).toHaveLength(1);
      expect(after[0]?.name).toMatch(/^paastech_\d+$/);
      expect(after[0]?.statement).toContain('"projects"');
      // The same statement, bound with other values, still answers correctly.
      await db
        .insertInto('clients')
        .values({ id: newId(), email: 'p@example.com', password_hash: 'x', created_at: isoNow() })
        .execute();
      const [client] = await db.selectFrom('clients').select(['id']).execute();
      await db
        .insertInto('projects')
        .values({ id: newId(), client_id: client?.id as string, name: 'b', created_at: isoNow() })
        .execute();
      expect(await byName('b')).toHaveLength(1);
      expect(await byName('a')).toHaveLength(0);
      await database.close();
    },
  );

  it('enforces unique e-mail, fingerprint, project name and hostname', async () => {
    t = await createTestDatabase(dialect);
    const { db, close } = await openDatabase(t);
    const now = isoNow();
    await db
      .insertInto('clients')
      .values({ id: 'c1', email: 'a@x', password_hash: 'h', created_at: now })
      .execute();
    await expect(
      db
        .insertInto('clients')
        .values({ id: 'c2', email: 'a@x', password_hash: 'h', created_at: now })
        .execute(),
    ).rejects.toThrow(/unique/i);
    await db
      .insertInto('projects')
      .values({ id: 'p1', client_id: 'c1', name: 'shop', created_at: now })
      .execute();
    await expect(
      db
        .insertInto('projects')
        .values({ id: 'p2', client_id: 'c1', name: 'shop', created_at: now })
        .execute(),
    ).rejects.toThrow(/unique/i);
    const builder = await db.selectFrom('projects').select('builder').executeTakeFirstOrThrow();
    expect(builder.builder).toBe('auto');
    await expect(
      db
        .insertInto('projects')
        .values({ id: 'p3', client_id: 'nobody', name: 'x', created_at: now })
        .execute(),
    ).rejects.toThrow(/foreign key/i);
    await close();
  });
});

describe('StatementNames', () => {
  it('names nothing until enabled, nothing without parameters, one name per text, and none past its cap', () => {
    const names = new StatementNames(2);
    expect(names.nameOf('select $1', 1)).toBeUndefined();
    names.enabled = true;
    expect(names.nameOf('select 1', 0)).toBeUndefined();
    const a = names.nameOf('select $1', 1);
    expect(a).toMatch(/^paastech_\d+$/);
    expect(names.nameOf('select $1', 1)).toBe(a);
    const b = names.nameOf('select $1, $2', 2);
    expect(b).not.toBe(a);
    expect(names.nameOf('select $1, $2, $3', 3)).toBeUndefined();
    expect(names.nameOf('select $1', 1)).toBe(a);
  });
});

describe('ids', () => {
  it('newId is a time-ordered UUIDv7', () => {
    const a = newId(1_000);
    const b = newId(2_000);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });
});
