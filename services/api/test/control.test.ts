import * as grpc from '@grpc/grpc-js';
import { internalMetadata } from '@paastech/kit';
import { control } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/database.js';
import { isoNow, newId } from '../src/db/ids.js';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';

const { GitAccess, GitAccessDenialReason: Denial, PushOutcome } = control;
type Credential = control.AuthorizeGitAccessRequest['credential'];

describe.each(DIALECTS)('ControlService on %s', (dialect) => {
  let api: TestApi;
  let db: Database;
  let client: control.ControlServiceClient;
  let owner: TestClient;
  let other: TestClient;
  let revokedToken: string;
  const projectId = newId();
  const fingerprint = 'SHA256:ownerkeyownerkeyownerkeyownerkeyownerkeyabc';

  beforeAll(async () => {
    api = await startTestApi(dialect);
    owner = await signUp(api, 'git-owner');
    other = await signUp(api, 'git-other');
    const t = await call(api, 'POST', '/api/v1/tokens', { body: { name: 'r' }, as: { token: owner.token } });
    await call(api, 'DELETE', `/api/v1/tokens/${t.body.id}`, { as: { token: owner.token } });
    revokedToken = t.body.token;
    db = await openDatabase(api.database);
    await db.db
      .insertInto('projects')
      .values({ id: projectId, client_id: owner.id, name: 'shop', created_at: isoNow() })
      .execute();
    await db.db
      .insertInto('ssh_keys')
      .values({
        id: newId(),
        client_id: owner.id,
        name: 'laptop',
        public_key: 'ssh-ed25519 AAAA',
        fingerprint,
        key_type: 'ssh-ed25519',
        bits: 256,
        created_at: isoNow(),
        last_used_at: null,
      })
      .execute();
    client = new control.ControlServiceClient(api.grpcAddress, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await db?.close();
    await api?.stop();
  });

  /** Calls AuthorizeGitAccess with the internal secret (or `secret`). */
  function authorize(
    credential: Credential,
    projectName: string,
    access = GitAccess.GIT_ACCESS_WRITE,
    secret = api.internalSecret,
  ): Promise<control.AuthorizeGitAccessResponse> {
    const req = {
      credential,
      projectName,
      access,
      transport: control.GitTransport.GIT_TRANSPORT_HTTP,
      remoteAddress: '127.0.0.1',
    };
    return new Promise((resolve, reject) =>
      client.authorizeGitAccess(req, internalMetadata(secret), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  it('allows the owner by API token, for read and write', async () => {
    for (const access of [GitAccess.GIT_ACCESS_READ, GitAccess.GIT_ACCESS_WRITE]) {
      const res = await authorize({ $case: 'apiToken', value: owner.token }, 'shop', access);
      expect(res).toMatchObject({ allowed: true, clientId: owner.id, projectId });
    }
  });

  it('allows the owner by SSH key fingerprint and records its use', async () => {
    const res = await authorize({ $case: 'sshKeyFingerprint', value: fingerprint }, 'shop');
    expect(res).toMatchObject({ allowed: true, clientId: owner.id, projectId });
    const key = await db.db
      .selectFrom('ssh_keys')
      .select('last_used_at')
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirstOrThrow();
    expect(key.last_used_at).not.toBeNull();
  });

  it('another Client gets the same denial for an existing and a missing project', async () => {
    const theirs = await authorize({ $case: 'apiToken', value: other.token }, 'shop');
    const missing = await authorize({ $case: 'apiToken', value: other.token }, 'nope');
    expect(theirs).toMatchObject({
      allowed: false,
      clientId: '',
      projectId: '',
      denialReason: Denial.GIT_ACCESS_DENIAL_REASON_PROJECT_NOT_FOUND,
    });
    expect(theirs.denialMessage).toBe('repository "shop" not found');
    expect({ ...missing, denialMessage: '' }).toEqual({ ...theirs, denialMessage: '' });
  });

  it.each([
    ['a revoked token', () => ({ $case: 'apiToken', value: revokedToken }) as Credential],
    ['an unknown token', () => ({ $case: 'apiToken', value: 'pt_unknown' }) as Credential],
    ['an unknown SSH key', () => ({ $case: 'sshKeyFingerprint', value: 'SHA256:nobody' }) as Credential],
    ['an empty fingerprint', () => ({ $case: 'sshKeyFingerprint', value: '' }) as Credential],
    ['no credential', () => undefined],
    ['an injection string', () => ({ $case: 'apiToken', value: "pt_' OR 1=1 --" }) as Credential],
  ])('denies %s as an invalid credential', async (_name, credential) => {
    const res = await authorize(credential(), 'shop');
    expect(res).toMatchObject({
      allowed: false,
      denialReason: Denial.GIT_ACCESS_DENIAL_REASON_INVALID_CREDENTIAL,
    });
  });

  it('refuses an unspecified access with INVALID_ARGUMENT', async () => {
    await expect(
      authorize({ $case: 'apiToken', value: owner.token }, 'shop', GitAccess.GIT_ACCESS_UNSPECIFIED),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
  });

  it('refuses calls without the internal secret', async () => {
    await expect(
      authorize(
        { $case: 'apiToken', value: owner.token },
        'shop',
        GitAccess.GIT_ACCESS_READ,
        'wrong-secret-wrong-secret',
      ),
    ).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
  });

  /** Runs RecordPush and collects its events. */
  function recordPush(req: Partial<control.RecordPushRequest>): Promise<control.RecordPushResponse[]> {
    const full: control.RecordPushRequest = {
      projectId: '',
      pusherClientId: '',
      refUpdates: [],
      pushOptions: [],
      ...req,
    } as control.RecordPushRequest;
    return new Promise((resolve, reject) => {
      const events: control.RecordPushResponse[] = [];
      const stream = client.recordPush(full, internalMetadata(api.internalSecret));
      stream.on('data', (e: control.RecordPushResponse) => events.push(e));
      stream.on('error', reject);
      stream.on('end', () => resolve(events));
    });
  }

  it('RecordPush deploys a push of main (rejected here: no Pomegrenade runs) and audits the push', async () => {
    const sha = 'a'.repeat(40);
    const events = await recordPush({
      projectId,
      pusherClientId: owner.id,
      refUpdates: [{ oldSha: '0'.repeat(40), newSha: sha, refName: 'refs/heads/main' }],
    });
    const failed = 'deployment v1 failed: the deployment service is not reachable';
    expect(events).toEqual([
      {
        event: {
          $case: 'deploymentCreated',
          value: { deploymentNumber: 1, commitSha: sha, refName: 'refs/heads/main' },
        },
      },
      {
        event: {
          $case: 'result',
          value: { outcome: PushOutcome.PUSH_OUTCOME_FAILED, reason: failed, deploymentNumber: 1, url: '' },
        },
      },
    ]);
    const audit = await db.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'git.push')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ client_id: owner.id, target: 'project:shop' });
    expect(JSON.parse(audit.details)).toEqual({
      refs: [{ ref: 'refs/heads/main', old: '0'.repeat(40), new: sha }],
    });
  });

  it('RecordPush for a project of another Client is NOT_FOUND', async () => {
    await expect(recordPush({ projectId, pusherClientId: other.id })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(recordPush({})).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});
