// Restart recovery with the real daemon: `paastechd pomegrenade` is killed with SIGKILL at rest and
// mid-build; nothing of it keeps running, and after a restart every active app answers again while
// the interrupted deployment is failed "interrupted by a platform restart".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { internalMetadata } from '@paastech/kit';
import { deploy, routing } from '@paastech/proto';
import { type RunningDaemon, startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startGitServer, type TestGitServer, TestRepo } from './support/git-server.js';
import { httpGet, RouteFollower, watch } from './support/pomegrenade.js';

const SECRET = 'test-internal-secret-0123456789';
const UID_BASE = 240_000;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prc-'));
const reposDir = path.join(dataDir, 'test-repos');
const gitAddress = `unix:${path.join(dataDir, 'git.sock')}`;
const address = `unix:${path.join(dataDir, 'run', 'pomegrenade.sock')}`;
let gitServer: TestGitServer;
let daemon: RunningDaemon | undefined;

/** Starts `paastechd pomegrenade` on the shared data dir. */
async function startDaemon(): Promise<RunningDaemon> {
  return startPaastechd({
    role: 'pomegrenade',
    dataDir,
    env: {
      PAASTECH_INTERNAL_SECRET: SECRET,
      PAASTECH_GIT_GRPC_ADDRESS: gitAddress,
      PAASTECH_APP_UID_BASE: String(UID_BASE),
      PAASTECH_DRAIN_SECONDS: '0',
      PAASTECH_HEALTH_TIMEOUT_SECONDS: '30',
    },
  });
}

/** Calls a unary DeploymentService method. */
function call<Res>(client: deploy.DeploymentServiceClient, method: string, req: unknown): Promise<Res> {
  const fn = (
    client as unknown as Record<
      string,
      (r: unknown, md: grpc.Metadata, cb: (e: Error | null, r: Res) => void) => void
    >
  )[method];
  return new Promise((resolve, reject) =>
    fn?.call(client, req, internalMetadata(SECRET), (e, r) => (e ? reject(e) : resolve(r))),
  );
}

/** A CreateDeploymentRequest from git. */
function request(projectId: string, number: number, commitSha: string): deploy.CreateDeploymentRequest {
  return {
    projectId,
    projectName: projectId,
    deploymentNumber: number,
    commitSha,
    source: { kind: { $case: 'git', value: { refName: 'refs/heads/main' } } },
    configVars: {},
    formation: {},
    domains: [`${projectId}.localhost`],
    httpsRedirect: false,
    createdByClientId: 'c1',
  };
}

/** Pids of processes running as one of the test's app uids. */
function appPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uid >= UID_BASE && uid < UID_BASE + 10 && !/^State:\s+Z/m.test(status)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Polls until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  fs.mkdirSync(reposDir);
  gitServer = await startGitServer(gitAddress, SECRET, reposDir);
});

afterAll(async () => {
  // A clean stop: it unmounts the projects' disks, so the data dir can be removed.
  await daemon?.stop();
  await gitServer?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('restart recovery', () => {
  it('after kill -9 at rest and mid-build, brings active apps back and fails the interrupted build', async () => {
    daemon = await startDaemon();
    let client = new deploy.DeploymentServiceClient(address, grpc.credentials.createInsecure());
    const a = new TestRepo(reposDir, 'alpha');
    await call(client, 'createDeployment', request('alpha', 1, await a.commitFixture(fixture('node-hello'))));
    await watch(client, 'alpha', 1);
    const w = new TestRepo(reposDir, 'beta');
    await call(client, 'createDeployment', {
      ...request('beta', 1, await w.commitFixture(fixture('procfile-web-worker'))),
      formation: { web: 1, worker: 1 },
    });
    await watch(client, 'beta', 1);
    let routes = new RouteFollower(
      new routing.RoutingServiceClient(address, grpc.credentials.createInsecure()),
    );
    routes.start();
    await until(
      () => routes.upstreams('alpha').length === 1 && routes.upstreams('beta').length === 1,
      'routes',
    );
    const before = routes.upstreams('alpha')[0] as string;
    expect((await httpGet(before)).body).toBe('hello from v1 (web.1)\n');
    const pidsBefore = appPids();
    expect(pidsBefore.length).toBeGreaterThanOrEqual(3);

    // A slow build, then SIGKILL of the daemon while it runs.
    const slow = await a.commitFixture(fixture('node-hello'), {
      'package.json': JSON.stringify({
        name: 'slow',
        scripts: { build: 'sleep 60', start: 'node server.js' },
      }),
    });
    await call(client, 'createDeployment', request('alpha', 2, slow));
    await until(async () => {
      const r = await call<deploy.GetDeploymentResponse>(client, 'getDeployment', {
        projectId: 'alpha',
        deploymentNumber: 2,
      });
      return (
        r.deployment?.state === deploy.DeploymentState.DEPLOYMENT_STATE_BUILDING &&
        appPids().length > pidsBefore.length
      );
    }, 'v2 building');
    routes.close();
    client.close();
    await daemon.stop('SIGKILL');

    // Nothing of the killed daemon keeps running: instances and the build died with it.
    await until(() => appPids().length === 0, 'no app process left');

    daemon = await startDaemon();
    client = new deploy.DeploymentServiceClient(address, grpc.credentials.createInsecure());
    routes = new RouteFollower(new routing.RoutingServiceClient(address, grpc.credentials.createInsecure()));
    routes.start();
    await until(
      () => routes.upstreams('alpha').length === 1 && routes.upstreams('beta').length === 1,
      'routes after restart',
    );
    expect((await httpGet(routes.upstreams('alpha')[0] as string)).body).toBe('hello from v1 (web.1)\n');
    expect((await httpGet(routes.upstreams('beta')[0] as string)).body).toBe('web is up\n');
    const v2 = await call<deploy.GetDeploymentResponse>(client, 'getDeployment', {
      projectId: 'alpha',
      deploymentNumber: 2,
    });
    expect(v2.deployment?.state).toBe(deploy.DeploymentState.DEPLOYMENT_STATE_FAILED);
    expect(v2.deployment?.failure?.message).toBe('interrupted by a platform restart');
    const v1 = await call<deploy.GetDeploymentResponse>(client, 'getDeployment', {
      projectId: 'alpha',
      deploymentNumber: 1,
    });
    expect(v1.deployment?.state).toBe(deploy.DeploymentState.DEPLOYMENT_STATE_ACTIVE);
    for (const pid of pidsBefore) expect(appPids()).not.toContain(pid);
    expect(fs.readdirSync(path.join(dataDir, 'pomegrenade/projects/alpha/builds'))).toEqual(['v1']);
    // Status shows the worker back too, and old log lines are still there.
    const status = await call<deploy.GetProjectStatusResponse>(client, 'getProjectStatus', {
      projectId: 'beta',
    });
    expect(status.instances.map((i) => `${i.processType}.${i.index}`)).toEqual(['web.1', 'worker.1']);
    routes.close();
    client.close();
  }, 120_000);
});
