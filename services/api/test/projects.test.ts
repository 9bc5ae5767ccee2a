import * as grpc from '@grpc/grpc-js';
import { ConflictError, InvalidArgumentError, NotFoundError, UnavailableError } from '@paastech/kit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from './support/databases.js';
import { HTTP_BASE, SSH_BASE } from './support/git-contract-server.js';
import { type Resources, startResources } from './support/resources.js';

describe.each(DIALECTS)('projects on %s', (dialect) => {
  let r: Resources;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    r = await startResources(dialect);
    alice = await r.newClient();
    bob = await r.newClient();
  });
  afterAll(() => r.close());
  beforeEach(() => {
    r.git.failCreate = undefined;
    r.git.failDelete = undefined;
  });

  /** Project rows in the database with this name. */
  const rowsNamed = (name: string) =>
    r.database.db.selectFrom('projects').selectAll().where('name', '=', name).execute();

  it('creates the row and a real bare repository, returning clone and app URLs', async () => {
    const p = await r.projects.create(alice, 'shop', '127.0.0.1');
    expect(p).toMatchObject({
      name: 'shop',
      git: { http_url: `${HTTP_BASE}/shop.git`, ssh_url: `${SSH_BASE}/shop.git` },
      app_url: 'http://shop.apps.test:8080/',
    });
    expect(r.git.repoExists(p.id)).toBe(true);
    expect(await r.projects.get(alice, 'shop')).toEqual(p);
    expect((await r.projects.list(alice)).map((x) => x.name)).toEqual(['shop']);
    const audit = await r.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'project.create')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ client_id: alice, target: 'project:shop', ip: '127.0.0.1' });
  });

  it('refuses a name taken by another Client with 409 and creates no repository', async () => {
    await r.projects.create(alice, 'taken', null);
    const calls = r.git.calls.length;
    const err = await r.projects.create(bob, 'taken', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe('project name "taken" is taken');
    expect(r.git.calls.length).toBe(calls);
    expect(await r.projects.list(bob)).toEqual([]);
  });

  it('lets concurrent creates of one name produce exactly one project', async () => {
    const results = await Promise.allSettled([
      r.projects.create(alice, 'race', null),
      r.projects.create(bob, 'race', null),
      r.projects.create(bob, 'race', null),
    ]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    for (const x of results.filter((x) => x.status === 'rejected')) {
      expect((x as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    }
    expect(await rowsNamed('race')).toHaveLength(1);
  });

  it.each([
    [grpc.status.UNAVAILABLE, UnavailableError],
    [grpc.status.INTERNAL, UnavailableError],
    [grpc.status.RESOURCE_EXHAUSTED, Error],
  ])('leaves nothing half-created when CreateRepository fails with status %s', async (status, cls) => {
    r.git.failCreate = status;
    const err = await r.projects.create(alice, 'half', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect(await rowsNamed('half')).toEqual([]);
    r.git.failCreate = undefined;
    const p = await r.projects.create(alice, 'half', null);
    expect(r.git.repoExists(p.id)).toBe(true);
    await r.projects.delete(alice, 'half', null);
  });

  it('says the git controller is unavailable when it is not running, and keeps no row', async () => {
    const { GitClient } = await import('../src/git/git-client.js');
    const dead = new GitClient('unix:/nonexistent/git.sock', 'x'.repeat(32));
    const { ProjectsService } = await import('../src/projects/projects.service.js');
    const { ProjectsRepository } = await import('../src/projects/projects.repository.js');
    const { AuditService } = await import('../src/audit/audit.service.js');
    const svc = new ProjectsService(
      new ProjectsRepository(r.database),
      dead,
      new AuditService(r.database),
      { appsDomain: 'apps.test', routerPort: 80 } as never,
      r.logger,
    );
    const err = await svc.create(alice, 'nogit', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain('git controller unavailable');
    expect(await rowsNamed('nogit')).toEqual([]);
    expect(svc.appUrl('x')).toBe('http://x.apps.test/');
    dead.close();
  });

  it.each([['My-App'], ['../x'], ['api'], [['shop']], [{ name: 'x' }], ['x'.repeat(64)]])(
    'refuses the name %j before touching anything',
    async (name) => {
      const calls = r.git.calls.length;
      await expect(r.projects.create(alice, name, null)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(r.git.calls.length).toBe(calls);
    },
  );

  it("answers another Client's project exactly like a missing one", async () => {
    await r.projects.create(alice, 'private', null);
    const other = await r.projects.get(bob, 'private').catch((e: unknown) => e);
    const missing = await r.projects.get(bob, 'nosuch').catch((e: unknown) => e);
    expect(other).toBeInstanceOf(NotFoundError);
    expect((other as Error).message).toBe('project "private" not found');
    expect((missing as Error).message).toBe('project "nosuch" not found');
    await expect(r.projects.delete(bob, 'private', null)).rejects.toBeInstanceOf(NotFoundError);
    expect(await rowsNamed('private')).toHaveLength(1);
  });

  it('deletes the repository, the config vars and domains, and frees the name', async () => {
    const p = await r.projects.create(alice, 'gone', null);
    await r.configVars.change(alice, 'gone', { set: { A: '1' } }, null);
    await r.domains.add(alice, 'gone', 'gone.example.com', null);
    await r.projects.delete(alice, 'gone', null);
    expect(r.git.repoExists(p.id)).toBe(false);
    expect(await rowsNamed('gone')).toEqual([]);
    expect(
      await r.database.db.selectFrom('config_vars').selectAll().where('project_id', '=', p.id).execute(),
    ).toEqual([]);
    expect(
      await r.database.db.selectFrom('domains').selectAll().where('project_id', '=', p.id).execute(),
    ).toEqual([]);
    const again = await r.projects.create(bob, 'gone', null);
    expect(again.id).not.toBe(p.id);
    await r.domains.add(bob, 'gone', 'gone.example.com', null);
  });

  it('keeps the project when DeleteRepository fails, and deletes it on retry', async () => {
    const p = await r.projects.create(alice, 'sticky', null);
    r.git.failDelete = grpc.status.UNAVAILABLE;
    await expect(r.projects.delete(alice, 'sticky', null)).rejects.toBeInstanceOf(UnavailableError);
    expect(await rowsNamed('sticky')).toHaveLength(1);
    expect(r.git.repoExists(p.id)).toBe(true);
    r.git.failDelete = undefined;
    await r.projects.delete(alice, 'sticky', null);
    expect(await rowsNamed('sticky')).toEqual([]);
  });
});
