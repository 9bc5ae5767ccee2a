// The test harness's second node (a dockerd in a namespace of its own, joined as a worker) and the
// client's swarm calls: a service pulled from the swarm's registry spreads over both nodes and
// answers on each; stopping the worker's dockerd moves its task to the manager.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  SWARM_BASE_CACHE,
  type SwarmNode,
  startSwarm,
  swarmUnsupported,
  type TestSwarm,
} from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import { ImageBuilder } from '../../src/runtime/swarm/images.js';
import { answerOf, waitForTasks } from './swarm-support.js';

const unsupported = swarmUnsupported();

describe.skipIf(unsupported !== null)('a swarm with a worker node', () => {
  let swarm: TestSwarm;
  let worker: SwarmNode;
  let docker: DockerClient;
  let tag: string;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-wrk-'));

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    worker = await swarm.addWorkerNode();
    const images = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    fs.writeFileSync(
      path.join(scratch, 'server.js'),
      'require("node:http").createServer((q, r) => r.end(require("node:os").hostname())).listen(+process.env.PORT)\n',
    );
    tag = await images.buildImage({
      artifactDir: scratch,
      project: 'spread',
      number: 1,
      processes: { web: 'node server.js' },
      env: {},
    });
    await images.pushImage(tag);
  }, 15 * 60_000);

  afterAll(async () => {
    await swarm?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it('joins the worker: two ready nodes, one manager', async () => {
    const nodes = await docker.listNodes();
    expect(nodes.map((n) => [n.ID, n.Spec.Role, n.Status.State, n.Status.Addr]).sort()).toEqual(
      [
        [swarm.manager.nodeId, 'manager', 'ready', swarm.manager.address],
        [worker.nodeId, 'worker', 'ready', worker.address],
      ].sort(),
    );
    const sw = await docker.inspectSwarm();
    expect(sw?.JoinTokens.Worker).toMatch(/^SWMTKN-/);
    // A worker is no manager: it cannot answer for the swarm.
    expect(await new DockerClient(worker.socketPath).inspectSwarm()).toBeNull();
  });

  it('spreads two replicas over both nodes, each answering; a stopped worker moves its task to the manager', async () => {
    const id = await docker.createService({
      Name: 'spread-web',
      TaskTemplate: {
        ContainerSpec: { Image: tag, Args: ['web'], Env: ['PORT=8080'] },
        RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
      },
      Mode: { Replicated: { Replicas: 2 } },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }] },
    });
    const tasks = await waitForTasks(docker, id, 2, 120_000);
    expect(tasks.map((t) => t.NodeID).sort()).toEqual([swarm.manager.nodeId, worker.nodeId].sort());
    const address = (nodeId: string | undefined) =>
      nodeId === worker.nodeId ? worker.address : swarm.manager.address;
    const hosts = new Set<string>();
    for (const t of tasks) {
      hosts.add(
        await answerOf(`http://${address(t.NodeID)}:${t.Status.PortStatus?.Ports?.[0]?.PublishedPort}/`),
      );
    }
    expect(hosts.size).toBe(2);

    await worker.stopDaemon();
    await expect
      .poll(
        async () => {
          const running = await waitForTasks(docker, id, 2, 5_000).catch(() => []);
          return running.map((t) => t.NodeID);
        },
        { timeout: 120_000, interval: 1000 },
      )
      .toEqual([swarm.manager.nodeId, swarm.manager.nodeId]);
    for (const t of await waitForTasks(docker, id, 2)) {
      expect(
        await answerOf(`http://${swarm.manager.address}:${t.Status.PortStatus?.Ports?.[0]?.PublishedPort}/`),
      ).toMatch(/\S/);
    }
  }, 300_000);
});
