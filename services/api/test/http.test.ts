import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStrictJson } from '../src/http/strict-json.js';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';

const PROBLEM = /^application\/problem\+json/;

describe.each(DIALECTS)('HTTP conventions on %s', (dialect) => {
  let api: TestApi;
  let c: TestClient;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    c = await signUp(api, 'http');
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('unknown routes are 404 problems', async () => {
    const res = await call(api, 'GET', '/api/v1/nope?x=1');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body).toEqual({
      type: 'urn:paastech:problem:not_found',
      title: 'Not Found',
      status: 404,
      detail: 'no route GET /api/v1/nope',
      instance: '/api/v1/nope',
    });
  });

  it('validation errors list every field and rule', async () => {
    const res = await call(api, 'POST', '/api/v1/auth/signup', {
      body: { email: 'not-an-email', password: 5 },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'email', message: expect.stringMatching(/^email must be an e-mail address/) },
        { field: 'password', message: 'password must be a string' },
      ]),
    );
  });

  it.each([
    [
      'array where a string is expected (CVE-2023-7028)',
      { email: ['a@example.com', 'evil@example.com'], password: 'x' },
      'email',
    ],
    ['object where a string is expected', { email: { $ne: null }, password: 'x' }, 'email'],
    ['unknown field', { email: 'a@example.com', password: 'long enough password', admin: true }, 'admin'],
    ['number for a string', { email: 42, password: 'long enough password' }, 'email'],
    [
      'unicode look-alike e-mail (Cyrillic a)',
      { email: 'аdmin@example.com', password: 'long enough password' },
      'email',
    ],
    ['fullwidth @', { email: 'admin＠example.com', password: 'long enough password' }, 'email'],
    [
      'SQL injection as e-mail',
      { email: "' OR 1=1 --@example.com", password: 'long enough password' },
      'email',
    ],
    [
      'JS injection as e-mail',
      { email: '<script>alert(1)</script>@example.com', password: 'long enough password' },
      'email',
    ],
    [
      'over-long e-mail',
      { email: `${'a'.repeat(250)}@example.com`, password: 'long enough password' },
      'email',
    ],
    ['too short password', { email: 'short@example.com', password: 'short' }, 'password'],
    ['over-long password', { email: 'long@example.com', password: 'x'.repeat(257) }, 'password'],
    ['common password', { email: 'common@example.com', password: 'qwertyuiop' }, 'password'],
    ['common password in other case', { email: 'common2@example.com', password: 'QwertyUIOP' }, 'password'],
  ])('sign-up refuses %s', async (_name, body, field) => {
    const res = await call(api, 'POST', '/api/v1/auth/signup', { body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it.each([
    [
      'duplicate keys',
      '{"email":"a@example.com","email":"b@example.com","password":"long enough password"}',
      /duplicate key "email"/,
    ],
    [
      '__proto__ key',
      '{"__proto__":{"admin":true},"email":"a@example.com","password":"long enough password"}',
      /__proto__/,
    ],
    ['deep nesting', `{"email":${'['.repeat(100)}${']'.repeat(100)}}`, /nesting deeper/],
    ['trailing garbage', '{"email":"a@example.com"} x', /unexpected text/],
    ['not JSON', 'email=a@example.com', /expected a value/],
    ['JSON array body', '[{"email":"a@example.com"}]', /body must be a JSON object/],
    ['JSON string body', '"a@example.com"', /body must be a JSON object/],
  ])('bodies with %s are refused with 400', async (_name, raw, detail) => {
    const res = await call(api, 'POST', '/api/v1/auth/signup', { body: raw });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body.detail).toMatch(detail);
  });

  it('a body over 1 MiB is a 413 problem', async () => {
    const res = await call(api, 'POST', '/api/v1/auth/signup', {
      body: JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body.detail).toBe('request body exceeds the limit of 1048576 bytes');
  });

  it('a non-JSON media type is a 415 problem', async () => {
    const res = await call(api, 'POST', '/api/v1/auth/login', {
      body: 'email=a@example.com',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
  });

  it('sign-up lower-cases the e-mail and refuses it twice in any case', async () => {
    const res = await call(api, 'POST', '/api/v1/auth/signup', {
      body: { email: 'Grace@Example.com', password: 'a long passphrase 1' },
    });
    expect(res.status).toBe(201);
    expect(res.body.email).toBe('grace@example.com');
    const dup = await call(api, 'POST', '/api/v1/auth/signup', {
      body: { email: 'GRACE@example.com', password: 'a long passphrase 2' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.detail).toBe('email "grace@example.com" is already registered');
  });

  it('login gives the same answer for an unknown e-mail and a wrong password', async () => {
    const unknown = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'whatever it is' },
    });
    const wrong = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email, password: 'not the password' },
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect({ ...unknown.body, instance: '' }).toEqual({ ...wrong.body, instance: '' });
    expect(wrong.body.detail).toBe('email or password is wrong');
  });

  it('login with token_name returns an API token and sets no cookie', async () => {
    const res = await call(api, 'POST', '/api/v1/auth/login', {
      body: { email: c.email, password: c.password, token_name: 'script' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.body.token).toMatch(/^pt_[0-9A-Za-z]{40}$/);
    const me = await call(api, 'GET', '/api/v1/account', { as: { token: res.body.token } });
    expect(me.body.id).toBe(c.id);
  });

  it('a token is shown once, listed without its secret, and revoked from the next request', async () => {
    const created = await call(api, 'POST', '/api/v1/tokens', {
      body: { name: 'ci', expires_in_days: 30 },
      as: { token: c.token },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'ci', prefix: created.body.token.slice(0, 10) });
    expect(Date.parse(created.body.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const list = await call(api, 'GET', '/api/v1/tokens', { as: { token: created.body.token } });
    expect(list.text).not.toContain(created.body.token);
    const mine = list.body.find((t: { id: string }) => t.id === created.body.id);
    expect(mine.last_used_at).not.toBeNull();
    const del = await call(api, 'DELETE', `/api/v1/tokens/${created.body.id}`, { as: { token: c.token } });
    expect(del.status).toBe(204);
    const after = await call(api, 'GET', '/api/v1/account', { as: { token: created.body.token } });
    expect(after.status).toBe(401);
    expect(after.body.detail).toBe('api token is invalid, expired or revoked');
  });

  it.each([
    ['empty name', { name: '' }, 'name'],
    ['array name', { name: ['a'] }, 'name'],
    ['control characters', { name: 'a\u0000b' }, 'name'],
    ['over-long name', { name: 'n'.repeat(101) }, 'name'],
    ['zero days', { name: 'a', expires_in_days: 0 }, 'expires_in_days'],
    ['string days', { name: 'a', expires_in_days: '30' }, 'expires_in_days'],
    ['fractional days', { name: 'a', expires_in_days: 1.5 }, 'expires_in_days'],
  ])('token creation refuses %s', async (_name, body, field) => {
    const res = await call(api, 'POST', '/api/v1/tokens', { body, as: { token: c.token } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it.each([
    ['path traversal', '..%2F..%2Fetc%2Fpasswd', 404],
    ['SQL injection', "1'%20OR%20'1'%3D'1", 404],
    ['unicode look-alike', '%D0%B0bc', 404],
    ['over-long id', 'x'.repeat(65), 400],
  ])('revoking a token by a hostile id (%s) → %i', async (_name, id, status) => {
    const res = await call(api, 'DELETE', `/api/v1/tokens/${id}`, { as: { token: c.token } });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect((await call(api, 'GET', '/api/v1/account', { as: { token: c.token } })).status).toBe(200);
  });

  it.each([
    ['no header', undefined],
    ['malformed header', 'Token abc'],
    ['unknown token', 'Bearer pt_000000000000000000000000000000000000000'],
    ['injection as token', "Bearer ' OR '1'='1"],
  ])('unauthenticated (%s) is a 401 problem', async (_name, authorization) => {
    const res = await call(
      api,
      'GET',
      '/api/v1/account',
      authorization ? { headers: { authorization } } : {},
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
  });

  describe('CSRF', () => {
    it.each([
      ['no Origin', null, 403],
      ['a foreign Origin', 'https://evil.example', 403],
      ['a sibling port', 'http://127.0.0.1:1', 403],
      ['the API origin', undefined, 201],
    ])('a cookie POST with %s', async (_name, origin, status) => {
      const res = await call(api, 'POST', '/api/v1/tokens', {
        body: { name: 'csrf' },
        as: { cookie: c.cookie, origin },
      });
      expect(res.status).toBe(status);
      if (status === 403) expect(res.body.detail).toMatch(/^cross-site request refused/);
    });

    it('a Referer of the API origin stands in for a missing Origin', async () => {
      const res = await call(api, 'POST', '/api/v1/tokens', {
        body: { name: 'referer' },
        as: { cookie: c.cookie, origin: null },
        headers: { referer: `${api.baseUrl}/tokens` },
      });
      expect(res.status).toBe(201);
    });

    it('Bearer requests need no Origin; login from a foreign Origin is refused', async () => {
      const res = await call(api, 'POST', '/api/v1/tokens', {
        body: { name: 'bearer' },
        as: { token: c.token },
      });
      expect(res.status).toBe(201);
      const login = await call(api, 'POST', '/api/v1/auth/login', {
        body: { email: c.email, password: c.password },
        headers: { origin: 'https://evil.example' },
      });
      expect(login.status).toBe(403);
    });
  });

  it('serves an OpenAPI 3.1 document describing every route, and a docs page', async () => {
    const doc = await call(api, 'GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    for (const p of [
      '/api/v1/auth/signup',
      '/api/v1/auth/login',
      '/api/v1/auth/logout',
      '/api/v1/account',
      '/api/v1/tokens',
      '/api/v1/tokens/{id}',
      '/api/v1/auth/device',
      '/api/v1/auth/device/token',
      '/api/v1/auth/device/approve',
      '/api/v1/auth/device/deny',
      '/api/v1/auth/device/{user_code}',
      '/healthz',
      '/readyz',
    ])
      expect(Object.keys(doc.body.paths)).toContain(p);
    const signup = doc.body.paths['/api/v1/auth/signup'].post;
    expect(Object.keys(signup.responses)).toEqual(expect.arrayContaining(['201', '400', '409', '429']));
    expect(signup.responses['400'].content['application/problem+json']).toBeDefined();
    expect(signup.security).toEqual([{}]);
    expect(doc.body.paths['/api/v1/account'].get.security).toBeUndefined();
    expect(doc.body.security).toEqual([{ bearer: [] }, { session: [] }]);
    const docs = await call(api, 'GET', '/api/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toMatch(/swagger-ui/i);
    expect(docs.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    const css = await call(api, 'GET', '/api/docs/swagger-ui.css');
    expect(css.status).toBe(200);
  });

  it('/healthz and /readyz answer without authentication', async () => {
    expect((await call(api, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call(api, 'GET', '/readyz')).body).toEqual({ status: 'ok', database: dialect });
  });
});

describe('parseStrictJson', () => {
  it.each([
    ['{"a":1,"b":[1,2,{"c":"d"}]}', { a: 1, b: [1, 2, { c: 'd' }] }],
    ['{"a\\u0062":"\\"x\\""}', { ab: '"x"' }],
    [' [ ] ', []],
    ['-1.5e+3', -1500],
    ['{"a":{"a":1}}', { a: { a: 1 } }],
  ])('parses %s', (text, value) => {
    expect(parseStrictJson(text)).toEqual(value);
  });

  it.each([
    ['{"a":1,"a":2}', /duplicate key "a"/],
    ['{"a":1,"\\u0061":2}', /duplicate key "a"/],
    ['{"a":1,}', /expected a quoted key/],
    ['{"a" 1}', /expected ":"/],
    ['[1 2]', /expected "," or "]"/],
    ['"\u0001"', /control character/],
    ['"abc', /unterminated string/],
    ['01', /unexpected text/],
    ['NaN', /expected a value/],
    ['', /expected a value/],
  ])('refuses %j', (text, message) => {
    expect(() => parseStrictJson(text)).toThrow(message);
  });
});
