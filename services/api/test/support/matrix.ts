// The cross-tenant matrix: every route × {owner, another Client, anonymous, revoked token, expired
// token}, each with the status it must answer. Feature suites add their routes as MatrixRoute
// entries and run them with `runMatrix` (see tenancy.test.ts).
import { expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { isoNow } from '../../src/db/ids.js';
import { type As, call, signUp, type TestApi, type TestClient } from './api.js';

export type Actor = 'owner' | 'other' | 'anonymous' | 'revoked' | 'expired';
export const ACTORS: Actor[] = ['owner', 'other', 'anonymous', 'revoked', 'expired'];

/** The request a route case sends, built fresh for each actor (destructive routes get a new target). */
export interface PreparedRequest {
  path: string;
  body?: unknown;
}

/** One route of the matrix. */
export interface MatrixRoute {
  name: string;
  method: string;
  /** Creates what the request needs, owned by `owner`, and returns the request. */
  prepare(api: TestApi, owner: TestClient): Promise<PreparedRequest>;
  /** Expected status per actor (revoked/expired/anonymous are normally 401). */
  expect: Record<Actor, number>;
  /** How owner and other authenticate (default: Bearer token). */
  via?: 'token' | 'cookie';
}

/** The Clients and dead credentials the matrix uses. */
export interface Actors {
  owner: TestClient;
  other: TestClient;
  revokedToken: string;
  expiredToken: string;
}

/** Signs up the owner and another Client, and makes a revoked and an expired token of the owner. */
export async function makeActors(api: TestApi): Promise<Actors> {
  const owner = await signUp(api, 'owner');
  const other = await signUp(api, 'other');
  const revoked = await call(api, 'POST', '/api/v1/tokens', {
    body: { name: 'revoked' },
    as: { token: owner.token },
  });
  await call(api, 'DELETE', `/api/v1/tokens/${revoked.body.id}`, { as: { token: owner.token } });
  const expired = await call(api, 'POST', '/api/v1/tokens', {
    body: { name: 'expired', expires_in_days: 1 },
    as: { token: owner.token },
  });
  const database = await openDatabase(api.database);
  await database.db
    .updateTable('api_tokens')
    .set({ expires_at: isoNow(Date.now() - 1000) })
    .where('id', '=', expired.body.id)
    .execute();
  await database.close();
  return { owner, other, revokedToken: revoked.body.token, expiredToken: expired.body.token };
}

/** The credential an actor sends. */
function credential(actors: Actors, actor: Actor, via: 'token' | 'cookie'): As {
  switch (actor) {
    case 'owner':
      return via === 'cookie' ? { cookie: actors.owner.cookie } : { token: actors.owner.token };
    case 'other':
      return via === 'cookie' ? { cookie: actors.other.cookie } : { token: actors.other.token };
    case 'revoked':
      return { token: actors.revokedToken };
    case 'expired':
      return { token: actors.expiredToken };
    default:
      return undefined;
  }
}

/** Registers one vitest case per route × actor. `ctx()` gives the running API and its actors. */
export function runMatrix(routes: MatrixRoute[], ctx: () => { api: TestApi; actors: Actors }): void {
  const cases = routes.flatMap((route) => ACTORS.map((actor) => [route.name, actor, route] as const));
  it.each(cases)('%s as %s', async (_name, actor, route) => {
    const { api, actors } = ctx();
    const req = await route.prepare(api, actors.owner);
    const res = await call(api, route.method, req.path, {
      ...(req.body === undefined ? {} : { body: req.body }),
      as: credential(actors, actor, route.via ?? 'token'),
    });
    expect({ status: res.status, body: res.status === route.expect[actor] ? 'ok' : res.text }).toEqual({
      status: route.expect[actor],
      body: 'ok',
    });
    if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
}

/** Expected statuses for a route only its owner may use: `ok` for the owner, 404 for another Client. */
export function ownerOnly(ok: number, other = 404): Record<Actor, number> {
  return { owner: ok, other, anonymous: 401, revoked: 401, expired: 401 };
}
