// Day-2 operations through gRPC on real sandboxed instances: crash restart, scale, restart without
// downtime, rollback with its config, stop/start, logs, delete without leftovers.
import fs from 'node:fs';
import { internalMetadata } from '@paastech/kit';
import type { deploy } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidOf } from '../src/runtime/local-runtime.js';
import { fixture } from './support/git-server.js';
import { type Harness, httpGet, readLogs, startHarness } from './support/pomegrenade.js';

let h: Harness;
const UID_BASE = 250_000;

beforeAll(async () => {
  h = await startHarness({ PAASTECH_APP_UID_BASE: String(UID_BASE), PAASTECH_DRAIN_SECONDS: '0' });
});

afterAll(async () => {
  await h?.stop();
});

/** Polls until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids running as `uid`, zombies excluded. */
function pidsOf(uid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        return uidOf(pid) === uid && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    });
}

/** Reads logs (no follow) as "source: text". */
const logs = (projectId: string, sources: string[], tail: number) => readLogs(h, projectId, sources, tail);

const status = (projectId: string) =>
  h.call<deploy.GetProjectStatusRequest, deploy.GetProjectStatusResponse>('getProjectStatus', { projectId });

describe('operations', () => {
  it('restarts a crashed instance and reports it in status and logs', async () => {
    const commit = await h.repo('ops').commitFixture(fixture('node-hello'));
    const { deployment } = await h.deploy('ops', 1, commit, { configVars: { GREETING: 'first' } });
    expect(deployment.failure?.message).toBeUndefined();
    const [app] = pidsOf(UID_BASE).filter((pid) =>
      fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server.js'),
    );
    expect(app).toBeDefined();
    process.kill(app as number, 'SIGKILL');
    await until(
      () => h.routes.table.get('ops')?.unavailableMessage === 'web.1 was killed by SIGKILL',
      'route reports the crash',
    );
    await until(() => h.routes.upstreams('ops').length === 1, 'web.1 back after backoff');
    expect((await httpGet(h.routes.upstreams('ops')[0] as string)).body).toBe('first from v1 (web.1)\n');
    const s = await status('ops');
    expect(s.instances[0]?.restartCount).toBe(1);
    expect(s.instances[0]?.state).toBe(2); // RUNNING
    expect(s.instances[0]?.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(s.instances[0]?.memoryLimitBytes).toBe(512 * 1024 * 1024);
    expect(s.diskUsedBytes).toBeGreaterThan(0);
    expect(s.activeDeployment?.number).toBe(1);
    expect(s.formation).toEqual({ web: 1 });
    expect(await logs('ops', ['platform'], 100)).toContain(
      'platform: web.1 was killed by SIGKILL; restarting in 1s',
    );
  });

  it('scales web up and down; every instance answers', async () => {
    const res = await h.call<deploy.ScaleProjectRequest, deploy.ScaleProjectResponse>('scaleProject', {
      projectId: 'ops',
      formation: { web: 3 },
    });
    expect(res.formation).toEqual({ web: 3 });
    await until(() => h.routes.upstreams('ops').length === 3, '3 upstreams');
    const bodies = await Promise.all(h.routes.upstreams('ops').map(async (u) => (await httpGet(u)).body));
    expect(bodies.sort()).toEqual([
      'first from v1 (web.1)\n',
      'first from v1 (web.2)\n',
      'first from v1 (web.3)\n',
    ]);
    await h.call('scaleProject', { projectId: 'ops', formation: { web: 1 } });
    await until(() => h.routes.upstreams('ops').length === 1, 'back to 1');
    await until(async () => (await status('ops')).instances.length === 1, 'extra instances stopped');
    await expect(h.call('scaleProject', { projectId: 'ops', formation: { cron: 1 } })).rejects.toThrow(
      'process type "cron": the active deployment does not declare it',
    );
  });

  it('rolls back to v1 with the config it ran with', async () => {
    const commit = await h.repo('ops').commit('v2');
    const second = await h.deploy('ops', 2, commit, { configVars: { GREETING: 'second' } });
    expect(second.deployment.failure?.message).toBeUndefined();
    expect((await httpGet(h.routes.upstreams('ops')[0] as string)).body).toBe('second from v2 (web.1)\n');
    await h.call('activateDeployment', { projectId: 'ops', deploymentNumber: 1, activatedByClientId: 'c1' });
    await until(() => h.routes.table.get('ops')?.deploymentNumber === 1, 'v1 routed again');
    expect((await httpGet(h.routes.upstreams('ops')[0] as string)).body).toBe('first from v1 (web.1)\n');
    const list = await h.call<deploy.ListDeploymentsRequest, deploy.ListDeploymentsResponse>(
      'listDeployments',
      { projectId: 'ops', limit: 0 },
    );
    expect(list.deployments.map((d) => [d.number, d.state, d.buildRetained])).toEqual([
      [2, 6, true],
      [1, 4, true],
    ]);
  });

  it('restarts without downtime: new instance healthy before the old one leaves', async () => {
    const before = h.routes.upstreams('ops');
    await h.call('restartProject', { projectId: 'ops', processType: '', instanceIndex: 0 });
    await until(
      () => h.routes.upstreams('ops').length === 1 && h.routes.upstreams('ops')[0] !== before[0],
      'replaced',
    );
    expect((await httpGet(h.routes.upstreams('ops')[0] as string)).body).toBe('first from v1 (web.1)\n');
  });

  it('stops and starts a project', async () => {
    await h.call('stopProject', { projectId: 'ops' });
    await until(() => h.routes.table.get('ops')?.unavailableReason === 7, 'route says stopped');
    await until(() => pidsOf(UID_BASE).length === 0, 'no process left');
    await h.call('startProject', { projectId: 'ops' });
    await until(() => h.routes.upstreams('ops').length === 1, 'started');
    expect((await httpGet(h.routes.upstreams('ops')[0] as string)).body).toBe('first from v1 (web.1)\n');
  });

  it('streams logs with source filter, tail and follow', async () => {
    const tail = await logs('ops', ['build'], 3);
    expect(tail).toHaveLength(3);
    expect(tail.every((l) => l.startsWith('build: '))).toBe(true);
    const followed: string[] = [];
    const call = h.client.streamLogs(
      { projectId: 'ops', follow: true, sources: ['web'], tailLines: 0 },
      internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string),
    );
    call.on('data', (m: deploy.StreamLogsResponse) =>
      followed.push(...m.lines.map((l) => `${l.source}: ${l.text}`)),
    );
    call.on('error', () => {});
    await new Promise((r) => setTimeout(r, 200));
    await h.call('restartProject', { projectId: 'ops', processType: 'web', instanceIndex: 1 });
    await until(() => followed.some((l) => /^web\.1: listening on \d+$/.test(l)), 'followed line');
    call.cancel();
  });

  it('deletes a project: no process, cgroup, build or log left', async () => {
    const res = await h.call<deploy.DeleteProjectRequest, deploy.DeleteProjectResponse>('deleteProject', {
      projectId: 'ops',
    });
    expect(res.freedBytes).toBeGreaterThan(0);
    expect(pidsOf(UID_BASE)).toEqual([]);
    expect(fs.existsSync(`${h.dataDir}/pomegrenade/projects/ops`)).toBe(false);
    const groups = fs
      .readdirSync('/sys/fs/cgroup/memory')
      .filter((n) => n.startsWith('paastech-'))
      .flatMap((n) => {
        const dir = `/sys/fs/cgroup/memory/${n}/ops`;
        return fs.existsSync(dir) ? [dir] : [];
      });
    expect(groups).toEqual([]);
    expect(h.routes.table.has('ops')).toBe(false);
    const s = await status('ops');
    expect(s.instances).toEqual([]);
  });
});

describe('gRPC contract', () => {
  it.each([
    [
      'getDeployment',
      { projectId: 'nope', deploymentNumber: 1 },
      5,
      'project "nope" has no deployments here',
    ],
    [
      'cancelDeployment',
      { projectId: 'nope', deploymentNumber: 1 },
      5,
      'project "nope" has no deployments here',
    ],
    [
      'createDeployment',
      {
        projectId: 'x',
        projectName: 'Bad Name',
        deploymentNumber: 1,
        commitSha: 'a'.repeat(40),
        source: { kind: { $case: 'git', value: { refName: 'main' } } },
        configVars: {},
        formation: {},
        domains: [],
        httpsRedirect: false,
        createdByClientId: '',
      },
      3,
      'project "Bad Name": name must be a DNS label (a-z, 0-9, -)',
    ],
    [
      'createDeployment',
      {
        projectId: 'x',
        projectName: 'x',
        deploymentNumber: 1,
        commitSha: 'a'.repeat(40),
        configVars: {},
        formation: {},
        domains: [],
        httpsRedirect: false,
        createdByClientId: '',
      },
      3,
      'source must be set (git or build_of_deployment_number)',
    ],
    [
      'updateProjectRouting',
      { projectId: '../../etc', projectName: 'x', domains: [], httpsRedirect: false },
      3,
      'project id "../../etc" must be',
    ],
  ])('%s with bad input answers the right status', async (method, req, code, message) => {
    const err = (await h.call(method, req).catch((e: unknown) => e)) as { code: number; details: string };
    expect(err.code).toBe(code);
    expect(err.details).toContain(message);
  });

  it('WatchDeployment of an unknown deployment ends with NOT_FOUND (a status, not a hang)', async () => {
    const err = await new Promise<{ code: number; details: string }>((resolve, reject) => {
      const call = h.client.watchDeployment(
        { projectId: 'nobody', deploymentNumber: 7 },
        internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string),
      );
      const timer = setTimeout(() => reject(new Error('no status within 5 s')), 5000);
      call.on('data', () => {});
      call.on('error', (e: { code: number; details: string }) => {
        clearTimeout(timer);
        resolve(e);
      });
      call.on('end', () => {
        clearTimeout(timer);
        reject(new Error('stream ended without an error'));
      });
    });
    expect(err.code).toBe(5);
  });

  it('UpdateProjectRouting publishes a "not deployed" route; status of an unknown project is empty', async () => {
    await h.call('updateProjectRouting', {
      projectId: 'fresh',
      projectName: 'fresh',
      domains: ['fresh.localhost', 'WWW.Example.COM'],
      httpsRedirect: true,
    });
    await until(() => h.routes.table.has('fresh'), 'route');
    const r = h.routes.table.get('fresh');
    expect(r?.hostnames).toEqual(['fresh.localhost', 'www.example.com']);
    expect(r?.unavailableReason).toBe(1); // NOT_DEPLOYED
    expect(r?.httpsRedirect).toBe(true);
    const s = await status('never-heard-of');
    expect(s).toEqual({ formation: {}, instances: [], stopped: false, diskUsedBytes: 0 });
  });

  it('WatchDeployment of an ended deployment replays it and ends; deploying from an earlier build skips the build', async () => {
    const repo = h.repo('replay');
    const commit = await repo.commitFixture(fixture('node-hello'));
    await h.deploy('replay', 1, commit);
    const again = await h.deploy('replay', 2, commit, {
      source: { kind: { $case: 'buildOfDeploymentNumber', value: 1 } },
      configVars: { GREETING: 'config-change' },
    });
    expect(again.deployment.failure?.message).toBeUndefined();
    expect(again.lines).toContain('-----> Reusing the build of v1');
    expect(again.lines.some((l) => l.startsWith('-----> Fetching source'))).toBe(false);
    expect((await httpGet(h.routes.upstreams('replay')[0] as string)).body).toBe(
      'config-change from v2 (web.1)\n',
    );
    const { watch } = await import('./support/pomegrenade.js');
    const replayed = await watch(h.client, 'replay', 1);
    expect(replayed[0]).toBe('[state 1]');
    expect(replayed.at(-1)).toBe('[state 6]');
  });
});
