import { ConflictError, InvalidArgumentError, NotFoundError } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from './support/databases.js';
import { type Resources, startResources } from './support/resources.js';

describe.each(DIALECTS)('domains on %s', (dialect) => {
  let r: Resources;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    r = await startResources(dialect);
    alice = await r.newClient();
    bob = await r.newClient();
    await r.projects.create(alice, 'web', null);
    await r.projects.create(bob, 'other', null);
  });
  afterAll(() => r.close());

  it('adds (lower-cased), lists and removes domains', async () => {
    const d = await r.domains.add(alice, 'web', 'WWW.Example.COM.', null);
    expect(d.hostname).toBe('www.example.com');
    await r.domains.add(alice, 'web', 'web.apps.test', null);
    expect((await r.domains.list(alice, 'web')).map((x) => x.hostname)).toEqual([
      'web.apps.test',
      'www.example.com',
    ]);
    await r.domains.remove(alice, 'web', 'WWW.example.com', null);
    expect((await r.domains.list(alice, 'web')).map((x) => x.hostname)).toEqual(['web.apps.test']);
    await expect(r.domains.remove(alice, 'web', 'www.example.com', null)).rejects.toThrow(
      'domain "www.example.com" not found in project "web"',
    );
  });

  it('refuses a hostname any project already has, naming no project', async () => {
    await r.domains.add(alice, 'web', 'shared.example.com', null);
    const err = await r.domains.add(bob, 'other', 'Shared.example.com', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe('domain "shared.example.com" is already in use');
    await expect(r.domains.add(alice, 'web', 'shared.example.com', null)).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it.each([
    ['other.apps.test', 'must not be under the apps domain'],
    ['apps.test', 'must not be the apps domain itself'],
    ['*.example.com', 'must not be a wildcard'],
    ['127.0.0.1', 'must not be an IP address'],
    ['ex\u0430mple.com', 'must be ASCII'],
    [['a.com'], 'hostname must be a string'],
  ])('refuses %j', async (hostname, message) => {
    const err = await r.domains.add(alice, 'web', hostname, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(message);
  });

  it("hides another Client's project and domains", async () => {
    await r.domains.add(bob, 'other', 'bob.example.com', null);
    await expect(r.domains.list(alice, 'other')).rejects.toThrow(
      new NotFoundError('project "other" not found'),
    );
    await expect(r.domains.add(alice, 'other', 'x.example.com', null)).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.domains.remove(alice, 'other', 'bob.example.com', null)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(r.domains.remove(alice, 'web', 'bob.example.com', null)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await r.domains.list(bob, 'other')).map((x) => x.hostname)).toContain('bob.example.com');
  });
});
