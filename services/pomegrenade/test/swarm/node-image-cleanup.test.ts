// Pruned deployment images leave every node, workers included (node-image-cleanup.ts): on a real
// two-node swarm, an image that ran on the worker is gone from the worker, the manager and the
// registry after a prune, the kept ones stay, and the global job that did it is removed; deleting
// the project clears the nodes too. The job only accepts the platform's own tags.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, run } from '@paastech/kit';
import {
  docker as dockerCli,
  SWARM_BASE_CACHE,
  type SwarmNode,
  startSwarm,
  swarmUnsupported,
  type TestSwarm,
} from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import { ImageBuilder, registryTags } from '../../src/runtime/swarm/images.js';
import { nodeCleanupTags } from '../../src/runtime/swarm/node-image-cleanup.js';
import { registryImages, SwarmRuntime } from '../../src/runtime/swarm/swarm-runtime.js';
import { UnconfinedRuntime } from '../../src/runtime/unconfined-runtime.js';
import { desiredDeployment } from './swarm-support.js';

const unsupported = swarmUnsupported();
const REGISTRY = '10.0.0.1:5000';

describe('nodeCleanupTags', () => {
  it('accepts deployment images of the platform registry', () => {
    const tags = [`${REGISTRY}/shop:v1`, `${REGISTRY}/my-app-0a1b2c3d:v42`, `${REGISTRY}/a.b__c:v9999999999`];
    expect(nodeCleanupTags(REGISTRY, tags)).toEqual(tags);
  });

  it.each([
    ['another registry', 'evil.example:5000/shop:v1'],
    ['a registry that only starts alike', '10.0.0.1:50000/shop:v1'],
    ['a dot standing for any character', '10x0.0.1:5000/shop:v1'],
    ['no registry', 'shop:v1'],
    ['the base image', `${REGISTRY}/paastech/base:0123456789abcdef`],
    ['a tag that is not a deployment', `${REGISTRY}/shop:latest`],
    ['deployment 0', `${REGISTRY}/shop:v0`],
    ['a digest', `${REGISTRY}/shop@sha256:${'a'.repeat(64)}`],
    ['a path in the repository', `${REGISTRY}/../../containers/json:v1`],
    ['a query', `${REGISTRY}/shop:v1?force=0`],
    ['an option', '--help'],
    ['a newline', `${REGISTRY}/shop:v1\n${REGISTRY}/other:v1`],
    ['a space', `${REGISTRY}/shop:v1 x`],
    ['upper case', `${REGISTRY}/Shop:v1`],
    ['empty', ''],
    ['not a string', 7 as unknown as string],
  ])('refuses %s', (_name, tag) => {
    expect(() => nodeCleanupTags(REGISTRY, [`${REGISTRY}/ok:v1`, tag])).toThrow(
      /^image cleanup: ".*" is not a deployment image of 10\.0\.0\.1:5000$/s,
    );
  });

  it.each(['', '0.0.0.0:5000/x', 'a b', 'host:5000\n'])('refuses registry %j', (registry) => {
    expect(() => nodeCleanupTags(registry, [])).toThrow(/must be host\[:port\]/);
  });
});

describe.skipIf(unsupported !== null)('deleting pruned images on every node of a real swarm', () => {
  let swarm: TestSwarm;
  let worker: SwarmNode;
  let docker: DockerClient;
  let runtime: SwarmRuntime;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-prune-'));
  /** What the runtime logged (JSON lines). */
  const logged: { msg: string; node?: string; state?: string }[] = [];

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    worker = await swarm.addWorkerNode();
    // Real nodes all listen at one socket path; the harness's each have their own. Inside the
    // worker daemon's (private) mount namespace, its socket is mounted over the manager's path.
    const pid = fs.readFileSync(path.join(path.dirname(worker.socketPath), 'dockerd.pid'), 'utf8').trim();
    await run('nsenter', [
      `--mount=/proc/${pid}/ns/mnt`,
      'mount',
      '--bind',
      worker.socketPath,
      swarm.manager.socketPath,
    ]);
    fs.writeFileSync(
      path.join(scratch, 'server.js'),
      'require("node:http").createServer((q, r) => r.end("up")).listen(+process.env.PORT)\n',
    );
    const builder = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    runtime = new SwarmRuntime({
      docker,
      local: new UnconfinedRuntime(),
      images: registryImages(builder, swarm.registry),
      namespace: 'nc',
      logger: createLogger('pomegrenade', {
        level: 'warn',
        format: 'json',
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            for (const l of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(l));
            done();
          },
        }),
      }),
      registry: swarm.registry,
    });
  }, 15 * 60_000);

  afterAll(async () => {
    runtime?.close();
    await swarm?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  /** The `repository:tag` names a node's daemon lists. */
  async function imagesOn(node: SwarmNode): Promise<string[]> {
    const out = await dockerCli(node.socketPath, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
    return out.split('\n').filter(Boolean);
  }

  /** Builds, pushes and rolls out build `n` of project "prune" with two web instances. */
  async function deploy(n: number): Promise<void> {
    const d = desiredDeployment({
      projectId: 'prune',
      deploymentNumber: n,
      buildNumber: n,
      appDir: scratch,
      processes: { web: 'node server.js' },
      formation: { web: 2 },
      drainSeconds: 1,
      stopGraceSeconds: 1,
    });
    await runtime.orchestrator.prepare(d, new AbortController().signal, () => {});
    await runtime.orchestrator.rollOut(d);
  }

  const cleanupServices = () => docker.listServices({ label: ['paastech.role=image-cleanup'] });

  it(
    'a pruned image that ran on the worker leaves the worker, the manager and the registry; kept ones stay',
    async () => {
      for (const n of [1, 2, 3]) await deploy(n);
      const v = (n: number) => `${swarm.registry}/prune:v${n}`;
      // The precondition: build 1 ran on both nodes (two instances spread over two nodes).
      expect(await imagesOn(worker)).toContain(v(1));
      expect(await imagesOn(swarm.manager)).toContain(v(1));

      await runtime.orchestrator.pruneImages('prune', [3]);
      await runtime.imageCleanupIdle();

      // Build 2 is the services' previous spec (their rollback): kept with build 3.
      expect((await registryTags(swarm.registry, 'prune')).sort()).toEqual(['v2', 'v3']);
      const onWorker = await imagesOn(worker);
      const onManager = await imagesOn(swarm.manager);
      expect(onWorker).not.toContain(v(1));
      expect(onManager).not.toContain(v(1));
      expect(onWorker).toEqual(expect.arrayContaining([v(2), v(3)]));
      expect(onManager).toEqual(expect.arrayContaining([v(2), v(3)]));
      expect(await cleanupServices()).toEqual([]);
      expect(logged).toEqual([]);
    },
    10 * 60_000,
  );

  it(
    'deleting the project deletes its images on every node',
    async () => {
      await runtime.forgetProject('prune');
      await runtime.imageCleanupIdle();
      expect(await registryTags(swarm.registry, 'prune')).toEqual([]);
      const mine = (tags: string[]) => tags.filter((t) => t.startsWith(`${swarm.registry}/prune:`));
      expect(mine(await imagesOn(worker))).toEqual([]);
      expect(mine(await imagesOn(swarm.manager))).toEqual([]);
      expect(await cleanupServices()).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    'a node down at that moment keeps its copy: the warning names it, the prune still resolves',
    async () => {
      await worker.stopDaemon();
      const deadline = Date.now() + 180_000;
      while ((await docker.listNodes()).find((n) => n.ID === worker.nodeId)?.Status.State !== 'down') {
        if (Date.now() > deadline) throw new Error('the worker never went down');
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const n of [4, 5, 6]) await deploy(n);
      await runtime.orchestrator.pruneImages('prune', [6]);
      await runtime.imageCleanupIdle();
      expect((await registryTags(swarm.registry, 'prune')).sort()).toEqual(['v5', 'v6']);
      expect(await imagesOn(swarm.manager)).not.toContain(`${swarm.registry}/prune:v4`);
      const warned = logged.filter((l) => l.msg.startsWith('could not delete old images on node'));
      expect(warned).toHaveLength(1);
      expect(warned[0]?.msg).toContain(`(${worker.nodeId}): its copy stays until the project's next prune`);
      expect(warned[0]?.state).toMatch(/^no task \(node down, active\)$/);
      expect(await cleanupServices()).toEqual([]);
    },
    10 * 60_000,
  );
});
