// PAASTECH_RUNTIME=swarm end to end: the real Pomegrenade (builds in this machine's sandbox, real
// git server) on a throw-away swarm of real dockerds in network namespaces with their own registry
// (packages/testing/src/swarm.ts). Requests go where RoutingService.WatchRoutes says, as the router's.
import type { deploy } from '@paastech/proto';
import { startSwarm, swarmUnsupported, type TestSwarm } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import { fixture } from '../support/git-server.js';
import { type Harness, hitStatus, httpGet, readLogs, startHarness } from '../support/pomegrenade.js';
import { swarmHarnessEnv } from './swarm-support.js';

const unsupported = swarmUnsupported();

/** Waits until `check` passes (it throws until then). */
async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe.skipIf(unsupported !== null)('swarm runtime end to end', () => {
  let swarm: TestSwarm;
  let h: Harness;
  let docker: DockerClient;

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    h = await startHarness(swarmHarnessEnv(swarm));
  }, 15 * 60_000);

  afterAll(async () => {
    await h?.stop();
    await swarm?.stop();
  }, 120_000);

  /** The body the project answers with through its current route. */
  async function answer(projectId: string): Promise<string> {
    const ups = h.routes.upstreams(projectId);
    if (ups.length === 0) throw new Error(`no upstream for ${projectId}`);
    const r = await httpGet(ups[0] as string);
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return r.body;
  }

  function status(projectId: string): Promise<deploy.GetProjectStatusResponse> {
    return h.call('getProjectStatus', { projectId });
  }

  /** The last lines of a project's logs as "source: text". */
  const logsOf = (projectId: string, sources: string[], tail = 200) => readLogs(h, projectId, sources, tail);

  /** Bodies of every upstream of the route, sorted. */
  async function allAnswers(projectId: string): Promise<string[]> {
    const ups = h.routes.upstreams(projectId);
    return (await Promise.all(ups.map(async (u) => (await httpGet(u)).body))).sort();
  }

  it(
    'deploys the hello app as a Swarm service that answers through the route',
    async () => {
      const repo = h.repo('hello');
      const { deployment, lines } = await h.deploy(
        'hello',
        1,
        await repo.commitFixture(fixture('node-hello')),
      );
      expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
      expect(lines.join('\n')).toContain('Rolling out v1 on swarm');
      expect(await eventually(() => answer('hello'))).toBe('hello from v1 (web.1)\n');
      const services = await docker.listServices({ label: ['paastech.project=hello'] });
      expect(services.map((s) => s.Spec.Name)).toEqual(['pt-hello-web']);
      const st = await status('hello');
      expect(st.instances.map((i) => [i.processType, i.index, i.deploymentNumber])).toEqual([['web', 1, 1]]);
    },
    10 * 60_000,
  );

  it('streams the output of instances into the project log with their sources', async () => {
    const logs = await eventually(async () => {
      const l = await logsOf('hello', ['web.1']);
      if (!l.some((x) => x === `web.1: listening on 5000`)) throw new Error(l.join('\n'));
      return l;
    });
    expect(logs.length).toBeGreaterThan(0);
  }, 60_000);

  it(
    'changes config and rolls back: each a new deployment, the rollback with its old config',
    async () => {
      const changed = await h.deploy('hello', 2, '0'.repeat(40), {
        source: { kind: { $case: 'buildOfDeploymentNumber', value: 1 } },
        configVars: { GREETING: 'hola' },
      });
      expect(changed.deployment.failure?.message, changed.lines.join('\n')).toBeUndefined();
      expect(await eventually(() => answer('hello'))).toBe('hola from v2 (web.1)\n');
      await h.call('activateDeployment', {
        projectId: 'hello',
        deploymentNumber: 1,
        activatedByClientId: 'c1',
      });
      await eventually(async () => {
        if (h.routes.table.get('hello')?.deploymentNumber !== 1) throw new Error('not yet v1');
        expect(await answer('hello')).toBe('hello from v1 (web.1)\n');
      });
      // Rollback = the service updated to the earlier image and config.
      const [svc] = await docker.listServices({ label: ['paastech.project=hello'] });
      expect(svc?.Spec.TaskTemplate.ContainerSpec.Env).not.toContain('GREETING=hola');
      expect(svc?.Spec.Labels?.['paastech.deployment']).toBe('1');
    },
    5 * 60_000,
  );

  it(
    'scales 1 → 3 → 1 with replicas; every instance answers',
    async () => {
      await h.call('scaleProject', { projectId: 'hello', formation: { web: 3 } });
      await eventually(async () => {
        expect(await allAnswers('hello')).toEqual([
          'hello from v1 (web.1)\n',
          'hello from v1 (web.2)\n',
          'hello from v1 (web.3)\n',
        ]);
      }, 120_000);
      const [svc] = await docker.listServices({ label: ['paastech.project=hello'] });
      expect(svc?.Spec.Mode?.Replicated?.Replicas).toBe(3);
      await h.call('scaleProject', { projectId: 'hello', formation: { web: 1 } });
      await eventually(async () => {
        expect(h.routes.upstreams('hello')).toHaveLength(1);
        expect((await status('hello')).instances.filter((i) => i.state === 2)).toHaveLength(1);
      }, 60_000);
      expect(await answer('hello')).toBe('hello from v1 (web.1)\n');
    },
    5 * 60_000,
  );

  it.each([
    [
      'wrong-port',
      'web.1 listens on 127.0.0.1:3000, not on the port in $PORT (5000)',
      'listening on http://127.0.0.1:3000',
    ],
    ['crash-on-start', 'web.1 crashed on start: exited with code 3', 'fatal: DATABASE_URL is not set'],
  ])(
    '%s: the push is rejected with the diagnosis; Swarm rolls back; the previous deployment keeps serving',
    async (app, message, line) => {
      const n = app === 'wrong-port' ? 10 : 11;
      const repo = h.repo('hello');
      const { deployment, lines } = await h.deploy('hello', n, await repo.commitFixture(fixture(app)));
      expect(deployment.failure?.message, lines.join('\n')).toContain(message);
      expect(lines).toContain(`web.1: ${line}`);
      expect(await answer('hello')).toBe('hello from v1 (web.1)\n');
      const [svc] = await docker.listServices({ label: ['paastech.project=hello'] });
      await eventually(async () => {
        const s = await docker.inspectService(svc?.ID as string);
        expect(s?.Spec.Labels?.['paastech.deployment']).toBe('1');
      }, 60_000);
    },
    5 * 60_000,
  );

  it(
    'serves every request during 10 redeploys at ~200 req/s',
    async () => {
      const repo = h.repo('zd');
      const first = await h.deploy('zd', 1, await repo.commitFixture(fixture('node-hello')));
      expect(first.deployment.failure?.message, first.lines.join('\n')).toBeUndefined();
      await eventually(() => answer('zd'));
      const results = new Map<string, number>();
      const inFlight = new Set<Promise<void>>();
      let turn = 0;
      const timer = setInterval(() => {
        const ups = h.routes.upstreams('zd');
        if (ups.length === 0) {
          results.set('no upstream', (results.get('no upstream') ?? 0) + 1);
          return;
        }
        const p = hitStatus(ups[turn++ % ups.length] as string).then((r) => {
          results.set(r, (results.get(r) ?? 0) + 1);
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }, 5);
      try {
        for (let n = 2; n <= 11; n++) {
          const commit = await repo.commitFixture(fixture('node-hello'), { VERSION: `${n}\n` });
          const { deployment, lines } = await h.deploy('zd', n, commit);
          expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
        }
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        clearInterval(timer);
        await Promise.all(inFlight);
      }
      const ok = results.get('200') ?? 0;
      expect(Object.fromEntries(results)).toEqual({ '200': ok });
      expect(ok).toBeGreaterThan(1000);
      expect(await answer('zd')).toBe('hello from v11 (web.1)\n');
    },
    15 * 60_000,
  );

  it(
    'keeps serving while paastechd restarts, and re-attaches to the services',
    async () => {
      const before = h.routes.upstreams('hello');
      const running = async () =>
        (await docker.listTasks({ label: ['paastech.project=hello'], 'desired-state': ['running'] }))
          .map((t) => t.ID)
          .sort();
      const tasksBefore = await running();
      await h.restart();
      // Swarm kept the tasks: the same upstream answers, nothing was redeployed.
      await eventually(async () => {
        expect(h.routes.upstreams('hello')).toEqual(before);
      });
      expect(await answer('hello')).toBe('hello from v1 (web.1)\n');
      // Nothing was replaced: the same tasks run (re-attaching rolled nothing out).
      await new Promise((r) => setTimeout(r, 2000));
      expect(await running()).toEqual(tasksBefore);
      const logs = await logsOf('hello', ['platform'], 50);
      expect(logs).toContain('platform: re-attached to v1 (its instances kept running)');
      // Watching again: a new instance's output reaches the log.
      await h.call('scaleProject', { projectId: 'hello', formation: { web: 2 } });
      await eventually(async () => {
        const l = await logsOf('hello', ['web.2'], 20);
        expect(l).toContain('web.2: listening on 5000');
      }, 60_000);
      await h.call('scaleProject', { projectId: 'hello', formation: { web: 1 } });
    },
    5 * 60_000,
  );

  it(
    'spreads 2 replicas over a second node; stopping its dockerd reschedules them on the manager, still answering',
    async () => {
      const worker = await swarm.addWorkerNode();
      const repo = h.repo('spread');
      const { deployment, lines } = await h.deploy(
        'spread',
        1,
        await repo.commitFixture(fixture('node-hello')),
        {
          formation: { web: 2 },
        },
      );
      expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
      const nodesOf = async () =>
        (await docker.listTasks({ label: ['paastech.project=spread'], 'desired-state': ['running'] }))
          .filter((t) => t.Status.State === 'running')
          .map((t) => t.NodeID)
          .sort();
      const spread = await nodesOf();
      expect(spread).toHaveLength(2);
      expect(new Set(spread).size).toBe(2);
      expect(spread).toContain(worker.nodeId);
      await eventually(async () => {
        const ups = h.routes.upstreams('spread');
        expect(ups.some((u) => u.startsWith(`${worker.address}:`))).toBe(true);
        expect(ups.some((u) => u.startsWith(`${swarm.manager.address}:`))).toBe(true);
        expect(await Promise.all(ups.map(async (u) => (await httpGet(u)).status))).toEqual([200, 200]);
      });
      await worker.stopDaemon();
      await eventually(async () => {
        const now = await nodesOf();
        expect(now).toEqual([swarm.manager.nodeId, swarm.manager.nodeId]);
        const ups = h.routes.upstreams('spread');
        expect(ups).toHaveLength(2);
        expect(ups.every((u) => u.startsWith(`${swarm.manager.address}:`))).toBe(true);
      }, 180_000);
      expect(await answer('spread')).toMatch(/^hello from v1 \(web\.[12]\)\n$/);
    },
    10 * 60_000,
  );
});
