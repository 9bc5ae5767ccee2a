// Opens the one database of the platform: SQLite in the data dir by default, PostgreSQL when a URL
// is configured. Same Kysely<DB> either way; migrations run before anything else touches it.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type SqliteDatabase,
  SqliteDialect,
  sql,
} from 'kysely';
import pg from 'pg';
import { MIGRATIONS } from './migrations.js';
import { type Migration, runMigrations } from './migrator.js';
import type { DB } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database. */
export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Round-trips a trivial query; rejects when the database cannot answer within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseConfig {
  dataDir: string;
  /** postgres:// URL; unset = SQLite at `<dataDir>/paastech.db`. */
  databaseUrl?: string;
  /** Most PostgreSQL connections open at once (default DEFAULT_POOL_SIZE). */
  databasePoolSize?: number;
  /** False: never prepare statements by name (StatementNames); default true. */
  databasePreparedStatements?: boolean;
}

export interface OpenOptions {
  /** Migrations to run (default: all of the API's). */
  migrations?: readonly Migration[];
  /** Called with pool errors of idle PostgreSQL connections (e.g. the server restarted). */
  onPoolError?: (err: Error) => void;
}

/**
 * PostgreSQL connections when the configuration names no number. Small on purpose: the API's queries
 * take well under a millisecond, so a few connections keep up with thousands of requests a second,
 * while more connections only add server processes competing for the same CPUs.
 */
const DEFAULT_POOL_SIZE = 4;

/** How long a request may wait for a PostgreSQL connection before the API answers 503. */
const PG_CONNECT_TIMEOUT_MS = 2000;
/** Most distinct statement texts prepared by name; later ones run unnamed (parsed on every call). */
const MAX_PREPARED_STATEMENTS = 500;

/**
 * Names for parameterised statement texts, so that each pool connection parses and plans a query
 * once and then only binds and executes it (PostgreSQL keeps a connection's named statements until
 * it closes). Off until the migrations have run: a statement prepared before a schema change could
 * outlive it. Texts without parameters (migrations' DDL, `select 1`) stay unnamed.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  enabled = false;

  constructor(private readonly max = MAX_PREPARED_STATEMENTS) {}

  /** The name of `text`, or undefined to run it unnamed. */
  nameOf(text: string, parameterCount: number): string | undefined {
    if (!this.enabled || parameterCount === 0) return undefined;
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.max) {
      name = `paastech_${this.names.size}`;
      this.names.set(text, name);
    }
    return name;
  }
}

/** The pool Kysely is given: each query goes through `names` (StatementNames). */
function namingPool(pool: pg.Pool, names: StatementNames): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      return {
        query(text: unknown, values?: unknown[]) {
          if (typeof text !== 'string') return client.query(text as pg.Submittable);
          const name = names.nameOf(text, values?.length ?? 0);
          return name === undefined ? client.query(text, values) : client.query({ name, text, values });
        },
        release: () => client.release(),
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

/** Path of the embedded SQLite database. */
export function sqlitePath(dataDir: string): string {
  return path.join(dataDir, 'paastech.db');
}

/** Opens the SQLite file with WAL, foreign keys and a busy timeout. */
function openSqlite(dataDir: string): Kysely<DB> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = new BetterSqlite3(sqlitePath(dataDir));
  // busy_timeout first: switching to WAL needs a lock another starting process may hold.
  file.pragma('busy_timeout = 5000');
  file.pragma('journal_mode = WAL');
  file.pragma('foreign_keys = ON');
  file.pragma('synchronous = NORMAL');
  return new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
}

/** Most distinct SQL texts kept prepared; Kysely builds a bounded set, `in (…)` lists add a few. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Reuses prepared statements by SQL text (Kysely prepares one per query; preparing costs more than
 * running a small indexed query). Safe because better-sqlite3 runs a statement to completion
 * synchronously, so two uses of one statement never interleave.
 */
function withStatementCache(file: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => file.close(),
    prepare(sqlText: string) {
      let stmt = cache.get(sqlText);
      if (!stmt) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        stmt = file.prepare(sqlText);
        cache.set(sqlText, stmt);
      }
      return stmt;
    },
  };
}

/** Opens a PostgreSQL pool that fails fast when the server is down and recovers when it returns. */
function openPostgres(
  url: string,
  poolSize: number,
  prepare: boolean,
  onPoolError: (err: Error) => void,
): { db: Kysely<DB>; warm: () => Promise<void> } {
  const names = new StatementNames(prepare ? MAX_PREPARED_STATEMENTS : 0);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    // The pool is small (default 4): its connections stay open, so a burst of requests after a quiet
    // spell does not pay for new PostgreSQL backends (a connection plus a cold catalog cache each,
    // ~100 ms of queueing at 1,000 req/s in bench/api). A connection the server drops is replaced
    // on the next query.
    idleTimeoutMillis: 0,
    // A server that accepts but stops answering fails the query after 5 s (→ 503) instead of hanging.
    query_timeout: 5_000,
  });
  // An idle client losing its connection emits 'error' on the pool; the pool drops that client and
  // connects afresh on the next query, so the error only needs to be reported, not handled.
  pool.on('error', onPoolError);
  // A checked-out client whose server goes away between queries emits 'error' on itself; without a
  // listener that would crash the process. The query in flight fails on its own (→ 503).
  pool.on('connect', (client) => client.on('error', onPoolError));
  return {
    db: new Kysely<DB>({ dialect: new PostgresDialect({ pool: namingPool(pool, names) }) }),
    // Opens every connection of the pool at once (each answers one query), so the first requests
    // find them ready; from now on (the migrations have run) statements are prepared by name.
    warm: async () => {
      names.enabled = true;
      const clients = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
      try {
        await Promise.all(clients.map((c) => c.query('select 1')));
      } finally {
        for (const c of clients) c.release();
      }
    },
  };
}

/** Opens the configured database and runs the pending migrations. */
export async function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Promise<Database> {
  const dialect: Dialect = config.databaseUrl ? 'postgres' : 'sqlite';
  const opened = config.databaseUrl
    ? openPostgres(
        config.databaseUrl,
        config.databasePoolSize ?? DEFAULT_POOL_SIZE,
        config.databasePreparedStatements ?? true,
        options.onPoolError ?? (() => {}),
      )
    : { db: openSqlite(config.dataDir), warm: async () => {} };
  const { db } = opened;
  try {
    await runMigrations(db as unknown as Kysely<unknown>, dialect, options.migrations ?? MIGRATIONS);
    await opened.warm();
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return {
    db,
    dialect,
    ping: (timeoutMs = 1000) =>
      withTimeout(
        sql`select 1`.execute(db).then(() => {}),
        timeoutMs,
      ),
    close: () => db.destroy(),
  };
}

/** Rejects when `p` has not settled within `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
