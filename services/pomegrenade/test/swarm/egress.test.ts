// The egress setting on a real swarm: a web task of an egress-off project cannot open a connection
// to the host's non-swarm address (the registry on the test bridge) nor to its node's address,
// while the router's place (a host process) still gets its answer; an egress-on project's task
// still connects. The runtime's iptables run in the manager's network namespace.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@paastech/kit';
import {
  docker as dockerCli,
  SWARM_BASE_CACHE,
  startSwarm,
  swarmUnsupported,
  type TestSwarm,
} from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredDeployment } from '../../src/domain/ports.js';
import { DockerClient } from '../../src/runtime/swarm/docker.js';
import {
  bridgeAddresses,
  EGRESS_CHAIN,
  egressJumps,
  egressRule,
} from '../../src/runtime/swarm/egress-guard.js';
import { ImageBuilder } from '../../src/runtime/swarm/images.js';
import { serviceSpec } from '../../src/runtime/swarm/services.js';
import { SwarmRuntime } from '../../src/runtime/swarm/swarm-runtime.js';
import { UnconfinedRuntime } from '../../src/runtime/unconfined-runtime.js';
import { answerOf, connectScript, desiredDeployment } from './swarm-support.js';

const unsupported = swarmUnsupported();

/** One web process answering "up", as the rollouts of this test hand it over. */
function desired(over: Partial<DesiredDeployment> = {}): DesiredDeployment {
  return desiredDeployment({
    deploymentNumber: 1,
    buildNumber: 1,
    processes: { web: 'node server.js' },
    formation: { web: 1 },
    env: {},
    healthPath: '/',
    drainSeconds: 1,
    stopGraceSeconds: 1,
    ...over,
  });
}

describe('egress rules (pure)', () => {
  it('jumps new connections from containers into the chain, locally and forwarded', () => {
    expect(egressJumps().map((j) => j.insert.join(' '))).toEqual([
      `-I INPUT 1 -i docker_gwbridge -m conntrack --ctstate NEW -j ${EGRESS_CHAIN}`,
      `-I DOCKER-USER 1 -i docker_gwbridge -m conntrack --ctstate NEW -j ${EGRESS_CHAIN}`,
    ]);
    expect(egressRule('-A', '172.18.0.3')).toEqual([
      '-A',
      EGRESS_CHAIN,
      '-s',
      '172.18.0.3/32',
      '-j',
      'REJECT',
    ]);
  });

  it.each([
    ['an option', '-j ACCEPT'],
    ['a CIDR', '172.18.0.0/16'],
    ['a name', 'gateway'],
    ['empty', ''],
  ])('refuses %s as a task address', (_name, a) => {
    expect(() => egressRule('-A', a)).toThrow(/invalid task address/);
  });

  it('takes the bridge addresses of the egress-off containers only', () => {
    const containers = {
      aaa: { IPv4Address: '172.18.0.4/16' },
      bbb: { IPv4Address: '172.18.0.3/16' },
      'ingress-sbox': { IPv4Address: '172.18.0.2/16' },
      ccc: { IPv4Address: '-j ACCEPT' },
      ddd: {},
    };
    expect(bridgeAddresses(containers, new Set(['aaa', 'bbb', 'ccc', 'ddd']))).toEqual([
      '172.18.0.3',
      '172.18.0.4',
    ]);
    expect(bridgeAddresses(null, new Set(['aaa']))).toEqual([]);
  });

  it.each([
    [
      'egress off, with an enforcing node: placed there and labelled',
      true,
      'node1',
      ['node.id==node1'],
      'off',
    ],
    ['egress off, no enforcing node (guard off): unchanged', true, undefined, undefined, undefined],
    ['egress on: unchanged', false, 'node1', undefined, undefined],
  ])('%s', (_name, egressDisabled, egressNode, constraints, label) => {
    const spec = serviceSpec(desired({ egressDisabled }), {
      namespace: 'pt',
      processType: 'web',
      image: 'r/p1:v1',
      network: 'n',
      forceUpdate: 0,
      ...(egressNode ? { egressNode } : {}),
    });
    expect(spec.TaskTemplate.Placement?.Constraints).toEqual(constraints);
    expect(spec.TaskTemplate.ContainerSpec.Labels?.['paastech.egress']).toBe(label);
  });
});

describe.skipIf(unsupported !== null)('egress of swarm tasks on a real swarm', () => {
  let swarm: TestSwarm;
  let docker: DockerClient;
  let runtime: SwarmRuntime;
  let tag: string;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-egress-'));

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    const images = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    fs.writeFileSync(
      path.join(scratch, 'server.js'),
      'require("node:http").createServer((q, r) => r.end("up")).listen(+process.env.PORT)\n',
    );
    tag = await images.buildImage({
      artifactDir: scratch,
      project: 'egress',
      number: 1,
      processes: { web: 'node server.js' },
      env: {},
    });
    await images.pushImage(tag);
    const netns = swarm.manager.netns;
    runtime = new SwarmRuntime({
      docker,
      local: new UnconfinedRuntime(),
      images: { ref: () => tag, ensure: async () => {}, list: async () => [], remove: async () => {} },
      namespace: 'eg',
      logger: createLogger('pomegrenade', { level: 'warn', format: 'json' }),
      guard: {
        iptables: (args) =>
          new Promise((resolve) =>
            execFile('ip', ['netns', 'exec', netns, 'iptables', ...args], (err) => resolve(!err)),
          ),
      },
      nodeId: swarm.manager.nodeId,
    });
    await runtime.start();
  }, 15 * 60_000);

  afterAll(async () => {
    runtime?.close();
    await swarm?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  /** From the project's web task: "connected" or the error code of a TCP connect to host:port. */
  async function connectFrom(projectId: string, host: string, port: number): Promise<string> {
    const [task] = (
      await docker.listTasks({ label: [`paastech.project=${projectId}`], 'desired-state': ['running'] })
    ).filter((t) => t.Status.State === 'running');
    const container = task?.Status.ContainerStatus?.ContainerID;
    if (!container) throw new Error(`${projectId}: no running task`);
    const script = connectScript(host, port);
    return (await dockerCli(swarm.manager.socketPath, ['exec', container, 'node', '-e', script])).trim();
  }

  /** connectFrom again until `done` holds of its result (15 s at most: the keeper's interval is 2 s). */
  async function connectUntil(projectId: string, host: string, port: number, done: (r: string) => boolean) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await connectFrom(projectId, host, port).catch((err: Error) => err.message);
      if (done(r) || Date.now() > deadline) return r;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The web task's published address (as the router reaches it). */
  async function published(projectId: string): Promise<string> {
    const [task] = await docker.listTasks({
      label: [`paastech.project=${projectId}`],
      'desired-state': ['running'],
    });
    const port = task?.Status.PortStatus?.Ports?.[0]?.PublishedPort;
    return `http://${swarm.manager.address}:${port}/`;
  }

  it(
    'an egress-off task cannot connect out; the router still reaches it; an egress-on task still connects',
    async () => {
      await runtime.orchestrator.rollOut(desired({ projectId: 'off', egressDisabled: true }));
      await runtime.orchestrator.rollOut(desired({ projectId: 'on', egressDisabled: false }));
      const [regHost, regPort] = swarm.registry.split(':') as [string, string];
      // The keeper catches up within its interval (2 s).
      expect(await connectUntil('off', regHost, Number(regPort), (r) => r !== 'connected')).toBe(
        'ECONNREFUSED',
      );
      expect(await connectFrom('off', swarm.manager.address, 2377)).toBe('ECONNREFUSED');
      expect(await answerOf(await published('off'))).toBe('up');
      expect(await connectFrom('on', regHost, Number(regPort))).toBe('connected');
      expect(await answerOf(await published('on'))).toBe('up');
      const [svc] = await docker.listServices({ label: ['paastech.project=off'] });
      expect(svc?.Spec.TaskTemplate.Placement?.Constraints).toEqual([`node.id==${swarm.manager.nodeId}`]);
    },
    5 * 60_000,
  );

  it(
    'egress turned on at the next deployment: the task connects again and its rule is gone',
    async () => {
      await runtime.orchestrator.rollOut(
        desired({ projectId: 'off', deploymentNumber: 2, egressDisabled: false }),
      );
      const [regHost, regPort] = swarm.registry.split(':') as [string, string];
      expect(await connectUntil('off', regHost, Number(regPort), (r) => r === 'connected')).toBe('connected');
      // The replaced (egress-off) task drains for a moment; its rule goes once it stopped.
      const rules = async () =>
        (
          await new Promise<string>((resolve, reject) =>
            execFile(
              'ip',
              ['netns', 'exec', swarm.manager.netns, 'iptables', '-w', '-S', EGRESS_CHAIN],
              (err, o) => (err ? reject(err) : resolve(o)),
            ),
          )
        )
          .split('\n')
          .filter((l) => l.startsWith(`-A ${EGRESS_CHAIN}`));
      const deadline = Date.now() + 20_000;
      while ((await rules()).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 500));
      expect(await rules()).toEqual([]);
    },
    5 * 60_000,
  );
});
