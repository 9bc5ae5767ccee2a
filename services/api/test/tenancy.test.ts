import { afterAll, beforeAll, describe } from 'vitest';
import { call, startTestApi, type TestApi } from './support/api.js';
import { DIALECTS } from './support/databases.js';
import { type Actors, type MatrixRoute, makeActors, ownerOnly, runMatrix } from './support/matrix.js';

/** A fresh pending device authorization's user code. */
async function userCode(api: TestApi): Promise<string> {
  return (await call(api, 'POST', '/api/v1/auth/device')).body.user_code;
}

/** The routes of the API core (api-resources adds theirs in their own suites). */
const CORE_ROUTES: MatrixRoute[] = [
  {
    name: 'GET /account',
    method: 'GET',
    prepare: async () => ({ path: '/api/v1/account' }),
    expect: ownerOnly(200, 200),
  },
  {
    name: 'GET /tokens',
    method: 'GET',
    prepare: async () => ({ path: '/api/v1/tokens' }),
    expect: ownerOnly(200, 200),
  },
  {
    name: 'POST /tokens',
    method: 'POST',
    prepare: async () => ({ path: '/api/v1/tokens', body: { name: 'matrix' } }),
    expect: ownerOnly(201, 201),
  },
  {
    name: 'DELETE /tokens/:id',
    method: 'DELETE',
    prepare: async (api, owner) => {
      const t = await call(api, 'POST', '/api/v1/tokens', {
        body: { name: 'to revoke' },
        as: { token: owner.token },
      });
      return { path: `/api/v1/tokens/${t.body.id}` };
    },
    expect: ownerOnly(204, 404),
  },
  {
    name: 'POST /auth/logout',
    method: 'POST',
    prepare: async () => ({ path: '/api/v1/auth/logout' }),
    expect: ownerOnly(204, 204),
  },
  {
    name: 'GET /auth/device/:user_code',
    method: 'GET',
    prepare: async (api) => ({ path: `/api/v1/auth/device/${await userCode(api)}` }),
    expect: ownerOnly(200, 200),
  },
  {
    name: 'POST /auth/device/approve (token)',
    method: 'POST',
    prepare: async (api) => ({
      path: '/api/v1/auth/device/approve',
      body: { user_code: await userCode(api) },
    }),
    expect: ownerOnly(403, 403),
  },
  {
    name: 'POST /auth/device/approve (session)',
    method: 'POST',
    via: 'cookie',
    prepare: async (api) => ({
      path: '/api/v1/auth/device/approve',
      body: { user_code: await userCode(api) },
    }),
    expect: ownerOnly(204, 204),
  },
  {
    name: 'POST /auth/device/deny (session)',
    method: 'POST',
    via: 'cookie',
    prepare: async (api) => ({ path: '/api/v1/auth/device/deny', body: { user_code: await userCode(api) } }),
    expect: ownerOnly(204, 204),
  },
];

describe.each(DIALECTS)('cross-tenant matrix of core routes on %s', (dialect) => {
  let api: TestApi;
  let actors: Actors;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    actors = await makeActors(api);
  });
  afterAll(async () => {
    await api?.stop();
  });
  runMatrix(CORE_ROUTES, () => ({ api, actors }));
});
