import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { createTestDatabase, DIALECTS, POSTGRES_URL, type TestDatabase } from './support/databases.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const MINUTE = 60_000;

describe.each(DIALECTS)('rate limits on %s', (dialect) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(dialect, {
      rateLimits: {
        loginPerAccount: { max: 3, windowMs: MINUTE },
        signupPerIp: { max: 4, windowMs: MINUTE },
        devicePollPerIp: { max: 3, windowMs: MINUTE },
      },
    });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('login: per account, 429 with Retry-After, whatever the password', async () => {
    const c = await signUp(api, 'limited');
    for (let i = 0; i < 3; i++) {
      const res = await call(api, 'POST', '/api/v1/auth/login', {
        body: { email: c.email, password: 'wrong password' },
      });
      expect(res.status).toBe(401);
    }
    const blocked = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email.toUpperCase(), password: c.password },
    });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.body.detail).toMatch(
      /^too many login attempts for this account: at most 3 per 60 s, retry in \d+ s$/,
    );
  });

  it('sign-up: per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(api, 'POST', '/api/v1/auth/signup', {
        body: { email: `burst${i}@example.com`, password: 'a fine passphrase' },
      });
      statuses.push(res.status);
    }
    // signUp() in the previous test used one of the four.
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('device polling: per IP', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (
          await call(api, 'POST', '/api/v1/auth/device/token', {
            body: { device_code: start.body.device_code },
          })
        ).status,
      );
    expect(statuses).toEqual([400, 400, 400, 429]);
  });
});

describe.each(DIALECTS)('secrets never reach the log on %s', (dialect) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(dialect);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('passwords, tokens, session ids and device codes appear in no log line', async () => {
    const c: TestClient = await signUp(api, 'logs');
    const login = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email, password: c.password, token_name: 'x' },
    });
    await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email, password: `${c.password}-wrong` },
    });
    const start = await call(api, 'POST', '/api/v1/auth/device');
    await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: c.cookie },
    });
    const issued = await call(api, 'POST', '/api/v1/auth/device/token', {
      body: { device_code: start.body.device_code },
    });
    await call(api, 'GET', '/api/v1/account', { headers: { authorization: `Bearer ${c.token}x` } });
    const secrets = [
      c.password,
      c.token,
      c.cookie.split('=')[1] as string,
      login.body.token,
      start.body.device_code,
      issued.body.access_token,
    ];
    expect(secrets.every((s) => typeof s === 'string' && s.length >= 10)).toBe(true);
    expect(api.logs.length).toBeGreaterThan(0);
    for (const line of api.logs) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});

describe.runIf(POSTGRES_URL)('PostgreSQL going away and coming back', () => {
  let api: TestApi;
  let proxy: TcpProxy;
  let c: TestClient;
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const url = new URL(db.databaseUrl as string);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    api = await startTestApi('postgres', { databaseUrl: url.toString() });
    c = await signUp(api, 'outage');
  });
  afterAll(async () => {
    await proxy?.restore().catch(() => {});
    await api?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('/readyz turns 503, routes answer 503 quickly, and both recover by themselves', async () => {
    expect((await call(api, 'GET', '/readyz')).status).toBe(200);
    await proxy.cut();
    const ready = await call(api, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const t0 = Date.now();
    const account = await call(api, 'GET', '/api/v1/account', { as: { token: c.token } });
    expect(account.status).toBe(503);
    expect(account.body.detail).toBe('database unavailable: try again shortly');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await call(api, 'GET', '/healthz')).status).toBe(200);

    await proxy.restore();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await call(api, 'GET', '/readyz')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    expect((await call(api, 'GET', '/api/v1/account', { as: { token: c.token } })).status).toBe(200);
  });

  it('a server that hangs gives 503s within seconds, not hung requests, and recovers', async () => {
    proxy.freeze();
    try {
      let t0 = Date.now();
      expect((await call(api, 'GET', '/readyz')).status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(2500);
      t0 = Date.now();
      const account = await call(api, 'GET', '/api/v1/account', { as: { token: c.token } });
      expect(account.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      proxy.thaw();
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await call(api, 'GET', '/api/v1/account', { as: { token: c.token } })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });
});
