import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import { isoNow } from '../src/db/ids.js';
import { normalizeUserCode } from '../src/device/device.service.js';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';

/** Lets the next poll count as on time (the interval is 5 s; tests do not wait for it). */
async function forgetLastPoll(api: TestApi): Promise<void> {
  const database = await openDatabase(api.database);
  await database.db.updateTable('device_authorizations').set({ last_polled_at: null }).execute();
  await database.close();
}

describe.each(DIALECTS)('device authorization flow on %s', (dialect) => {
  let api: TestApi;
  let person: TestClient;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    person = await signUp(api, 'device');
  });
  afterAll(async () => {
    await api?.stop();
  });

  const poll = (deviceCode: string) =>
    call(api, 'POST', '/api/v1/auth/device/token', { body: { device_code: deviceCode } });

  it('pending → slow_down → approved → one token, then invalid_grant', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ expires_in: 600, interval: 5 });
    expect(start.body.user_code).toMatch(/^[BCDFGHJKMNPQRSTVWXZ]{4}-[BCDFGHJKMNPQRSTVWXZ]{4}$/);
    expect(start.body.verification_uri).toBe(`${api.baseUrl}/device`);
    expect(start.body.verification_uri_complete).toBe(
      `${api.baseUrl}/device?user_code=${start.body.user_code}`,
    );
    const code = start.body.device_code as string;

    const first = await poll(code);
    expect(first.status).toBe(400);
    expect(first.body).toMatchObject({
      error: 'authorization_pending',
      status: 400,
      type: 'urn:paastech:problem:invalid_argument',
    });
    const second = await poll(code);
    expect(second.body).toMatchObject({ error: 'slow_down', interval: 10 });

    const seen = await call(api, 'GET', `/api/v1/auth/device/${start.body.user_code.toLowerCase()}`, {
      as: { cookie: person.cookie },
    });
    expect(seen.body).toMatchObject({ user_code: start.body.user_code, status: 'pending' });

    const approve = await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code.replace('-', ' ').toLowerCase() },
      as: { cookie: person.cookie },
    });
    expect(approve.status).toBe(204);
    const again = await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: person.cookie },
    });
    expect(again.status).toBe(404);

    await forgetLastPoll(api);
    const token = await poll(code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      access_token: expect.stringMatching(/^pt_[0-9A-Za-z]{40}$/),
      token_type: 'bearer',
    });
    const me = await call(api, 'GET', '/api/v1/account', { as: { token: token.body.access_token } });
    expect(me.body.id).toBe(person.id);
    const replay = await poll(code);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('concurrent polls after approval hand out exactly one token', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: person.cookie },
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => poll(start.body.device_code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('denied → access_denied', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    const deny = await call(api, 'POST', '/api/v1/auth/device/deny', {
      body: { user_code: start.body.user_code },
      as: { cookie: person.cookie },
    });
    expect(deny.status).toBe(204);
    expect((await poll(start.body.device_code)).body.error).toBe('access_denied');
  });

  it('expired → expired_token, and it can no longer be approved', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    const database = await openDatabase(api.database);
    await database.db
      .updateTable('device_authorizations')
      .set({ expires_at: isoNow(Date.now() - 1000) })
      .where('user_code', '=', start.body.user_code)
      .execute();
    await database.close();
    expect((await poll(start.body.device_code)).body.error).toBe('expired_token');
    const approve = await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: person.cookie },
    });
    expect(approve.status).toBe(404);
    const seen = await call(api, 'GET', `/api/v1/auth/device/${start.body.user_code}`, {
      as: { cookie: person.cookie },
    });
    expect(seen.body.status).toBe('expired');
  });

  it('guessing user codes is rate-limited per account (RFC 8628 §5.1)', async () => {
    const guesser = await signUp(api, 'guesser');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const res = await call(api, 'POST', '/api/v1/auth/device/approve', {
        body: { user_code: `BCDF-${'BCDFGHJKMNPQRSTVWXZ'[i % 19]}GHJ` },
        as: { cookie: guesser.cookie },
      });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    // A person mistyping is not stopped (the limit is 30 per 15 minutes); a guesser is.
    expect(limited?.status).toBe(429);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.slice(0, -1).every((s) => s === 404)).toBe(true);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    const lookedUp = await call(api, 'GET', '/api/v1/auth/device/BCDF-GHJK', {
      as: { cookie: guesser.cookie },
    });
    expect(lookedUp.status).toBe(429);
    // Another account is not affected.
    const start = await call(api, 'POST', '/api/v1/auth/device');
    const other = await call(api, 'GET', `/api/v1/auth/device/${start.body.user_code}`, {
      as: { cookie: person.cookie },
    });
    expect(other.status).toBe(200);
  });

  it('approval needs a CSRF-safe session: no Origin → 403', async () => {
    const start = await call(api, 'POST', '/api/v1/auth/device');
    const res = await call(api, 'POST', '/api/v1/auth/device/approve', {
      body: { user_code: start.body.user_code },
      as: { cookie: person.cookie, origin: null },
    });
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(/cross-site request refused/);
  });

  it.each([
    ['unknown device code', { device_code: 'nope' }, 'invalid_grant'],
    ['array device code', { device_code: ['a'] }, undefined],
    ['missing device code', {}, undefined],
  ])('polling with %s is a 400', async (_name, body, error) => {
    const res = await call(api, 'POST', '/api/v1/auth/device/token', { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });
});

describe('user codes', () => {
  it.each([
    ['wdjb-mjht', 'WDJB-MJHT'],
    ['WDJB MJHT', 'WDJB-MJHT'],
    ['WDJBMJHT', 'WDJB-MJHT'],
    ['WDJB-MJH', undefined],
    ['AAAA-AAAA', undefined],
    ['WDJB-MJH0', undefined],
    ["WDJB-MJH'", undefined],
    ['ＷDJB-MJHT', undefined],
  ])('normalizeUserCode(%j) = %j', (input, expected) => {
    expect(normalizeUserCode(input)).toBe(expected);
  });
});
