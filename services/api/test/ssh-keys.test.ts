import { ConflictError, InvalidArgumentError, NotFoundError } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from './support/databases.js';
import { type Resources, startResources } from './support/resources.js';
import { newPublicKey } from './support/ssh-keygen.js';

describe.each(DIALECTS)('ssh keys on %s', (dialect) => {
  let r: Resources;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    r = await startResources(dialect);
    alice = await r.newClient();
    bob = await r.newClient();
  });
  afterAll(() => r.close());

  it('adds, lists and removes keys by id and by fingerprint', async () => {
    const a = await r.sshKeys.add(alice, newPublicKey('ed25519', 'alice@laptop'), undefined, null);
    expect(a).toMatchObject({ name: 'alice@laptop', type: 'ssh-ed25519', bits: 256, last_used_at: null });
    expect(a.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const b = await r.sshKeys.add(alice, newPublicKey('ecdsa'), 'work', null);
    expect(b).toMatchObject({ name: 'work', type: 'ecdsa-sha2-nistp256', bits: 256 });
    expect((await r.sshKeys.list(alice)).map((k) => k.id)).toEqual([a.id, b.id]);
    await r.sshKeys.remove(alice, a.id, null);
    await r.sshKeys.remove(alice, b.fingerprint, null);
    expect(await r.sshKeys.list(alice)).toEqual([]);
    const audit = await r.database.db
      .selectFrom('audit_events')
      .select('action')
      .where('client_id', '=', alice)
      .execute();
    expect(audit.map((x) => x.action).sort()).toEqual([
      'ssh_key.add',
      'ssh_key.add',
      'ssh_key.remove',
      'ssh_key.remove',
    ]);
  });

  it('refuses a key another Client (or the same) has, without saying who', async () => {
    const line = newPublicKey();
    const k = await r.sshKeys.add(alice, line, undefined, null);
    const err = await r.sshKeys
      .add(bob, line.replace('me@laptop', 'bob@desk'), undefined, null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe(`ssh key "${k.fingerprint}" is already registered`);
    await expect(r.sshKeys.add(alice, line, undefined, null)).rejects.toThrow((err as Error).message);
    expect(await r.sshKeys.list(bob)).toEqual([]);
  });

  it("cannot see or remove another Client's key", async () => {
    const k = await r.sshKeys.add(alice, newPublicKey(), undefined, null);
    await expect(r.sshKeys.remove(bob, k.id, null)).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.sshKeys.remove(bob, k.fingerprint, null)).rejects.toThrow(
      `ssh key "${k.fingerprint}" not found`,
    );
    expect((await r.sshKeys.list(alice)).map((x) => x.id)).toContain(k.id);
  });

  it.each([
    [undefined, 'must be a string'],
    ['   ', 'name must not be empty'],
    ['x'.repeat(101), 'name must be at most 100 characters'],
    ['tab\there', 'name must not contain control characters'],
  ])('refuses bad input (%#)', async (name, message) => {
    const key = name === undefined ? 42 : newPublicKey();
    const err = await r.sshKeys.add(alice, key, name, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(message);
  });
});
