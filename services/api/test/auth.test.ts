import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
