import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConflictError, NotFoundError } from '@paastech/kit';
import { control, deploy } from '@paastech/proto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INTERRUPTED } from '../src/deployments/deployment-follower.js';
import {
  type DeployedProject,
  DeploymentsService,
  snapshotAad,
} from '../src/deployments/deployments.service.js';
import { PomegrenadeClient, UNREACHABLE } from '../src/deployments/pomegrenade-client.js';
import { DIALECTS } from './support/databases.js';
import { type DeploymentsWorld, startDeploymentsWorld, TEST_TIMING } from './support/deployments.js';
import { BUILD_FAILS, SUCCEEDS } from './support/pomegrenade-contract-server.js';

const run = promisify(execFile);
const S = deploy.DeploymentState;
const ZERO = '0'.repeat(40);

/** A made-up but well-formed commit id. */
const sha = (n: number) => n.toString(16).padStart(40, 'c');

/** Collects a push's events as short strings a reader can compare. */
async function collect(events: AsyncIterable<control.RecordPushResponse>): Promise<string[]> {
  const out: string[] = [];
  for await (const { event: e } of events) {
    if (e?.$case === 'deploymentCreated') out.push(`created v${e.value.deploymentNumber} ${e.value.refName}`);
    if (e?.$case === 'progress') out.push(`-----> ${e.value.text}`);
    if (e?.$case === 'logLine') out.push(`       ${e.value.text}`);
    if (e?.$case === 'result')
      out.push(
        `result ${control.pushOutcomeToJSON(e.value.outcome)} ${e.value.reason} ${e.value.url}`.trim(),
      );
  }
  return out;
}

describe.each(DIALECTS)('deployments on %s', (dialect) => {
  let w: DeploymentsWorld;
  let alice: string;
  let bob: string;
  let project: DeployedProject;

  /** Creates a project of alice (row and repository) and returns its row. */
  const newProject = async (name: string): Promise<DeployedProject> => {
    const created = await w.projects.create(alice, name, null);
    return (await w.deployments.repo.findProject(created.id))!;
  };

  /** A push of `refs` (ref → new sha) by `client` to `p`. */
  const push = (
    p: { id: string },
    refs: Record<string, string>,
    options: { client?: string; pushOptions?: string[]; signal?: AbortSignal } = {},
  ) =>
    w.pushes.recordPush(
      {
        projectId: p.id,
        pusherClientId: options.client ?? alice,
        refUpdates: Object.entries(refs).map(([refName, newSha]) => ({ oldSha: ZERO, newSha, refName })),
        pushOptions: options.pushOptions ?? [],
        quarantine: {
          objectDirectory: '/repo/objects/incoming-x',
          alternateObjectDirectories: ['/repo/objects'],
        },
      },
      options.signal,
    );

  const rowsOf = (projectId: string) =>
    w.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('number')
      .execute();

  beforeAll(async () => {
    w = await startDeploymentsWorld(dialect);
    alice = await w.newClient();
    bob = await w.newClient();
    project = await newProject('shop');
  });
  afterAll(() => w.close());
  beforeEach(async () => {
    w.pom.script = SUCCEEDS;
    w.pom.stepMs = 5;
    await w.pom.start();
    // A test may have stopped Pomegrenade: wait until the client's channel has reconnected.
    await expect
      .poll(() =>
        w.pomClient.getProjectStatus('none').then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
  });

  it('deploys a push of main: events in order, states recorded with timestamps, push accepted', async () => {
    await w.configVars.change(alice, 'shop', { set: { GREETING: 'hello' } }, null);
    const events = await collect(push(project, { 'refs/heads/main': sha(1) }));
    expect(events).toEqual([
      'created v1 refs/heads/main',
      '-----> Building with node',
      '       added 0 packages',
      '       build done',
      '-----> Starting web.1',
      'result PUSH_OUTCOME_SUCCEEDED deployed v1 http://shop.apps.test:8080/',
    ]);
    const [row] = await rowsOf(project.id);
    expect(row).toMatchObject({
      number: 1,
      state: 'active',
      reason: 'push',
      commit_sha: sha(1),
      ref_name: 'refs/heads/main',
    });
    expect(row!.failure_reason).toBeNull();
    expect(Date.parse(row!.created_at)).toBeLessThanOrEqual(Date.parse(row!.started_at!));
    expect(Date.parse(row!.started_at!)).toBeLessThanOrEqual(Date.parse(row!.finished_at!));
    expect(row!.build_output).toBe(
      ['-----> Building with node', 'added 0 packages', 'build done', '-----> Starting web.1'].join('\n'),
    );
    // The config snapshot is sealed (never plaintext) and opens only as this deployment's config.
    expect(row!.config_snapshot_ciphertext).not.toContain('hello');
    expect(w.deployments.snapshot(row!)).toEqual({ GREETING: 'hello' });
    const sealed = {
      ciphertext: row!.config_snapshot_ciphertext!,
      nonce: row!.config_snapshot_nonce!,
      keyVersion: 1,
    };
    expect(() => w.box.open(sealed, snapshotAad(project.id, 2))).toThrow();
    // What Pomegrenade was handed: the git source with the quarantine, the config, the domains.
    const req = w.pom.deployments.get(`${project.id}#1`)!.request;
    expect(req).toMatchObject({
      projectName: 'shop',
      deploymentNumber: 1,
      commitSha: sha(1),
      configVars: { GREETING: 'hello' },
      domains: ['shop.apps.test'],
      createdByClientId: alice,
    });
    expect(req.source?.kind).toEqual({
      $case: 'git',
      value: {
        refName: 'refs/heads/main',
        quarantine: {
          objectDirectory: '/repo/objects/incoming-x',
          alternateObjectDirectories: ['/repo/objects'],
        },
      },
    });
  });

  it('rejects a push whose build fails, with the reason, and stores failure_reason and output', async () => {
    w.pom.script = BUILD_FAILS;
    const events = await collect(push(project, { 'refs/heads/main': sha(2) }));
    expect(events).toEqual([
      'created v2 refs/heads/main',
      '-----> Building with node',
      '       npm ERR! missing script: build',
      'result PUSH_OUTCOME_FAILED deployment v2 failed: build failed: npm run build exited with code 1',
    ]);
    const row = (await rowsOf(project.id)).find((r) => r.number === 2)!;
    expect(row).toMatchObject({
      state: 'failed',
      failure_reason: 'build failed: npm run build exited with code 1',
    });
    expect(row.build_output).toContain('npm ERR! missing script: build');
    expect(row.finished_at).not.toBeNull();
    // The previous deployment keeps running and stays the active one.
    expect((await rowsOf(project.id)).find((r) => r.number === 1)!.state).toBe('active');
  });

  it('fails the deployment with a clear reason when Pomegrenade is not reachable, never leaving it queued', async () => {
    await w.pom.stop();
    const events = await collect(push(project, { 'refs/heads/main': sha(3) }));
    expect(events).toEqual([
      'created v3 refs/heads/main',
      `result PUSH_OUTCOME_FAILED deployment v3 failed: ${UNREACHABLE}`,
    ]);
    expect((await rowsOf(project.id)).find((r) => r.number === 3)).toMatchObject({
      state: 'failed',
      failure_reason: UNREACHABLE,
    });
  });

  it('fails a followed deployment when Pomegrenade goes away mid-build and stays away', async () => {
    w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
    const row = await w.deployments.deployPush(project, alice, sha(4), 'refs/heads/main', undefined);
    await expect
      .poll(async () => (await w.deployments.repo.find(project.id, row.number))?.state)
      .toBe('building');
    await w.pom.stop();
    await w.deployments.settled(project.id, row.number);
    expect(await w.deployments.repo.find(project.id, row.number)).toMatchObject({
      state: 'failed',
      failure_reason: UNREACHABLE,
    });
  });

  it('keeps following when Pomegrenade comes back, without recording replayed events twice', async () => {
    const patient = new DeploymentsService(
      w.deployments.repo,
      w.pomClient,
      w.box,
      { appsDomain: 'apps.test', routerPort: 8080 },
      w.logger,
      { ...TEST_TIMING, giveUpMs: 20_000 },
    );
    w.pom.script = [
      { state: S.DEPLOYMENT_STATE_BUILDING },
      { log: 'one' },
      { wait: true },
      { log: 'two' },
      { state: S.DEPLOYMENT_STATE_ACTIVE },
    ];
    const row = await patient.deployPush(project, alice, sha(8), 'refs/heads/main', undefined);
    await expect
      .poll(async () => (await patient.repo.find(project.id, row.number))?.build_output)
      .toBe('one');
    await w.pom.crash();
    await new Promise((r) => setTimeout(r, 200));
    await w.pom.start();
    w.pom.release(project.id, row.number);
    await patient.settled(project.id, row.number);
    expect(await patient.repo.find(project.id, row.number)).toMatchObject({
      state: 'active',
      build_output: 'one\ntwo',
    });
    expect(w.pom.calls.filter((c) => c === `watch:${project.id}:${row.number}`).length).toBeGreaterThan(1);
  });

  it('records each state of a scripted deployment into the database as it happens', async () => {
    w.pom.script = [
      { state: S.DEPLOYMENT_STATE_BUILDING },
      { wait: true },
      { state: S.DEPLOYMENT_STATE_RELEASING },
      { wait: true },
      { state: S.DEPLOYMENT_STATE_ACTIVE },
    ];
    const row = await w.deployments.deployPush(project, alice, sha(5), 'refs/heads/main', undefined);
    const state = async () => (await w.deployments.repo.find(project.id, row.number))?.state;
    await expect.poll(state).toBe('building');
    w.pom.release(project.id, row.number);
    await expect.poll(state).toBe('releasing');
    w.pom.release(project.id, row.number);
    await w.deployments.settled(project.id, row.number);
    expect(await state()).toBe('active');
    // Only one deployment of a project is active: the one before it is superseded.
    const rows = await rowsOf(project.id);
    expect(rows.filter((r) => r.state === 'active').map((r) => r.number)).toEqual([row.number]);
    expect(rows.find((r) => r.number === 1)!.state).toBe('superseded');
  });

  it('lets several subscribers follow one deployment live, each seeing every event then the end', async () => {
    w.pom.script = [
      { state: S.DEPLOYMENT_STATE_BUILDING },
      { log: 'one' },
      { wait: true },
      { log: 'two' },
      { state: S.DEPLOYMENT_STATE_ACTIVE },
    ];
    const row = await w.deployments.deployPush(project, alice, sha(6), 'refs/heads/main', undefined);
    const seen = async () => {
      const out: string[] = [];
      for await (const e of w.deployments.follow(project, row.number))
        out.push(e.type === 'state' ? e.state : e.type === 'log' ? e.text : e.title);
      return out;
    };
    const first = seen();
    await expect
      .poll(async () => (await w.deployments.repo.find(project.id, row.number))?.state)
      .toBe('building');
    const second = seen();
    w.pom.release(project.id, row.number);
    const expected = ['queued', 'building', 'one', 'two', 'active'];
    expect(await first).toEqual(expected);
    expect(await second).toEqual(expected);
    // After the end a subscriber gets the final state at once.
    await w.deployments.settled(project.id, row.number);
    expect((await seen()).at(-1)).toBe('active');
  });

  it('cancels the deployment when the pusher hangs up', async () => {
    w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
    const hangUp = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const { event } of push(project, { 'refs/heads/main': sha(7) }, { signal: hangUp.signal })) {
        seen.push(event?.$case ?? '');
        if (event?.$case === 'deploymentCreated') setTimeout(() => hangUp.abort(), 50);
      }
    })();
    await done;
    expect(seen).toEqual(['deploymentCreated']);
    const row = (await rowsOf(project.id)).at(-1)!;
    expect(w.pom.calls).toContain(`cancel:${project.id}:${row.number}`);
    await w.deployments.settled(project.id, row.number);
    expect((await w.deployments.repo.find(project.id, row.number))!.state).toBe('cancelled');
  });

  it('rolls back with a NEW deployment reusing the old build and the config it ran with', async () => {
    const p = await newProject('roll');
    await w.configVars.change(alice, 'roll', { set: { MODE: 'old' } }, null);
    await collect(push(p, { 'refs/heads/main': sha(10) }));
    await w.configVars.change(alice, 'roll', { set: { MODE: 'new' } }, null);
    await w.deployments.settled(p.id, 2);
    await collect(push(p, { 'refs/heads/main': sha(11) }));
    expect((await rowsOf(p.id)).map((r) => [r.number, r.reason, r.state])).toEqual([
      [1, 'push', 'superseded'],
      [2, 'config', 'superseded'],
      [3, 'push', 'active'],
    ]);
    const back = await w.deployments.rollback(p, alice, 1);
    await w.deployments.settled(p.id, back.number);
    const row = await w.deployments.repo.find(p.id, back.number);
    expect(row).toMatchObject({ number: 4, reason: 'rollback', state: 'active', commit_sha: sha(10) });
    expect(w.deployments.snapshot(row!)).toEqual({ MODE: 'old' });
    const req = w.pom.deployments.get(`${p.id}#4`)!.request;
    expect(req.source?.kind).toEqual({ $case: 'buildOfDeploymentNumber', value: 1 });
    expect(req.configVars).toEqual({ MODE: 'old' });
    // Without a number: back to the previous successful one (v3), with its config.
    const again = await w.deployments.rollback(p, alice);
    await w.deployments.settled(p.id, again.number);
    expect(await w.deployments.repo.find(p.id, again.number)).toMatchObject({
      number: 5,
      commit_sha: sha(11),
      state: 'active',
    });
    expect(w.deployments.snapshot((await w.deployments.repo.find(p.id, 5))!)).toEqual({ MODE: 'new' });
  });

  it.each([
    [99, NotFoundError, 'project "roll": deployment v99 not found'],
    [5, ConflictError, 'project "roll": v5 is already active'],
  ])('refuses a rollback to v%s', async (number, cls, message) => {
    const p = (await w.deployments.repo.findProject((await w.projects.get(alice, 'roll')).id))!;
    const err = await w.deployments.rollback(p, alice, number).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect((err as Error).message).toBe(message);
  });

  it('refuses a rollback to a deployment whose build is no longer kept, creating nothing', async () => {
    const p = await w.deployments.repo.findProject((await w.projects.get(alice, 'roll')).id);
    const before = (await rowsOf(p!.id)).length;
    w.pom.deployments.get(`${p!.id}#1`)!.buildRetained = false;
    await expect(w.deployments.rollback(p!, alice, 1)).rejects.toThrow(
      'project "roll": the build of v1 is no longer kept, so it cannot be rolled back to (push its commit again)',
    );
    expect((await rowsOf(p!.id)).length).toBe(before);
  });

  it('refuses a rollback to a deployment that never became active', async () => {
    const p = await newProject('never');
    w.pom.script = BUILD_FAILS;
    await collect(push(p, { 'refs/heads/main': sha(20) }));
    const err = await w.deployments.rollback(p, alice, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/v1 never became active \(failed\)/);
    await expect(w.deployments.rollback(p, alice)).rejects.toThrow(
      'no earlier successful deployment to roll back to',
    );
  });

  it('creates exactly one deployment per config change, and none before anything is active', async () => {
    const p = await newProject('cfgdep');
    await w.configVars.change(alice, 'cfgdep', { set: { EARLY: '1' } }, null);
    expect(await rowsOf(p.id)).toEqual([]);
    await collect(push(p, { 'refs/heads/main': sha(30) }));
    await w.configVars.change(alice, 'cfgdep', { set: { A: '1' }, unset: ['EARLY'] }, null);
    await w.deployments.settled(p.id, 2);
    const rows = await rowsOf(p.id);
    expect(rows.map((r) => [r.number, r.reason, r.state, r.commit_sha])).toEqual([
      [1, 'push', 'superseded', sha(30)],
      [2, 'config', 'active', sha(30)],
    ]);
    const req = w.pom.deployments.get(`${p.id}#2`)!.request;
    expect(req.source?.kind).toEqual({ $case: 'buildOfDeploymentNumber', value: 1 });
    expect(req.configVars).toEqual({ A: '1' });
  });

  it('redeploys a config change made during a push after the push, without cancelling it', async () => {
    const p = await newProject('cfgwait');
    await collect(push(p, { 'refs/heads/main': sha(31) }));
    w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
    const pushing = collect(push(p, { 'refs/heads/main': sha(32) }));
    await expect.poll(async () => (await w.deployments.repo.find(p.id, 2))?.state).toBe('building');
    await w.configVars.change(alice, 'cfgwait', { set: { B: '1' } }, null);
    await w.configVars.change(alice, 'cfgwait', { set: { B: '2' } }, null);
    expect((await rowsOf(p.id)).length).toBe(2);
    w.pom.script = SUCCEEDS;
    w.pom.release(p.id, 2);
    expect((await pushing).at(-1)).toMatch(/^result PUSH_OUTCOME_SUCCEEDED deployed v2/);
    const redeploy = await w.deployments.configRedeployed(p.id);
    expect(redeploy).toMatchObject({ number: 3, reason: 'config', commit_sha: sha(32) });
    await w.deployments.settled(p.id, 3);
    expect((await rowsOf(p.id)).map((r) => [r.number, r.reason, r.state])).toEqual([
      [1, 'push', 'superseded'],
      [2, 'push', 'superseded'],
      [3, 'config', 'active'],
    ]);
    expect(w.pom.deployments.get(`${p.id}#3`)!.request).toMatchObject({ configVars: { B: '2' } });
  });

  it('allocates unique, growing numbers to concurrent deployments of one project', async () => {
    const p = await newProject('race');
    // More at once than a lost race is retried (5 times): they must not race at all.
    const rows = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        w.deployments.deployPush(p, alice, sha(40 + i), 'refs/heads/main', undefined),
      ),
    );
    expect(rows.map((r) => r.number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    await Promise.all(rows.map((r) => w.deployments.settled(p.id, r.number)));
  });

  it.each([
    [
      'another branch',
      { 'refs/heads/dev': sha(50) },
      [],
      'PUSH_OUTCOME_NOT_DEPLOYED',
      'stored, not deployed (only main deploys)',
    ],
    [
      'a tag',
      { 'refs/tags/v1': sha(51) },
      [],
      'PUSH_OUTCOME_NOT_DEPLOYED',
      'stored, not deployed (only main deploys)',
    ],
    [
      'main with skip-deploy',
      { 'refs/heads/main': sha(52) },
      ['skip-deploy'],
      'PUSH_OUTCOME_NOT_DEPLOYED',
      'stored, not deployed (push option skip-deploy)',
    ],
    [
      'the deletion of main',
      { 'refs/heads/main': ZERO },
      [],
      'PUSH_OUTCOME_REJECTED',
      'branch "main" is the deploy branch: it cannot be deleted',
    ],
    [
      'main to a non-commit id',
      { 'refs/heads/main': 'zz' },
      [],
      'PUSH_OUTCOME_REJECTED',
      'ref "main": "zz" is not a full object id',
    ],
  ])('does not deploy a push of %s', async (_name, refs, pushOptions, outcome, reason) => {
    const p = await w.projects.create(alice, `nd-${Math.random().toString(36).slice(2, 8)}`, null);
    const events = await collect(push(p, refs, { pushOptions }));
    expect(events.at(-1)).toBe(`result ${outcome} ${reason}`);
    expect(await rowsOf(p.id)).toEqual([]);
    expect(w.pom.calls.filter((c) => c.startsWith(`create:${p.id}`))).toEqual([]);
  });

  it('deploys master when the repository has no main, and not once main exists', async () => {
    const p = await newProject('legacy');
    const events = await collect(push(p, { 'refs/heads/master': sha(60) }));
    expect(events[0]).toBe('created v1 refs/heads/master');
    expect(events.at(-1)).toMatch(/^result PUSH_OUTCOME_SUCCEEDED/);
    // Give the real repository a main branch: master no longer deploys.
    const gitDir = path.join(w.git.reposDir, `${p.id}.git`);
    const { stdout: tree } = await run('git', [
      '--git-dir',
      gitDir,
      'hash-object',
      '-w',
      '-t',
      'tree',
      '/dev/null',
    ]);
    const { stdout: commit } = await run(
      'git',
      ['--git-dir', gitDir, 'commit-tree', tree.trim(), '-m', 'x'],
      {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      },
    );
    await run('git', ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', commit.trim()]);
    expect((await collect(push(p, { 'refs/heads/master': sha(61) }))).at(-1)).toBe(
      'result PUSH_OUTCOME_NOT_DEPLOYED stored, not deployed (only main deploys)',
    );
    expect((await rowsOf(p.id)).length).toBe(1);
  });

  it('removes the application from Pomegrenade when its project is deleted, and only then', async () => {
    const never = await newProject('never-deployed');
    await w.projects.delete(alice, 'never-deployed', null);
    expect(w.pom.calls).not.toContain(`delete:${never.id}`);
    const p = await newProject('doomed');
    await collect(push(p, { 'refs/heads/main': sha(90) }));
    await w.pom.stop();
    // Pomegrenade down: the delete fails with 503 and nothing is removed (it can be retried).
    await expect(w.projects.delete(alice, 'doomed', null)).rejects.toThrow(UNREACHABLE);
    expect(await w.deployments.repo.findProject(p.id)).toBeDefined();
    await w.pom.start();
    await expect
      .poll(() =>
        w.projects.delete(alice, 'doomed', null).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    expect(w.pom.calls).toContain(`delete:${p.id}`);
    expect(await w.deployments.repo.findProject(p.id)).toBeUndefined();
    expect(await rowsOf(p.id)).toEqual([]);
  });

  it("refuses a push recorded for another Client's project as not found", async () => {
    await expect(
      collect(push(project, { 'refs/heads/main': sha(70) }, { client: bob })),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('reconciles deployments a crash left unfinished: unknown ones fail, known ones are followed', async () => {
    const p = await newProject('crash');
    w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
    const lost = await w.deployments.deployPush(p, alice, sha(80), 'refs/heads/main', undefined);
    const kept = await w.deployments.deployPush(p, alice, sha(81), 'refs/heads/main', undefined);
    await expect.poll(async () => (await w.deployments.repo.find(p.id, kept.number))?.state).toBe('building');
    // The API "crashes": a fresh service over the same database; Pomegrenade lost one deployment.
    await w.deployments.onModuleDestroy();
    w.pom.deployments.delete(`${p.id}#${lost.number}`);
    const fresh = new DeploymentsService(
      w.deployments.repo,
      new PomegrenadeClient(w.pom.address, w.pom.secret),
      w.box,
      { appsDomain: 'apps.test', routerPort: 8080 },
      w.logger,
      TEST_TIMING,
    );
    await fresh.reconcile();
    w.pom.release(p.id, kept.number);
    await fresh.settled(p.id, lost.number);
    await fresh.settled(p.id, kept.number);
    expect(await fresh.repo.find(p.id, lost.number)).toMatchObject({
      state: 'failed',
      failure_reason: INTERRUPTED,
    });
    expect(await fresh.repo.find(p.id, kept.number)).toMatchObject({ state: 'active', failure_reason: null });
    await fresh.onModuleDestroy();
  });
});
