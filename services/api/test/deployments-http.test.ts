import * as grpc from '@grpc/grpc-js';
import { internalMetadata } from '@paastech/kit';
import { control, deploy } from '@paastech/proto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';
import { type GitContractServer, startGitContractServer } from './support/git-contract-server.js';
import { type Actors, type MatrixRoute, makeActors, ownerOnly, runMatrix } from './support/matrix.js';
import {
  BUILD_FAILS,
  type PomegrenadeContractServer,
  SUCCEEDS,
  startPomegrenadeContractServer,
} from './support/pomegrenade-contract-server.js';
import { openEventStream } from './support/sse.js';

const S = deploy.DeploymentState;
const ZERO = '0'.repeat(40);
let shaCounter = 0;
/** A fresh well-formed commit id. */
const nextSha = () => (++shaCounter).toString(16).padStart(40, 'd');
let nameCounter = 0;
/** A fresh project name. */
const fresh = () => `dep-${process.pid}-${++nameCounter}`;

/** A running API with contract servers for the git controller and Pomegrenade on its sockets. */
interface World {
  api: TestApi;
  git: GitContractServer;
  pom: PomegrenadeContractServer;
  control: control.ControlServiceClient;
}

async function startWorld(dialect: (typeof DIALECTS)[number]): Promise<World> {
  const api = await startTestApi(dialect);
  const run = `${api.database.dataDir}/run`;
  const git = await startGitContractServer({ address: `unix:${run}/git.sock`, secret: api.internalSecret });
  const pom = await startPomegrenadeContractServer({
    address: `unix:${run}/pomegrenade.sock`,
    secret: api.internalSecret,
  });
  const client = new control.ControlServiceClient(api.grpcAddress, grpc.credentials.createInsecure());
  return { api, git, pom, control: client };
}

async function stopWorld(w: World | undefined): Promise<void> {
  w?.control.close();
  await w?.api.stop();
  await w?.git.stop();
  await w?.pom.close();
}

/** Creates a project of `c` through the API; returns its name and id. */
async function createProject(w: World, c: TestClient, name = fresh()): Promise<{ name: string; id: string }> {
  const res = await call(w.api, 'POST', '/api/v1/projects', { body: { name }, as: { token: c.token } });
  expect(res.status).toBe(201);
  return { name, id: res.body.id };
}

/** Pushes `sha` to main through the API's RecordPush (as the git controller does); returns the events. */
function recordPush(
  w: World,
  c: TestClient,
  projectId: string,
  sha: string,
): Promise<control.RecordPushResponse[]> {
  const req: control.RecordPushRequest = {
    projectId,
    pusherClientId: c.id,
    refUpdates: [{ oldSha: ZERO, newSha: sha, refName: 'refs/heads/main' }],
    pushOptions: [],
  };
  return new Promise((resolve, reject) => {
    const events: control.RecordPushResponse[] = [];
    const stream = w.control.recordPush(req, internalMetadata(w.api.internalSecret));
    stream.on('data', (e: control.RecordPushResponse) => events.push(e));
    stream.on('error', reject);
    stream.on('end', () => resolve(events));
  });
}

/** Audit events of `action` on project `name`, oldest first. */
async function auditOf(w: World, action: string, name: string) {
  const database = await openDatabase(w.api.database);
  try {
    return await database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', action)
      .where('target', '=', `project:${name}`)
      .orderBy('at')
      .execute();
  } finally {
    await database.close();
  }
}

/** The outcome of a push's final event. */
function outcomeOf(events: control.RecordPushResponse[]): string {
  const last = events.at(-1)?.event;
  return last?.$case === 'result' ? control.pushOutcomeToJSON(last.value.outcome) : 'none';
}

/** Waits until deployment `number` of project `name` is in `state` (through the API). */
async function waitState(
  w: World,
  c: TestClient,
  name: string,
  number: number,
  state: string,
): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await call(w.api, 'GET', `/api/v1/projects/${name}/deployments/${number}`, {
            as: { token: c.token },
          })
        ).body?.state,
      {
        timeout: 5000,
      },
    )
    .toBe(state);
}

describe.each(DIALECTS)('deployment routes on %s', (dialect) => {
  let w: World;
  let alice: TestClient;
  let bob: TestClient;
  const as = (c: TestClient) => ({ token: c.token });

  beforeAll(async () => {
    w = await startWorld(dialect);
    alice = await signUp(w.api, 'alice');
    bob = await signUp(w.api, 'bob');
  });
  afterAll(() => stopWorld(w));
  beforeEach(async () => {
    w.pom.script = SUCCEEDS;
    await w.pom.start();
    // A test may have stopped Pomegrenade: wait until the API's channel has reconnected.
    const probe = await createProject(w, alice);
    await expect
      .poll(
        async () =>
          (await call(w.api, 'GET', `/api/v1/projects/${probe.name}/status`, { as: as(alice) })).status,
      )
      .toBe(200);
  });

  it('deploys a push through RecordPush, then lists and shows the deployment with its build output', async () => {
    const p = await createProject(w, alice);
    const sha = nextSha();
    const events = await recordPush(w, alice, p.id, sha);
    expect(events[0]?.event).toEqual({
      $case: 'deploymentCreated',
      value: { deploymentNumber: 1, commitSha: sha, refName: 'refs/heads/main' },
    });
    expect(events.at(-1)?.event).toEqual({
      $case: 'result',
      value: {
        outcome: control.PushOutcome.PUSH_OUTCOME_SUCCEEDED,
        reason: 'deployed v1',
        deploymentNumber: 1,
        url: `http://${p.name}.apps.test:8080/`,
      },
    });
    const list = await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments`, { as: as(alice) });
    expect(list.status).toBe(200);
    expect(list.body.deployments).toHaveLength(1);
    expect(list.body.deployments[0]).toMatchObject({
      number: 1,
      state: 'active',
      reason: 'push',
      commit_sha: sha,
      formation: {},
    });
    expect(list.body.deployments[0]).not.toHaveProperty('build_output');
    expect(JSON.stringify(list.body)).not.toContain('config_snapshot');
    const one = await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments/v1`, { as: as(alice) });
    expect(one.status).toBe(200);
    expect(one.body.build_output).toContain('-----> Building with node');
    expect(one.body.finished_at).not.toBeNull();
  });

  it('rejects a push whose build fails and shows why', async () => {
    const p = await createProject(w, alice);
    w.pom.script = BUILD_FAILS;
    expect(outcomeOf(await recordPush(w, alice, p.id, nextSha()))).toBe('PUSH_OUTCOME_FAILED');
    const one = await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments/1`, { as: as(alice) });
    expect(one.body).toMatchObject({
      state: 'failed',
      failure_reason: 'build failed: npm run build exited with code 1',
    });
  });

  it.each(['0', '99', 'abc', 'v0', '1.5', '%2e%2e'])('answers 404 for deployment %j', async (number) => {
    const p = await createProject(w, alice);
    const res = await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments/${number}`, {
      as: as(alice),
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('streams deployment events live over SSE and ends the stream when the deployment ends', async () => {
    const p = await createProject(w, alice);
    w.pom.script = [
      { state: S.DEPLOYMENT_STATE_BUILDING },
      { log: 'before' },
      { wait: true },
      { log: 'after' },
      { state: S.DEPLOYMENT_STATE_ACTIVE },
    ];
    const push = recordPush(w, alice, p.id, nextSha());
    await waitState(w, alice, p.name, 1, 'building');
    const stream = await openEventStream(
      `${w.api.baseUrl}/api/v1/projects/${p.name}/deployments/1/events`,
      alice.token,
    );
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    for await (const e of stream.events) {
      seen.push(`${e.event}:${e.data.state ?? e.data.text ?? e.data.title}`);
      // Released only once the history arrived: what follows can only come live.
      if (e.event === 'log' && e.data.text === 'before') w.pom.release(p.id, 1);
    }
    expect(seen).toEqual(['state:queued', 'state:building', 'log:before', 'log:after', 'state:active']);
    expect(outcomeOf(await push)).toBe('PUSH_OUTCOME_SUCCEEDED');
    // An ended deployment's stream ends with its final state.
    const after = await openEventStream(
      `${w.api.baseUrl}/api/v1/projects/${p.name}/deployments/1/events`,
      alice.token,
    );
    const rest = [];
    for await (const e of after.events) rest.push(e);
    expect(rest.at(-1)).toEqual({ event: 'state', data: expect.objectContaining({ state: 'active' }) });
  });

  /** A project pushed with V=one (v1), then changed to `second` (v2, active). */
  async function configuredTwice(second: Record<string, string>) {
    const p = await createProject(w, alice);
    await call(w.api, 'PATCH', `/api/v1/projects/${p.name}/config`, {
      body: { set: { V: 'one' } },
      as: as(alice),
    });
    await recordPush(w, alice, p.id, nextSha());
    await call(w.api, 'PATCH', `/api/v1/projects/${p.name}/config`, { body: { set: second }, as: as(alice) });
    await waitState(w, alice, p.name, 2, 'active');
    return p;
  }

  it('rolls back to the previous deployment with a new deployment and the old config', async () => {
    const p = await configuredTwice({ V: 'two', W: 'added in v2' });
    const res = await call(w.api, 'POST', `/api/v1/projects/${p.name}/rollback`, { body: {}, as: as(alice) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ number: 3, reason: 'rollback' });
    await waitState(w, alice, p.name, 3, 'active');
    expect(w.pom.deployments.get(`${p.id}#3`)?.request.configVars).toEqual({ V: 'one' });
    // Once live, the config rolled back to is the project's config again (as Heroku's): the next
    // push runs with it, not with the config that was rolled back.
    const config = async () =>
      (await call(w.api, 'GET', `/api/v1/projects/${p.name}/config`, { as: as(alice) })).body;
    expect(await config()).toEqual({ vars: { V: 'one' } });
    await recordPush(w, alice, p.id, nextSha());
    await waitState(w, alice, p.name, 4, 'active');
    expect(w.pom.deployments.get(`${p.id}#4`)?.request.configVars).toEqual({ V: 'one' });
    // A rollback that fails changes nothing: the config stays what the running deployment has.
    await call(w.api, 'PATCH', `/api/v1/projects/${p.name}/config`, {
      body: { set: { V: 'three' } },
      as: as(alice),
    });
    await waitState(w, alice, p.name, 5, 'active');
    w.pom.script = BUILD_FAILS;
    const failing = await call(w.api, 'POST', `/api/v1/projects/${p.name}/rollback`, {
      body: {},
      as: as(alice),
    });
    expect(failing.body).toMatchObject({ number: 6, reason: 'rollback' });
    await waitState(w, alice, p.name, 6, 'failed');
    expect(await config()).toEqual({ vars: { V: 'three' } });
    w.pom.script = SUCCEEDS;
    const audit = await auditOf(w, 'deployment.rollback', p.name);
    expect(audit.map((a) => [a.client_id, a.ip, JSON.parse(a.details)])).toEqual([
      // The names of the config vars the rollback restores once live, never their values.
      [alice.id, '127.0.0.1', { number: 3, to: null, config: ['V'] }],
      [alice.id, '127.0.0.1', { number: 6, to: null, config: ['V'] }],
    ]);
    const bad = await call(w.api, 'POST', `/api/v1/projects/${p.name}/rollback`, {
      body: { number: 'x' },
      as: as(alice),
    });
    expect(bad.status).toBe(400);
    const active = await call(w.api, 'POST', `/api/v1/projects/${p.name}/rollback`, {
      body: { number: 5 },
      as: as(alice),
    });
    expect(active.status).toBe(409);
    expect(active.body.detail).toBe(`project "${p.name}": v5 is already active`);
  });

  it('leaves the config alone when a push came after the rollback: the newer deployment wins', async () => {
    const p = await configuredTwice({ V: 'two' });
    w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
    await call(w.api, 'POST', `/api/v1/projects/${p.name}/rollback`, { body: {}, as: as(alice) });
    await waitState(w, alice, p.name, 3, 'building');
    w.pom.script = SUCCEEDS;
    // v4, pushed while the rollback builds, runs with the project's config of then (V=two).
    const push = recordPush(w, alice, p.id, nextSha());
    await waitState(w, alice, p.name, 4, 'active');
    w.pom.deployments.get(`${p.id}#3`)?.release();
    await waitState(w, alice, p.name, 3, 'active');
    await push;
    expect(w.pom.deployments.get(`${p.id}#4`)?.request.configVars).toEqual({ V: 'two' });
    const config = await call(w.api, 'GET', `/api/v1/projects/${p.name}/config`, { as: as(alice) });
    expect(config.body).toEqual({ vars: { V: 'two' } });
  });

  it('creates exactly one deployment per config change once something is active', async () => {
    const p = await createProject(w, alice);
    await call(w.api, 'PATCH', `/api/v1/projects/${p.name}/config`, {
      body: { set: { A: '1' } },
      as: as(alice),
    });
    const list = async () =>
      (await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments`, { as: as(alice) })).body
        .deployments;
    expect(await list()).toEqual([]);
    await recordPush(w, alice, p.id, nextSha());
    const change = await call(w.api, 'PATCH', `/api/v1/projects/${p.name}/config`, {
      body: { set: { A: '2' }, unset: [] },
      as: as(alice),
    });
    expect(change.status).toBe(200);
    await waitState(w, alice, p.name, 2, 'active');
    expect((await list()).map((d: { number: number; reason: string }) => `${d.number}:${d.reason}`)).toEqual([
      '2:config',
      '1:push',
    ]);
  });

  it('gets and sets the formation through ScaleProject, with bounds', async () => {
    const p = await createProject(w, alice);
    const early = await call(w.api, 'PUT', `/api/v1/projects/${p.name}/formation`, {
      body: { formation: { web: 2 } },
      as: as(alice),
    });
    expect(early.status).toBe(409);
    await recordPush(w, alice, p.id, nextSha());
    const set = await call(w.api, 'PUT', `/api/v1/projects/${p.name}/formation`, {
      body: { formation: { web: 2, worker: 1 } },
      as: as(alice),
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ formation: { web: 2, worker: 1 } });
    expect(w.pom.formations.get(p.id)).toEqual({ web: 2, worker: 1 });
    const got = await call(w.api, 'GET', `/api/v1/projects/${p.name}/formation`, { as: as(alice) });
    expect(got.body).toEqual({ formation: { web: 2, worker: 1 } });
    // No new deployment, and the next one runs with this formation.
    expect(
      (await call(w.api, 'GET', `/api/v1/projects/${p.name}/deployments`, { as: as(alice) })).body
        .deployments,
    ).toHaveLength(1);
    await recordPush(w, alice, p.id, nextSha());
    expect(w.pom.deployments.get(`${p.id}#2`)?.request.formation).toEqual({ web: 2, worker: 1 });
  });

  it.each([
    [{ formation: { web: 11 } }, 'formation "web": count must be between 0 and 10'],
    [
      { formation: { 'we b': 1 } },
      'formation "we b": process type must be 1-30 of a-z, 0-9, _ and -, starting with a letter',
    ],
    [{ formation: [1] }, 'invalid request: formation: formation must be an object'],
    [{ formation: { web: 1 }, extra: 1 }, 'invalid request: extra: property extra should not exist'],
    [
      { web: 1 },
      'invalid request: web: property web should not exist; formation: formation must be an object',
    ],
  ])('refuses the formation %j with 400', async (body, detail) => {
    const p = await createProject(w, alice);
    const res = await call(w.api, 'PUT', `/api/v1/projects/${p.name}/formation`, { body, as: as(alice) });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe(detail);
  });

  it('restarts through RestartProject', async () => {
    const p = await createProject(w, alice);
    const all = await call(w.api, 'POST', `/api/v1/projects/${p.name}/restart`, { body: {}, as: as(alice) });
    expect(all.status).toBe(202);
    const web = await call(w.api, 'POST', `/api/v1/projects/${p.name}/restart`, {
      body: { process_type: 'web' },
      as: as(alice),
    });
    expect(web.status).toBe(202);
    expect(w.pom.calls).toEqual(expect.arrayContaining([`restart:${p.id}:`, `restart:${p.id}:web`]));
    const audit = await auditOf(w, 'project.restart', p.name);
    expect(audit.map((a) => JSON.parse(a.details))).toEqual([
      { process_type: null },
      { process_type: 'web' },
    ]);
    const bad = await call(w.api, 'POST', `/api/v1/projects/${p.name}/restart`, {
      body: { process_type: '--all' },
      as: as(alice),
    });
    expect(bad.status).toBe(400);
  });

  it('reports the status of instances, and 503 when Pomegrenade is not reachable', async () => {
    const p = await createProject(w, alice);
    const started = new Date(Date.now() - 90_000);
    w.pom.status = {
      activeDeployment: undefined,
      pendingDeployment: undefined,
      formation: { web: 1 },
      instances: [
        {
          processType: 'web',
          index: 1,
          state: deploy.InstanceState.INSTANCE_STATE_RUNNING,
          deploymentNumber: 1,
          startedAt: started,
          restartCount: 2,
          lastExitCode: 137,
          memoryBytes: 1000,
          memoryLimitBytes: 4000,
          cpuMillicores: 12,
          node: 'node-2',
        },
        {
          processType: 'worker',
          index: 1,
          state: deploy.InstanceState.INSTANCE_STATE_STARTING,
          deploymentNumber: 1,
          restartCount: 0,
          lastExitCode: 0,
          memoryBytes: 0,
          memoryLimitBytes: 4000,
          cpuMillicores: 0,
          node: '',
        },
      ],
      stopped: false,
      diskUsedBytes: 55,
    };
    const res = await call(w.api, 'GET', `/api/v1/projects/${p.name}/status`, { as: as(alice) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      active_deployment: null,
      formation: { web: 1 },
      stopped: false,
      disk_used_bytes: 55,
    });
    expect(res.body.instances[0]).toMatchObject({
      name: 'web.1',
      state: 'running',
      deployment: 1,
      restarts: 2,
      last_exit_code: 137,
      memory_bytes: 1000,
      memory_limit_bytes: 4000,
      cpu_millicores: 12,
      node: 'node-2',
    });
    expect(res.body.instances[0].uptime_seconds).toBeGreaterThanOrEqual(89);
    // No node named (local runtime, or a Pomegrenade older than the field): null, not "".
    expect(res.body.instances[1]).toMatchObject({
      name: 'worker.1',
      state: 'starting',
      node: null,
      uptime_seconds: null,
    });
    await w.pom.stop();
    const down = await call(w.api, 'GET', `/api/v1/projects/${p.name}/status`, { as: as(alice) });
    expect(down.status).toBe(503);
    expect(down.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(down.body.detail).toBe('the deployment service is not reachable');
  });

  it("reports the router's request counts in the status, zeros when it has none", async () => {
    const p = await createProject(w, alice);
    const since = new Date('2026-11-28T10:00:00Z');
    const start = new Date('2026-11-28T12:00:00Z');
    const end = new Date('2026-11-28T12:00:30Z');
    w.pom.status = {
      formation: {},
      instances: [],
      stopped: false,
      diskUsedBytes: 0,
      traffic: {
        countedSince: since,
        requestCount: 120,
        serverErrorCount: 7,
        unavailableCount: 3,
        bytesIn: 4096,
        bytesOut: 65_536,
        byStatusClass: { informational: 1, success: 100, redirection: 5, clientError: 7, serverError: 10 },
        lastWindow: {
          windowStart: start,
          windowEnd: end,
          requestCount: 30,
          serverErrorCount: 1,
          unavailableCount: 2,
          byStatusClass: { informational: 0, success: 28, redirection: 0, clientError: 1, serverError: 3 },
          latency: { upperBoundsMs: [10, 100, 1000], counts: [20, 10, 1, 1] },
        },
      },
    };
    const res = await call(w.api, 'GET', `/api/v1/projects/${p.name}/status`, { as: as(alice) });
    expect(res.status).toBe(200);
    expect(res.body.traffic).toEqual({
      counted_since: since.toISOString(),
      requests: 123,
      server_errors: 7,
      router_errors: 3,
      bytes_in: 4096,
      bytes_out: 65_536,
      by_status_class: { '1xx': 1, '2xx': 100, '3xx': 5, '4xx': 7, '5xx': 10 },
      last_window: {
        start: start.toISOString(),
        end: end.toISOString(),
        seconds: 30,
        requests: 32,
        server_errors: 1,
        router_errors: 2,
        by_status_class: { '1xx': 0, '2xx': 28, '3xx': 0, '4xx': 1, '5xx': 3 },
        // 32 answers: the 16th (p50) is in the first bucket, the 31st (p95) in the third, the 32nd
        // (p99) in the overflow.
        latency: {
          buckets_ms: [10, 100, 1000],
          counts: [20, 10, 1, 1],
          p50: { ms: 10, above: false },
          p95: { ms: 1000, above: false },
          p99: { ms: 1000, above: true },
        },
      },
    });
    // A router older than the status classes: counts without them.
    const traffic = w.pom.status.traffic!;
    w.pom.status = {
      ...w.pom.status,
      traffic: {
        ...traffic,
        byStatusClass: undefined,
        lastWindow: { ...traffic.lastWindow!, byStatusClass: undefined, latency: undefined },
      },
    };
    const older = await call(w.api, 'GET', `/api/v1/projects/${p.name}/status`, { as: as(alice) });
    expect(older.body.traffic).toMatchObject({ requests: 123, by_status_class: null });
    expect(older.body.traffic.last_window).toMatchObject({
      requests: 32,
      by_status_class: null,
      latency: null,
    });
    w.pom.status = { formation: {}, instances: [], stopped: false, diskUsedBytes: 0 };
    const none = await call(w.api, 'GET', `/api/v1/projects/${p.name}/status`, { as: as(alice) });
    expect(none.body.traffic).toMatchObject({
      requests: 0,
      server_errors: 0,
      router_errors: 0,
      by_status_class: null,
      last_window: null,
    });
  });

  it('serves logs as JSON, and follows them over SSE', async () => {
    const p = await createProject(w, alice);
    const t = new Date('2026-11-28T12:00:00Z');
    w.pom.logs = [
      { time: t, source: 'build', text: 'compiling', deploymentNumber: 1 },
      { time: t, source: 'web.1', text: 'listening', deploymentNumber: 1 },
    ];
    const json = await call(w.api, 'GET', `/api/v1/projects/${p.name}/logs?source=web&lines=10`, {
      as: as(alice),
    });
    expect(json.status).toBe(200);
    expect(json.body).toEqual({
      lines: [{ time: t.toISOString(), source: 'web.1', text: 'listening', deployment: 1 }],
    });
    const bad = await call(w.api, 'GET', `/api/v1/projects/${p.name}/logs?lines=lots`, { as: as(alice) });
    expect(bad.body.detail).toBe('logs query: lines: must be an integer between 0 and 10000');
    expect(bad.status).toBe(400);
    const stream = await openEventStream(
      `${w.api.baseUrl}/api/v1/projects/${p.name}/logs?follow=1&lines=1`,
      alice.token,
    );
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    for await (const e of stream.events) {
      seen.push(e.data.text);
      if (seen.length === 1)
        w.pom.addLog({ time: new Date(), source: 'web.1', text: 'live line', deploymentNumber: 1 });
      if (seen.length === 2) stream.close();
    }
    expect(seen).toEqual(['listening', 'live line']);
    // Pomegrenade down: following answers 503 before any stream opens.
    await w.pom.stop();
    const down = await openEventStream(
      `${w.api.baseUrl}/api/v1/projects/${p.name}/logs?follow=1`,
      alice.token,
    );
    expect(down.status).toBe(503);
    expect(down.contentType).toMatch(/^application\/problem\+json/);
    down.close();
  });

  it('removes the application from Pomegrenade when a deployed project is deleted', async () => {
    const p = await createProject(w, alice);
    await recordPush(w, alice, p.id, nextSha());
    const res = await call(w.api, 'DELETE', `/api/v1/projects/${p.name}`, { as: as(alice) });
    expect(res.status).toBe(204);
    expect(w.pom.calls).toContain(`delete:${p.id}`);
  });

  it("hands a deployed project's domains to Pomegrenade at once, and undoes a change routing cannot follow", async () => {
    const p = await createProject(w, alice);
    await recordPush(w, alice, p.id, nextSha());
    const host = `${p.name}.example.org`;
    const added = await call(w.api, 'POST', `/api/v1/projects/${p.name}/domains`, {
      body: { hostname: host },
      as: as(alice),
    });
    expect(added.status).toBe(201);
    expect(w.pom.routings.filter((r) => r.projectId === p.id).at(-1)?.domains).toContain(host);
    const removed = await call(w.api, 'DELETE', `/api/v1/projects/${p.name}/domains/${host}`, {
      as: as(alice),
    });
    expect(removed.status).toBe(204);
    expect(w.pom.routings.filter((r) => r.projectId === p.id).at(-1)?.domains).not.toContain(host);
    expect(w.pom.routings.filter((r) => r.projectId === p.id).at(-1)?.egressDisabled).toBeUndefined();
    const kept = `www.${host}`;
    const keptAdded = await call(w.api, 'POST', `/api/v1/projects/${p.name}/domains`, {
      body: { hostname: kept },
      as: as(alice),
    });
    expect(keptAdded.status).toBe(201);
    // Pomegrenade down: the change fails with its reason and nothing is left half-done.
    await w.pom.stop();
    const failed = await call(w.api, 'POST', `/api/v1/projects/${p.name}/domains`, {
      body: { hostname: host },
      as: as(alice),
    });
    expect(failed.status).toBe(503);
    const notRemoved = await call(w.api, 'DELETE', `/api/v1/projects/${p.name}/domains/${kept}`, {
      as: as(alice),
    });
    expect(notRemoved.status).toBe(503);
    const list = await call(w.api, 'GET', `/api/v1/projects/${p.name}/domains`, { as: as(alice) });
    expect(JSON.stringify(list.body)).not.toContain(`"${host}"`);
    // The domain whose removal routing could not follow is back as it was.
    expect(JSON.stringify(list.body)).toContain(JSON.stringify(keptAdded.body));
  });

  it('describes every deployment route in the OpenAPI document', async () => {
    const doc = await call(w.api, 'GET', '/api/openapi.json');
    const paths = Object.keys(doc.body.paths);
    for (const route of [
      '/api/v1/projects/{name}/deployments',
      '/api/v1/projects/{name}/deployments/{number}',
      '/api/v1/projects/{name}/deployments/{number}/events',
      '/api/v1/projects/{name}/rollback',
      '/api/v1/projects/{name}/formation',
      '/api/v1/projects/{name}/restart',
      '/api/v1/projects/{name}/status',
      '/api/v1/projects/{name}/logs',
    ])
      expect(paths).toContain(route);
    const schemas = doc.body.components.schemas;
    expect(Object.keys(schemas.ProjectTrafficDto.properties)).toEqual(
      expect.arrayContaining([
        'requests',
        'server_errors',
        'router_errors',
        'by_status_class',
        'last_window',
      ]),
    );
    expect(schemas.TrafficWindowDto.properties.by_status_class).toBeDefined();
    expect(schemas.TrafficWindowDto.properties.latency).toBeDefined();
    expect(schemas.LatencyHistogramDto.required).toEqual(['buckets_ms', 'counts', 'p50', 'p95', 'p99']);
    expect(schemas.StatusClassesDto.required).toEqual(['1xx', '2xx', '3xx', '4xx', '5xx']);
    expect(schemas.ProjectStatusDto.required).toContain('traffic');
  });

  it("answers 404 to another Client on a deployed project's streams", async () => {
    const p = await createProject(w, alice);
    await recordPush(w, alice, p.id, nextSha());
    for (const path of [`/deployments/1/events`, `/logs?follow=1`]) {
      const stream = await openEventStream(`${w.api.baseUrl}/api/v1/projects/${p.name}${path}`, bob.token);
      expect(stream.status).toBe(404);
      stream.close();
    }
  });
});

describe('stopping the API', () => {
  it('ends open log and deployment event streams instead of waiting for them', async () => {
    const w = await startWorld('sqlite');
    try {
      const alice = await signUp(w.api, 'alice');
      const p = await createProject(w, alice);
      w.pom.script = [{ state: S.DEPLOYMENT_STATE_BUILDING }, { wait: true }, ...SUCCEEDS];
      void recordPush(w, alice, p.id, nextSha()).catch(() => {});
      await waitState(w, alice, p.name, 1, 'building');
      const logs = await openEventStream(
        `${w.api.baseUrl}/api/v1/projects/${p.name}/logs?follow=1`,
        alice.token,
      );
      const events = await openEventStream(
        `${w.api.baseUrl}/api/v1/projects/${p.name}/deployments/1/events`,
        alice.token,
      );
      const drain = (s: typeof logs) =>
        (async () => {
          for await (const _ of s.events);
        })();
      const drained = Promise.all([drain(logs), drain(events)]);
      const started = Date.now();
      await w.api.stop();
      await drained;
      // Bounded, not instant: the held push keeps the gRPC server in its 5 s grace period.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      w.control.close();
      await w.git.stop();
      await w.pom.close();
    }
  });
});

/** Every deployment route; the target project of the owner is deployed (v1 active). */
function deploymentRoutes(world: () => World): MatrixRoute[] {
  /** A project of `owner` with an active v1. */
  const deployed = async (owner: TestClient) => {
    const w = world();
    const p = await createProject(w, owner);
    await recordPush(w, owner, p.id, nextSha());
    return p.name;
  };
  /** A project of `owner` with v1 and v2 active (so a rollback has a target). */
  const twice = async (owner: TestClient) => {
    const w = world();
    const p = await createProject(w, owner);
    await recordPush(w, owner, p.id, nextSha());
    await recordPush(w, owner, p.id, nextSha());
    return p.name;
  };
  return [
    {
      name: 'list deployments',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/deployments` }),
      expect: ownerOnly(200),
    },
    {
      name: 'get deployment',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/deployments/1` }),
      expect: ownerOnly(200),
    },
    {
      name: 'deployment events',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/deployments/1/events` }),
      expect: ownerOnly(200),
    },
    {
      name: 'rollback',
      method: 'POST',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await twice(o)}/rollback`, body: {} }),
      expect: ownerOnly(201),
    },
    {
      name: 'get formation',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/formation` }),
      expect: ownerOnly(200),
    },
    {
      name: 'set formation',
      method: 'PUT',
      prepare: async (_a, o) => ({
        path: `/api/v1/projects/${await deployed(o)}/formation`,
        body: { formation: { web: 1 } },
      }),
      expect: ownerOnly(200),
    },
    {
      name: 'restart',
      method: 'POST',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/restart`, body: {} }),
      expect: ownerOnly(202),
    },
    {
      name: 'status',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/status` }),
      expect: ownerOnly(200),
    },
    {
      name: 'logs',
      method: 'GET',
      prepare: async (_a, o) => ({ path: `/api/v1/projects/${await deployed(o)}/logs?lines=5` }),
      expect: ownerOnly(200),
    },
  ];
}

describe.each(DIALECTS)('deployment routes × actors on %s', (dialect) => {
  let w: World;
  let actors: Actors;
  beforeAll(async () => {
    w = await startWorld(dialect);
    w.pom.stepMs = 1;
    actors = await makeActors(w.api);
  });
  afterAll(() => stopWorld(w));
  runMatrix(
    deploymentRoutes(() => w),
    () => ({ api: w.api, actors }),
  );
});
