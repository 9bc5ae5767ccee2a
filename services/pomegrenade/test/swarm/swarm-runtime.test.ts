// PAASTECH_RUNTIME=swarm end to end: the real Pomegrenade (builds in this machine's sandbox, real
// git server) on a throw-away swarm of real dockerds in network namespaces with their own registry
// (packages/testing/src/swarm.ts). Requests go where RoutingService.WatchRoutes says, as the router's.

import type { deploy } from '@paastech/proto';
import { SWARM_BASE_CACHE, startSwarm, swarmUnsupported, type TestSwarm } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import { fixture } from '../support/git-server.js';
import { type Harness, httpGet, startHarness } from '../support/pomegrenade.js';

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
    h = await startHarness({
      PAASTECH_RUNTIME: 'swarm',
      PAASTECH_DOCKER_SOCKET: swarm.manager.socketPath,
      PAASTECH_REGISTRY: swarm.registry,
      PAASTECH_SWARM_BASE_CACHE: SWARM_BASE_CACHE,
      PAASTECH_HEALTH_TIMEOUT_SECONDS: '15',
      PAASTECH_DRAIN_SECONDS: '2',
      PAASTECH_STOP_GRACE_SECONDS: '2',
    });
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
});
