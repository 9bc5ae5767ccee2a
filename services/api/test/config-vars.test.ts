import fs from 'node:fs';
import { InvalidArgumentError, NotFoundError } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlitePath } from '../src/db/database.js';
import { DIALECTS } from './support/databases.js';
import { type Resources, startResources } from './support/resources.js';

describe.each(DIALECTS)('config vars on %s', (dialect) => {
  let r: Resources;
  let alice: string;
  let bob: string;
  let projectId: string;
  beforeAll(async () => {
    r = await startResources(dialect);
    alice = await r.newClient();
    bob = await r.newClient();
    projectId = (await r.projects.create(alice, 'cfg', null)).id;
  });
  afterAll(() => r.close());

  /** The stored rows of the project. */
  const rows = () =>
    r.database.db.selectFrom('config_vars').selectAll().where('project_id', '=', projectId).execute();

  it('sets, reads, overwrites and unsets vars, each change as one', async () => {
    expect(await r.configVars.get(alice, 'cfg')).toEqual({ vars: {} });
    expect(await r.configVars.change(alice, 'cfg', { set: { B: '2', A: 'one' } }, null)).toEqual({
      vars: { A: 'one', B: '2' },
    });
    expect(
      await r.configVars.change(alice, 'cfg', { set: { A: 'uno', C: '' }, unset: ['B', 'NEVER_SET'] }, null),
    ).toEqual({ vars: { A: 'uno', C: '' } });
    expect(await r.configVars.get(alice, 'cfg')).toEqual({ vars: { A: 'uno', C: '' } });
  });

  it('applies nothing of a change that breaks a rule', async () => {
    const before = await r.configVars.get(alice, 'cfg');
    const err = await r.configVars
      .change(alice, 'cfg', { set: { GOOD: 'x', PORT: '80' }, unset: ['A'] }, null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('name is reserved (the platform sets PORT)');
    expect(await r.configVars.get(alice, 'cfg')).toEqual(before);
  });

  it('rolls back a change that would exceed 500 vars', async () => {
    const set = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`V${i}`, 'x']));
    const err = await r.configVars.change(alice, 'cfg', { set }, null).catch((e: unknown) => e);
    expect((err as Error).message).toContain('a project may hold at most 500 config vars');
    expect(Object.keys((await r.configVars.get(alice, 'cfg')).vars)).not.toContain('V0');
  });

  it('stores values encrypted and bound to their row', async () => {
    const secret = 'sk_live_NEVER_IN_PLAINTEXT_4242';
    await r.configVars.change(alice, 'cfg', { set: { STRIPE_KEY: secret } }, null);
    const stored = await rows();
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(JSON.stringify(stored)).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
    const row = stored.find((x) => x.name === 'STRIPE_KEY')!;
    expect(row.key_version).toBe(1);
    // Swapping the ciphertext into another var's row must not yield the secret there.
    await r.database.db
      .updateTable('config_vars')
      .set({ value_ciphertext: row.value_ciphertext, value_nonce: row.value_nonce })
      .where('project_id', '=', projectId)
      .where('name', '=', 'A')
      .execute();
    await expect(r.configVars.get(alice, 'cfg')).rejects.toThrow('sealed value does not authenticate');
    await r.configVars.change(alice, 'cfg', { set: { A: 'restored' } }, null);
    expect((await r.configVars.get(alice, 'cfg')).vars.STRIPE_KEY).toBe(secret);
  });

  it('never writes a value to the logs, the audit trail, or the SQLite file in plaintext', async () => {
    const secret = 'hunter2-db-password-9f8e7d';
    await r.configVars.change(alice, 'cfg', { set: { DB_PASSWORD: secret } }, '10.0.0.1');
    await r.configVars.change(alice, 'cfg', { unset: ['DB_PASSWORD'] }, null);
    expect(r.logs()).not.toContain(secret);
    const audit = await r.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'config.change')
      .execute();
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect(JSON.parse(audit.at(-2)!.details)).toEqual({ set: ['DB_PASSWORD'], unset: [] });
    if (dialect === 'sqlite') {
      await r.configVars.change(alice, 'cfg', { set: { DB_PASSWORD: secret } }, null);
      const files = [sqlitePath(r.t.dataDir), `${sqlitePath(r.t.dataDir)}-wal`].filter((f) =>
        fs.existsSync(f),
      );
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(fs.readFileSync(f).includes(Buffer.from(secret))).toBe(false);
    }
  });

  it("answers another Client's project as not found, for reads and changes", async () => {
    await expect(r.configVars.get(bob, 'cfg')).rejects.toThrow(new NotFoundError('project "cfg" not found'));
    await expect(r.configVars.change(bob, 'cfg', { set: { X: '1' } }, null)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await rows()).map((x) => x.name)).not.toContain('X');
  });
});
