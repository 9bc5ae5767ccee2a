// Test databases: SQLite always, PostgreSQL too when PAASTECH_TEST_POSTGRES_URL is set (as in CI).
// Each call creates a fresh database (a temp data dir, or a new PostgreSQL database) and `drop`
// removes it again.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export type TestDialect = 'sqlite' | 'postgres';

/** The PostgreSQL server tests may use, or undefined. */
export const POSTGRES_URL = process.env.PAASTECH_TEST_POSTGRES_URL || undefined;

/** Dialects every database suite runs against. */
export const DIALECTS: TestDialect[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/** A fresh, empty database plus the data dir the API uses. */
export interface TestDatabase {
  dialect: TestDialect;
  dataDir: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

/** Runs one statement on the PostgreSQL server's maintenance database. */
async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database of `dialect` and a temp data dir. */
export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-api-test-'));
  const removeDir = () => fs.promises.rm(dataDir, { recursive: true, force: true });
  if (dialect === 'sqlite') return { dialect, dataDir, drop: removeDir };
  if (!POSTGRES_URL) throw new Error('PAASTECH_TEST_POSTGRES_URL is not set');
  const name = `paastech_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    dialect,
    dataDir,
    databaseUrl: url.toString(),
    async drop() {
      await adminQuery(`drop database if exists ${name} with (force)`);
      await removeDir();
    },
  };
}
