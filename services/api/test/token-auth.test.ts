// Bearer-token authentication through the in-process cache, last use written off the request path,
// and the PostgreSQL pool size: revocation is immediate in this process, expiry holds while a token
// is cached, another process's revocation holds within the cache TTL, last use is recorded (and
// written at shutdown), the cache stays bounded.
import { createLogger } from '@paastech/kit';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiConfig } from '../src/config.js';
import { type Database, openDatabase } from '../src/db/database.js';
import { isoNow } from '../src/db/ids.js';
import { LastUsedWriter } from '../src/tokens/last-used.js';
import { type CachedToken, TokenCache } from '../src/tokens/token-cache.js';
import { TOKEN_CACHE_TTL_MS } from '../src/tokens/tokens.service.js';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { createTestDatabase, DIALECTS, POSTGRES_URL } from './support/databases.js';

const silent = createLogger('api', { level: 'silent', format: 'json' });

/** A cache entry for token `n` of client `c`. */
const entry = (n: number, c = 'c1'): CachedToken => ({
  tokenId: `t${n}`,
  clientId: c,
  expiresAt: null,
  lastUsedAt: null,
});

describe('TokenCache', () => {
  it('holds at most maxEntries, evicting the oldest first', () => {
    const cache = new TokenCache(5_000, 3);
    for (let i = 1; i <= 5; i++) cache.set(`h${i}`, entry(i), 1000 + i, cache.generation);
    expect(cache.size).toBe(3);
    expect([1, 2, 3, 4, 5].map((i) => cache.get(`h${i}`, 1010)?.tokenId)).toEqual([
      undefined,
      undefined,
      't3',
      't4',
      't5',
    ]);
  });

  it('stays bounded under a flood of distinct tokens', () => {
    const cache = new TokenCache(5_000, 100);
    for (let i = 0; i < 10_000; i++) cache.set(`h${i}`, entry(i), 1000, cache.generation);
    expect(cache.size).toBe(100);
    expect(cache.get('h9999', 1000)?.tokenId).toBe('t9999');
  });

  it('forgets an entry once its TTL has passed', () => {
    const cache = new TokenCache(5_000, 10);
    cache.set('h', entry(1), 1000, cache.generation);
    expect(cache.get('h', 5999)?.tokenId).toBe('t1');
    expect(cache.get('h', 6000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('forgets matching entries and refuses a lookup that started before', () => {
    const cache = new TokenCache(5_000, 10);
    cache.set('a', entry(1, 'c1'), 1000, cache.generation);
    cache.set('b', entry(2, 'c2'), 1000, cache.generation);
    const before = cache.generation;
    cache.forget((t) => t.tokenId === 't1');
    expect(cache.get('a', 1001)).toBeUndefined();
    expect(cache.get('b', 1001)?.tokenId).toBe('t2');
    // A lookup that read the database before the revocation must not bring the token back.
    cache.set('a', entry(1, 'c1'), 1002, before);
    expect(cache.get('a', 1003)).toBeUndefined();
    cache.set('a', entry(1, 'c1'), 1002, cache.generation);
    expect(cache.get('a', 1003)?.tokenId).toBe('t1');
  });
});

describe('PAASTECH_DATABASE_PREPARED_STATEMENTS', () => {
  it.each([
    ['unset', {}, true],
    ['on', { PAASTECH_DATABASE_PREPARED_STATEMENTS: 'on' }, true],
    ['off', { PAASTECH_DATABASE_PREPARED_STATEMENTS: 'off' }, false],
  ])('%s → %j', (_name, env, on) => {
    expect(readApiConfig(env).databasePreparedStatements).toBe(on);
  });

  it.each([['yes'], ['true'], ['OFF'], ['0']])('refuses %j', (value) => {
    expect(() => readApiConfig({ PAASTECH_DATABASE_PREPARED_STATEMENTS: value })).toThrow(
      'PAASTECH_DATABASE_PREPARED_STATEMENTS',
    );
  });

  it.skipIf(!POSTGRES_URL)('off: nothing is prepared by name', async () => {
    const t = await createTestDatabase('postgres');
    const database = await openDatabase({ ...t, databasePoolSize: 1, databasePreparedStatements: false });
    try {
      await database.db.selectFrom('projects').select(['id']).where('name', '=', 'x').execute();
      const { rows } = await sql<{ n: string }>`select count(*) as n from pg_prepared_statements`.execute(
        database.db,
      );
      expect(Number(rows[0]?.n)).toBe(0);
    } finally {
      await database.close();
      await t.drop();
    }
  });
});

describe('PAASTECH_DATABASE_POOL_SIZE', () => {
  it.each([
    ['unset', {}, undefined],
    ['a number', { PAASTECH_DATABASE_POOL_SIZE: '8' }, 8],
  ])('%s → %j', (_name, env, size) => {
    expect(readApiConfig(env).databasePoolSize).toBe(size);
  });

  it.each([
    ['zero', '0', 'must be between 1 and 100'],
    ['too many', '101', 'must be between 1 and 100'],
    ['a fraction', '2.5', 'must be a whole number'],
    ['not a number', 'ten', 'must be a number of connections'],
  ])('refuses %s', (_name, value, message) => {
    expect(() => readApiConfig({ PAASTECH_DATABASE_POOL_SIZE: value })).toThrow(
      `PAASTECH_DATABASE_POOL_SIZE: ${message}`,
    );
  });

  it.skipIf(!POSTGRES_URL)('bounds the PostgreSQL connections the API opens', async () => {
    const t = await createTestDatabase('postgres');
    const database = await openDatabase({ ...t, databasePoolSize: 2 });
    try {
      const name = new URL(t.databaseUrl as string).pathname.slice(1);
      const sleeps = Array.from({ length: 6 }, () => sql`select pg_sleep(0.3)`.execute(database.db));
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      let most = 0;
      for (let i = 0; i < 5; i++) {
        const { rows } = await admin.query('select count(*) as n from pg_stat_activity where datname = $1', [
          name,
        ]);
        most = Math.max(most, Number(rows[0]?.n));
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(sleeps);
      await admin.end();
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2);
    } finally {
      await database.close();
      await t.drop();
    }
  });
});

describe.each(DIALECTS)('API tokens on %s', (dialect) => {
  let api: TestApi;
  let database: Database;
  let c: TestClient;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    database = await openDatabase(api.database);
    c = await signUp(api, 'tokens');
  });
  afterAll(async () => {
    await database?.close();
    await api?.stop();
  });

  /** A new token of `c`: its secret and id. */
  async function newToken(expiresInDays?: number): Promise<{ token: string; id: string }> {
    const body = expiresInDays ? { name: 'c', expires_in_days: expiresInDays } : { name: 'c' };
    const t = await call(api, 'POST', '/api/v1/tokens', { body, as: { cookie: c.cookie } });
    return { token: t.body.token, id: t.body.id };
  }

  /** The stored last_used_at of token `id`. */
  async function stored(id: string): Promise<string | null> {
    const row = await database.db
      .selectFrom('api_tokens')
      .select('last_used_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.last_used_at;
  }

  /** Status of GET /api/v1/account with `token`. */
  const status = async (token: string) =>
    (await call(api, 'GET', '/api/v1/account', { as: { token } })).status;

  it('writes nothing until flushed, and what is pending when stopped', async () => {
    const { id } = await newToken();
    const writer = new LastUsedWriter(database, silent, 60_000);
    const at = Date.now();
    writer.mark(id, at);
    expect(await stored(id)).toBeNull();
    expect(writer.pendingUse(id)).toBe(at);
    await writer.stop();
    expect(await stored(id)).toBe(isoNow(at));
    expect(writer.pendingUse(id)).toBeUndefined();
  });

  it('keeps the latest mark and never moves a stored time backwards', async () => {
    const { id } = await newToken();
    const writer = new LastUsedWriter(database, silent, 60_000);
    const now = Date.now();
    writer.mark(id, now - 5_000);
    writer.mark(id, now);
    writer.mark(id, now - 10_000);
    await writer.flush();
    expect(await stored(id)).toBe(isoNow(now));
    writer.mark(id, now - 60_000);
    await writer.stop();
    expect(await stored(id)).toBe(isoNow(now));
  });

  it('keeps the marks of a failed write for the next flush', async () => {
    const { id } = await newToken();
    const closed = await openDatabase(api.database);
    await closed.close();
    const writer = new LastUsedWriter(closed, silent, 60_000);
    writer.mark(id, 1_000_000);
    await expect(writer.flush()).rejects.toThrow();
    expect(writer.pendingUse(id)).toBe(1_000_000);
    await writer.stop();
    expect(await stored(id)).toBeNull();
  });

  it('a revoked token stops working on the next request, also with requests in flight', async () => {
    const t = await newToken();
    expect(await status(t.token)).toBe(200);
    const inFlight = Array.from({ length: 20 }, () => status(t.token));
    const del = await call(api, 'DELETE', `/api/v1/tokens/${t.id}`, { as: { token: c.token } });
    expect(del.status).toBe(204);
    await Promise.all(inFlight);
    const after = await Promise.all(Array.from({ length: 20 }, () => status(t.token)));
    expect(after).toEqual(Array(20).fill(401));
  });

  it('an expiry is respected while the token is cached', async () => {
    const t = await newToken(1);
    const expiresAt = Date.now() + 1_500;
    await database.db
      .updateTable('api_tokens')
      .set({ expires_at: isoNow(expiresAt) })
      .where('id', '=', t.id)
      .execute();
    expect(await status(t.token)).toBe(200);
    await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 50));
    const res = await call(api, 'GET', '/api/v1/account', { as: { token: t.token } });
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('api token is invalid, expired or revoked');
  });

  it('a revocation written by another process holds within the cache TTL', async () => {
    const t = await newToken();
    expect(await status(t.token)).toBe(200);
    const revokedAt = Date.now();
    await database.db
      .updateTable('api_tokens')
      .set({ revoked_at: isoNow() })
      .where('id', '=', t.id)
      .execute();
    await expect.poll(() => status(t.token), { timeout: TOKEN_CACHE_TTL_MS + 3_000, interval: 50 }).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(TOKEN_CACHE_TTL_MS + 3_000);
  });

  it('last use is listed at once and recorded in the database soon after, at most once a minute', async () => {
    const t = await newToken();
    const before = Date.now();
    expect(await status(t.token)).toBe(200);
    const list = await call(api, 'GET', '/api/v1/tokens', { as: { cookie: c.cookie } });
    const listed = list.body.find((x: { id: string }) => x.id === t.id);
    expect(Date.parse(listed.last_used_at)).toBeGreaterThanOrEqual(before);
    await expect.poll(() => stored(t.id), { timeout: 5_000, interval: 50 }).toBe(listed.last_used_at);
    expect(await status(t.token)).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await stored(t.id)).toBe(listed.last_used_at);
  });

  it('last use still pending when the API stops is written before the database closes', async () => {
    const own = await startTestApi(dialect);
    try {
      const owner = await signUp(own, 'stop');
      const t = await call(own, 'POST', '/api/v1/tokens', {
        body: { name: 's' },
        as: { cookie: owner.cookie },
      });
      expect((await call(own, 'GET', '/api/v1/projects', { as: { token: t.body.token } })).status).toBe(200);
      await own.handle.stop();
      const db = await openDatabase(own.database);
      const row = await db.db
        .selectFrom('api_tokens')
        .select('last_used_at')
        .where('id', '=', t.body.id)
        .executeTakeFirstOrThrow();
      await db.close();
      expect(row.last_used_at).not.toBeNull();
    } finally {
      await own.database.drop();
    }
  });
});
