// The REST routes of projects, config vars, domains and SSH keys on the real API (Nest + Fastify,
// real database, a real GitService contract server): success, validation, authentication, hostile
// input, and the cross-tenant matrix (route × owner / another Client / anonymous / revoked token /
// expired token).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';
import {
  type GitContractServer,
  HTTP_BASE,
  SSH_BASE,
  startGitContractServer,
} from './support/git-contract-server.js';
import { type Actors, type MatrixRoute, makeActors, ownerOnly, runMatrix } from './support/matrix.js';
import { newPublicKey } from './support/ssh-keygen.js';

let seq = 0;
/** A project name no test used yet. */
const fresh = (prefix = 'p') => `${prefix}-${process.pid}-${++seq}`;

describe.each(DIALECTS)('resource routes on %s', (dialect) => {
  let api: TestApi;
  let git: GitContractServer;
  let alice: TestClient;
  let bob: TestClient;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    git = await startGitContractServer({
      address: `unix:${api.database.dataDir}/run/git.sock`,
      secret: api.internalSecret,
    });
    alice = await signUp(api, 'alice');
    bob = await signUp(api, 'bob');
  });
  afterAll(async () => {
    await api?.stop();
    await git?.stop();
  });

  const as = (c: TestClient) => ({ token: c.token });

  /** Creates a project of `c` through the API and returns its name. */
  async function project(c: TestClient, name = fresh()): Promise<string> {
    const res = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: as(c) });
    expect(res.status).toBe(201);
    return name;
  }

  describe('projects', () => {
    it('creates, lists, gets and deletes a project', async () => {
      const name = fresh('shop');
      const created = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: as(alice) });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        name,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        git: { http_url: `${HTTP_BASE}/${name}.git`, ssh_url: `${SSH_BASE}/${name}.git` },
        app_url: `http://${name}.apps.test:8080/`,
      });
      expect(git.repoExists(created.body.id)).toBe(true);
      const list = await call(api, 'GET', '/api/v1/projects', { as: as(alice) });
      expect(list.body.projects.map((p: { name: string }) => p.name)).toContain(name);
      expect((await call(api, 'GET', `/api/v1/projects/${name}`, { as: as(alice) })).body).toEqual(
        created.body,
      );
      const del = await call(api, 'DELETE', `/api/v1/projects/${name}`, { as: as(alice) });
      expect(del.status).toBe(204);
      expect(git.repoExists(created.body.id)).toBe(false);
      expect((await call(api, 'GET', `/api/v1/projects/${name}`, { as: as(alice) })).status).toBe(404);
    });

    it('works with the dashboard session cookie too', async () => {
      const name = fresh();
      const res = await call(api, 'POST', '/api/v1/projects', {
        body: { name },
        as: { cookie: alice.cookie },
      });
      expect(res.status).toBe(201);
      const cross = await call(api, 'DELETE', `/api/v1/projects/${name}`, {
        as: { cookie: alice.cookie, origin: 'http://evil.example' },
      });
      expect(cross.status).toBe(403);
    });

    it('answers 409 for a name another Client has, naming the rule', async () => {
      const name = await project(alice);
      const res = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: as(bob) });
      expect(res.status).toBe(409);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toBe(`project name "${name}" is taken`);
    });

    it('answers 503 and keeps nothing when the git controller fails', async () => {
      git.failCreate = 14;
      const name = fresh();
      const res = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: as(alice) });
      git.failCreate = undefined;
      expect(res.status).toBe(503);
      expect(res.body.detail).toContain('git controller unavailable');
      expect((await call(api, 'GET', `/api/v1/projects/${name}`, { as: as(alice) })).status).toBe(404);
      expect((await call(api, 'POST', '/api/v1/projects', { body: { name }, as: as(alice) })).status).toBe(
        201,
      );
    });

    it.each([
      [{ name: 'My-App' }, 'name must be lower case'],
      [{ name: '../x' }, 'must be a DNS label'],
      [{ name: '\u0430pp' }, 'must be a DNS label'],
      [{ name: 'x'.repeat(64) }, 'at most 63 characters'],
      [{ name: "a'; drop table projects; --" }, 'must be a DNS label'],
      [{ name: 'api' }, 'name is reserved'],
      [{ name: ['shop'] }, 'name'],
      [{ name: { $ne: '' } }, 'name'],
      [{ name: 42 }, 'name'],
      [{}, 'name'],
      [{ name: 'ok', admin: true }, 'admin'],
    ])('refuses %j with 400 and per-field errors', async (body, message) => {
      const res = await call(api, 'POST', '/api/v1/projects', { body, as: as(alice) });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain(message);
      expect(res.body.errors?.length).toBeGreaterThan(0);
    });

    it.each([
      ['{"name":"dup-a","name":"dup-b"}', 400],
      ['[{"name":"arr"}]', 400],
      ['"shop"', 400],
      ['{"name":', 400],
    ])('refuses the raw body %s', async (body, status) => {
      const res = await call(api, 'POST', '/api/v1/projects', { body, as: as(alice) });
      expect(res.status).toBe(status);
      expect((await call(api, 'GET', '/api/v1/projects/dup-a', { as: as(alice) })).status).toBe(404);
    });

    it('refuses a huge body with 413', async () => {
      const res = await call(api, 'POST', '/api/v1/projects', {
        body: { name: 'x'.repeat(2 * 1024 * 1024) },
        as: as(alice),
      });
      expect(res.status).toBe(413);
    });

    it.each([
      ['GET', '/api/v1/projects/..%2F..%2Fetc'],
      ['GET', '/api/v1/projects/%2e%2e'],
      ['GET', '/api/v1/projects/a%00b'],
      ['GET', '/api/v1/projects/UPPER'],
      ['GET', '/api/v1/projects/%F0%9F%98%80'],
      ['DELETE', '/api/v1/projects/a%00b'],
      ['GET', '/api/v1/projects/a%00b/config'],
      ['DELETE', '/api/v1/ssh-keys/a%00b'],
      ['DELETE', '/api/v1/ssh-keys/SHA256%3Aa%00b'],
      ['DELETE', '/api/v1/ssh-keys/%27%20OR%201%3D1%20--'],
    ])('answers 404 for the hostile path %s %s', async (method, url) => {
      const res = await call(api, method, url, { as: as(alice) });
      expect(res.status).toBe(404);
    });

    it.each(['a%00b.example.com', 'x%F0%9F%98%80.com', '%27%20OR%201%3D1'])(
      'answers 404 for the hostile domain path %s',
      async (hostname) => {
        const name = await project(alice);
        const res = await call(api, 'DELETE', `/api/v1/projects/${name}/domains/${hostname}`, {
          as: as(alice),
        });
        expect(res.status).toBe(404);
      },
    );
  });

  describe('config vars', () => {
    it('sets and unsets atomically, reads values back', async () => {
      const name = await project(alice);
      const url = `/api/v1/projects/${name}/config`;
      expect((await call(api, 'GET', url, { as: as(alice) })).body).toEqual({ vars: {} });
      const set = await call(api, 'PATCH', url, { body: { set: { A: '1', B: 'two' } }, as: as(alice) });
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ vars: { A: '1', B: 'two' } });
      const both = await call(api, 'PATCH', url, { body: { set: { C: '3' }, unset: ['A'] }, as: as(alice) });
      expect(both.body).toEqual({ vars: { B: 'two', C: '3' } });
      expect((await call(api, 'GET', url, { as: as(alice) })).body).toEqual({ vars: { B: 'two', C: '3' } });
    });

    it.each([
      [{ set: { PORT: '1' } }, 'name is reserved (the platform sets PORT)'],
      [{ set: { PAASTECH_X: '1' } }, 'PAASTECH_* belong to the platform'],
      [{ set: { lower: '1' } }, '[A-Z_][A-Z0-9_]*'],
      [{ set: { A: 1 } }, 'value must be a string'],
      [{ set: { A: ['x'] } }, 'value must be a string'],
      [{ set: ['A'] }, 'set'],
      [{ unset: 'A' }, 'unset'],
      [{ set: { A: 'x'.repeat(32 * 1024 + 1) } }, 'at most 32768 bytes'],
      [{}, 'at least one var'],
      [{ set: { A: '1' }, extra: 1 }, 'extra'],
    ])('refuses %#: %s', async (body, message) => {
      const name = await project(alice);
      const res = await call(api, 'PATCH', `/api/v1/projects/${name}/config`, { body, as: as(alice) });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain(message);
      expect((await call(api, 'GET', `/api/v1/projects/${name}/config`, { as: as(alice) })).body).toEqual({
        vars: {},
      });
    });

    it('never logs a value, even at trace level and on errors', async () => {
      const name = await project(alice);
      const secret = 'pl41nt3xt-S3CR3T-value-0f-a-config-var';
      const url = `/api/v1/projects/${name}/config`;
      await call(api, 'PATCH', url, { body: { set: { SECRET: secret } }, as: as(alice) });
      await call(api, 'GET', url, { as: as(alice) });
      await call(api, 'PATCH', url, { body: { set: { PORT: secret, OK: `${secret}x` } }, as: as(alice) });
      await call(api, 'PATCH', url, { body: { set: { SECRET: secret } }, as: as(bob) });
      expect(api.logs.length).toBeGreaterThan(0);
      expect(api.logs.join('\n')).not.toContain(secret);
    });
  });

  describe('domains', () => {
    it('adds, lists and removes a domain; 409 across projects', async () => {
      const name = await project(alice);
      const other = await project(bob);
      const url = `/api/v1/projects/${name}/domains`;
      const host = `${name}.example.com`;
      const added = await call(api, 'POST', url, { body: { hostname: host.toUpperCase() }, as: as(alice) });
      expect(added.status).toBe(201);
      expect(added.body).toEqual({ hostname: host, created_at: expect.any(String) });
      expect((await call(api, 'GET', url, { as: as(alice) })).body.domains).toEqual([added.body]);
      const taken = await call(api, 'POST', `/api/v1/projects/${other}/domains`, {
        body: { hostname: host },
        as: as(bob),
      });
      expect(taken.status).toBe(409);
      expect(taken.body.detail).toBe(`domain "${host}" is already in use`);
      expect((await call(api, 'DELETE', `${url}/${host}`, { as: as(alice) })).status).toBe(204);
      expect((await call(api, 'DELETE', `${url}/${host}`, { as: as(alice) })).status).toBe(404);
    });

    it.each([
      [{ hostname: `x.apps.test` }, 'must not be under the apps domain'],
      [{ hostname: '*.example.com' }, 'wildcard'],
      [{ hostname: '10.0.0.1' }, 'IP address'],
      [{ hostname: ['a.example.com'] }, 'hostname'],
      [{ hostname: 'ex\u0430mple.com' }, 'ASCII'],
      [{ hostname: 'a..b' }, 'empty labels'],
    ])('refuses %j', async (body, message) => {
      const name = await project(alice);
      const res = await call(api, 'POST', `/api/v1/projects/${name}/domains`, { body, as: as(alice) });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain(message);
    });
  });

  describe('ssh keys', () => {
    it('adds, lists and removes a key by URL-encoded fingerprint; 409 for any other Client', async () => {
      const line = newPublicKey('ed25519', 'alice@laptop');
      const added = await call(api, 'POST', '/api/v1/ssh-keys', {
        body: { public_key: line },
        as: as(alice),
      });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ name: 'alice@laptop', type: 'ssh-ed25519', bits: 256 });
      expect(line.startsWith(added.body.public_key)).toBe(true);
      const list = await call(api, 'GET', '/api/v1/ssh-keys', { as: as(alice) });
      expect(list.body.ssh_keys.map((k: { id: string }) => k.id)).toContain(added.body.id);
      const dup = await call(api, 'POST', '/api/v1/ssh-keys', {
        body: { public_key: line, name: 'x' },
        as: as(bob),
      });
      expect(dup.status).toBe(409);
      expect(dup.body.detail).toBe(`ssh key "${added.body.fingerprint}" is already registered`);
      const fp = encodeURIComponent(added.body.fingerprint);
      expect((await call(api, 'DELETE', `/api/v1/ssh-keys/${fp}`, { as: as(bob) })).status).toBe(404);
      expect((await call(api, 'DELETE', `/api/v1/ssh-keys/${fp}`, { as: as(alice) })).status).toBe(204);
      expect((await call(api, 'GET', '/api/v1/ssh-keys', { as: as(alice) })).body.ssh_keys).toEqual([]);
    });

    it.each([
      [
        { public_key: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----' },
        'this is a private key',
      ],
      [{ public_key: 'ssh-dss AAAAB3NzaC1kc3M=' }, 'DSA keys are not accepted'],
      [{ public_key: 'not a key' }, 'OpenSSH'],
      [{ public_key: ['ssh-ed25519 AAAA'] }, 'public_key'],
      [{}, 'public_key'],
      [{ public_key: 'x', name: 7 }, 'name'],
    ])('refuses %#', async (body, message) => {
      const res = await call(api, 'POST', '/api/v1/ssh-keys', { body, as: as(alice) });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain(message);
    });
  });

  it('describes every resource route and its shapes in the OpenAPI document', async () => {
    const doc = (await call(api, 'GET', '/api/openapi.json')).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /api/v1/projects',
        'POST /api/v1/projects',
        'GET /api/v1/projects/{name}',
        'DELETE /api/v1/projects/{name}',
        'GET /api/v1/projects/{name}/config',
        'PATCH /api/v1/projects/{name}/config',
        'GET /api/v1/projects/{name}/domains',
        'POST /api/v1/projects/{name}/domains',
        'DELETE /api/v1/projects/{name}/domains/{hostname}',
        'GET /api/v1/ssh-keys',
        'POST /api/v1/ssh-keys',
        'DELETE /api/v1/ssh-keys/{key}',
      ]),
    );
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.ProjectDto.properties)).toEqual([
      'id',
      'name',
      'created_at',
      'git',
      'app_url',
    ]);
    expect(Object.keys(schemas.ConfigChangeDto.properties)).toEqual(['set', 'unset']);
    expect(Object.keys(schemas.SshKeyDto.properties)).toContain('fingerprint');
    expect(Object.keys(schemas.AddDomainDto.properties)).toEqual(['hostname']);
  });

  describe('another Client', () => {
    it.each([
      ['GET', ''],
      ['DELETE', ''],
      ['GET', '/config'],
      ['PATCH', '/config'],
      ['GET', '/domains'],
      ['POST', '/domains'],
      ['DELETE', '/domains/a.example.com'],
    ])('gets for %s /projects/:name%s exactly the 404 of a missing project', async (method, rest) => {
      const name = await project(alice);
      await call(api, 'POST', `/api/v1/projects/${name}/domains`, {
        body: { hostname: 'a.example.com' },
        as: as(alice),
      });
      const body =
        method === 'PATCH'
          ? { set: { A: '1' } }
          : method === 'POST'
            ? { hostname: 'b.example.com' }
            : undefined;
      const theirs = await call(api, method, `/api/v1/projects/${name}${rest}`, { body, as: as(bob) });
      const missing = await call(api, method, `/api/v1/projects/${name}-x${rest}`, { body, as: as(bob) });
      expect(theirs.status).toBe(404);
      expect(theirs.text).toBe(missing.text.replaceAll(`${name}-x`, name));
      expect(theirs.body.detail).toBe(`project "${name}" not found`);
    });
  });
});

/** A project of `owner`, created through the API. */
async function ownedProject(api: TestApi, owner: TestClient): Promise<string> {
  const name = fresh();
  const res = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: { token: owner.token } });
  if (res.status !== 201) throw new Error(`project creation failed: ${res.status} ${res.text}`);
  return name;
}

/** The routes of projects, config vars, domains and SSH keys, for the cross-tenant matrix. */
const RESOURCE_ROUTES: MatrixRoute[] = [
  {
    name: 'GET /projects',
    method: 'GET',
    prepare: async () => ({ path: '/api/v1/projects' }),
    expect: ownerOnly(200, 200),
  },
  {
    name: 'POST /projects',
    method: 'POST',
    prepare: async () => ({ path: '/api/v1/projects', body: { name: fresh() } }),
    expect: ownerOnly(201, 201),
  },
  {
    name: 'GET /projects/:name',
    method: 'GET',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}` }),
    expect: ownerOnly(200),
  },
  {
    name: 'DELETE /projects/:name',
    method: 'DELETE',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}` }),
    expect: ownerOnly(204),
  },
  {
    name: 'DELETE /projects/:name (session)',
    method: 'DELETE',
    via: 'cookie',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}` }),
    expect: ownerOnly(204),
  },
  {
    name: 'GET /projects/:name/config',
    method: 'GET',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}/config` }),
    expect: ownerOnly(200),
  },
  {
    name: 'PATCH /projects/:name/config',
    method: 'PATCH',
    prepare: async (api, owner) => ({
      path: `/api/v1/projects/${await ownedProject(api, owner)}/config`,
      body: { set: { A: '1' }, unset: ['B'] },
    }),
    expect: ownerOnly(200),
  },
  {
    name: 'GET /projects/:name/domains',
    method: 'GET',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}/domains` }),
    expect: ownerOnly(200),
  },
  {
    name: 'POST /projects/:name/domains',
    method: 'POST',
    prepare: async (api, owner) => ({
      path: `/api/v1/projects/${await ownedProject(api, owner)}/domains`,
      body: { hostname: `${fresh('d')}.example.com` },
    }),
    expect: ownerOnly(201),
  },
  {
    name: 'DELETE /projects/:name/domains/:hostname',
    method: 'DELETE',
    prepare: async (api, owner) => {
      const name = await ownedProject(api, owner);
      const hostname = `${fresh('d')}.example.com`;
      await call(api, 'POST', `/api/v1/projects/${name}/domains`, {
        body: { hostname },
        as: { token: owner.token },
      });
      return { path: `/api/v1/projects/${name}/domains/${hostname}` };
    },
    expect: ownerOnly(204),
  },
  {
    name: 'GET /ssh-keys',
    method: 'GET',
    prepare: async () => ({ path: '/api/v1/ssh-keys' }),
    expect: ownerOnly(200, 200),
  },
  {
    name: 'POST /ssh-keys',
    method: 'POST',
    prepare: async () => ({ path: '/api/v1/ssh-keys', body: { public_key: newPublicKey() } }),
    expect: ownerOnly(201, 201),
  },
  {
    name: 'DELETE /ssh-keys/:id',
    method: 'DELETE',
    prepare: async (api, owner) => {
      const key = await call(api, 'POST', '/api/v1/ssh-keys', {
        body: { public_key: newPublicKey() },
        as: { token: owner.token },
      });
      return { path: `/api/v1/ssh-keys/${key.body.id}` };
    },
    expect: ownerOnly(204),
  },
  {
    name: 'DELETE /ssh-keys/:fingerprint',
    method: 'DELETE',
    prepare: async (api, owner) => {
      const key = await call(api, 'POST', '/api/v1/ssh-keys', {
        body: { public_key: newPublicKey() },
        as: { token: owner.token },
      });
      return { path: `/api/v1/ssh-keys/${encodeURIComponent(key.body.fingerprint)}` };
    },
    expect: ownerOnly(204),
  },
];

describe.each(DIALECTS)('cross-tenant matrix of resource routes on %s', (dialect) => {
  let api: TestApi;
  let git: GitContractServer;
  let actors: Actors;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    git = await startGitContractServer({
      address: `unix:${api.database.dataDir}/run/git.sock`,
      secret: api.internalSecret,
    });
    actors = await makeActors(api);
  });
  afterAll(async () => {
    await api?.stop();
    await git?.stop();
  });
  runMatrix(RESOURCE_ROUTES, () => ({ api, actors }));
});
