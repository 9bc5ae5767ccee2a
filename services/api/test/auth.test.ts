import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/auth/secrets.js';
import { SessionsService } from '../src/auth/sessions.service.js';
import { type Database, openDatabase } from '../src/db/database.js';
import { isoNow } from '../src/db/ids.js';
import { call, sessionCookie, signUp, startTestApi, type TestApi } from './support/api.js';
import { DIALECTS } from './support/databases.js';

describe.each(DIALECTS)('auth on %s', (dialect) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(dialect);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('signs up, reads the account with the cookie and with a token, logs out', async () => {
    const c = await signUp(api);
    const viaCookie = await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } });
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.body).toMatchObject({ id: c.id, email: c.email });
    const viaToken = await call(api, 'GET', '/api/v1/account', { as: { token: c.token } });
    expect(viaToken.body.id).toBe(c.id);
    const out = await call(api, 'POST', '/api/v1/auth/logout', { as: { cookie: c.cookie } });
    expect(out.status).toBe(204);
    const after = await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } });
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('login rotates the session and sets HttpOnly SameSite=Lax cookie', async () => {
    const c = await signUp(api);
    const res = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email.toUpperCase(), password: c.password },
    });
    expect(res.status).toBe(200);
    const set = res.headers.getSetCookie()[0] ?? '';
    expect(set).toMatch(/^paastech_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect(sessionCookie(res)).not.toBe(c.cookie);
  });
});

describe.each(DIALECTS)('sessions and audit on %s', (dialect) => {
  let api: TestApi;
  let database: Database;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    database = await openDatabase(api.database);
  });
  afterAll(async () => {
    await database?.close();
    await api?.stop();
  });

  it('login with an existing session cookie ends that session (rotation)', async () => {
    const c = await signUp(api, 'rotate');
    const res = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email, password: c.password },
      as: { cookie: c.cookie },
    });
    expect(res.status).toBe(200);
    expect((await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } })).status).toBe(401);
    const fresh = sessionCookie(res) as string;
    expect((await call(api, 'GET', '/api/v1/account', { as: { cookie: fresh } })).status).toBe(200);
  });

  it('stores sessions and tokens only as sha256 hashes', async () => {
    const c = await signUp(api, 'hashes');
    const sessionId = c.cookie.split('=')[1] as string;
    const sessions = await database.db
      .selectFrom('sessions')
      .selectAll()
      .where('client_id', '=', c.id)
      .execute();
    expect(sessions.map((s) => s.id_hash)).toContain(sha256Hex(sessionId));
    const tokens = await database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('client_id', '=', c.id)
      .execute();
    expect(tokens.map((t) => t.token_hash)).toContain(sha256Hex(c.token));
    expect(JSON.stringify([sessions, tokens])).not.toContain(c.token);
    expect(JSON.stringify(sessions)).not.toContain(sessionId);
    const client = await database.db
      .selectFrom('clients')
      .selectAll()
      .where('id', '=', c.id)
      .executeTakeFirstOrThrow();
    expect(client.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('a used session slides: expiry pushed forward and the cookie sent again', async () => {
    const c = await signUp(api, 'sliding');
    const old = isoNow(Date.now() - 3 * 86_400_000);
    await database.db
      .updateTable('sessions')
      .set({ last_seen_at: old, expires_at: isoNow(Date.now() + 86_400_000) })
      .where('client_id', '=', c.id)
      .execute();
    const res = await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } });
    expect(res.status).toBe(200);
    expect(sessionCookie(res)).toBe(c.cookie);
    const row = await database.db
      .selectFrom('sessions')
      .selectAll()
      .where('client_id', '=', c.id)
      .executeTakeFirstOrThrow();
    expect(row.last_seen_at > old).toBe(true);
    expect(Date.parse(row.expires_at) - Date.now()).toBeGreaterThan(13 * 86_400_000);
    const again = await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } });
    expect(again.headers.getSetCookie()).toEqual([]);
  });

  it('expired sessions are refused and purged', async () => {
    const c = await signUp(api, 'expired');
    await database.db
      .updateTable('sessions')
      .set({ expires_at: isoNow(Date.now() - 1000) })
      .where('client_id', '=', c.id)
      .execute();
    expect((await call(api, 'GET', '/api/v1/account', { as: { cookie: c.cookie } })).status).toBe(401);
    await new SessionsService(database).purgeExpired();
    const left = await database.db
      .selectFrom('sessions')
      .select('id_hash')
      .where('client_id', '=', c.id)
      .execute();
    expect(left).toEqual([]);
  });

  it('records audit events for sign-up, logins, tokens and device approval, without secrets', async () => {
    const c = await signUp(api, 'audit');
    await call(api, 'POST', '/api/v1/auth/login', { body: { email: c.email, password: 'wrong password!' } });
    await call(api, 'POST', '/api/v1/auth/login', { body: { email: c.email, password: c.password } });
    await call(api, 'DELETE', `/api/v1/tokens/${c.tokenId}`, { as: { cookie: c.cookie } });
    const start = await call(api, 'POST', '/api/v1/auth/device');
    await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: c.cookie },
    });
    const events = await database.db
      .selectFrom('audit_events')
      .selectAll()
      .where((eb) => eb.or([eb('client_id', '=', c.id), eb('target', '=', `email:${c.email}`)]))
      .orderBy('at')
      .orderBy('id')
      .execute();
    expect(events.map((e) => [e.action, e.target])).toEqual([
      ['client.signup', `client:${c.id}`],
      ['token.create', `token:${c.tokenId}`],
      ['session.login_failed', `email:${c.email}`],
      ['session.login', `client:${c.id}`],
      ['token.revoke', `token:${c.tokenId}`],
      ['device.approve', `device:${start.body.user_code}`],
    ]);
    expect(events.every((e) => e.ip === '127.0.0.1')).toBe(true);
    expect(JSON.stringify(events)).not.toContain(c.password);
    expect(JSON.stringify(events)).not.toContain(c.token);
  });

  it('https public URL: __Host- cookie with Secure', async () => {
    const secure = await startTestApi(dialect, { publicUrl: 'https://paas.example.com' });
    try {
      const res = await call(secure, 'POST', '/api/v1/auth/signup', {
        body: { email: 'secure@example.com', password: 'a secure passphrase' },
      });
      expect(res.headers.getSetCookie()[0]).toMatch(
        /^__Host-paastech_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/,
      );
      const cookie = sessionCookie(res) as string;
      const ok = await call(secure, 'POST', '/api/v1/tokens', {
        body: { name: 'x' },
        as: { cookie, origin: 'https://paas.example.com' },
      });
      expect(ok.status).toBe(201);
    } finally {
      await secure.stop();
    }
  });
});
