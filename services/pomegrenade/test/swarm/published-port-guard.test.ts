// Projects cannot reach each other's published ports (ARCHITECTURE.md §7): on a real two-node swarm,
// a task of project B connects to project A's host-mode published port on the node addresses —
// first without the guard (the gap: it connects), then with the guard installed on each node as
// Pomegrenade / the operator does (published-port-guard.ts): refused from B's tasks on both nodes,
// while a host process (the router's place) still gets A's answer and B keeps its other egress.
// Between the two: the swarm runtime installs it on the manager by itself (iptables pointed at the
// manager's namespace), follows a joining node, installs nothing with PAASTECH_SWARM_PORT_GUARD=off,
// and starts anyway (with a warn line) without iptables.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '@paastech/kit';
import {
  docker as dockerCli,
  SWARM_BASE_CACHE,
  type SwarmNode,
  startSwarm,
  swarmUnsupported,
  type TestSwarm,
} from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient, type Task } from '../../src/runtime/swarm/docker.js';
import { ImageBuilder } from '../../src/runtime/swarm/images.js';
import {
  GUARD_CHAIN,
  guardRules,
  hostIptables,
  type IptablesRunner,
  installGuard,
  nodeAddresses,
} from '../../src/runtime/swarm/published-port-guard.js';
import { connectSwarm } from '../../src/runtime/swarm/swarm-runtime.js';
import { UnconfinedRuntime } from '../../src/runtime/unconfined-runtime.js';
import { answerOf, connectScript, waitForTasks } from './swarm-support.js';

const unsupported = swarmUnsupported();

/** iptables in a node's network namespace (where its dockerd runs). */
function iptablesIn(netns: string) {
  return (args: string[]) =>
    new Promise<boolean>((resolve) => {
      execFile('ip', ['netns', 'exec', netns, 'iptables', ...args], (err) => resolve(!err));
    });
}

describe('guard rules (pure)', () => {
  it('drops container traffic to the published range: locally, DNATed, and to every node', () => {
    const r = guardRules({ nodeAddresses: ['10.0.0.3', '10.0.0.2', '10.0.0.3'], portRange: [32768, 60999] });
    expect(r.chain).toEqual([
      ['-N', GUARD_CHAIN],
      ['-F', GUARD_CHAIN],
      [
        '-A',
        GUARD_CHAIN,
        '-p',
        'tcp',
        '-m',
        'conntrack',
        '--ctstate',
        'DNAT',
        '--ctorigdstport',
        '32768:60999',
        '-j',
        'DROP',
      ],
      ['-A', GUARD_CHAIN, '-p', 'tcp', '-d', '10.0.0.2/32', '--dport', '32768:60999', '-j', 'DROP'],
      ['-A', GUARD_CHAIN, '-p', 'tcp', '-d', '10.0.0.3/32', '--dport', '32768:60999', '-j', 'DROP'],
    ]);
    expect(r.rules.map((x) => x.insert)).toEqual([
      [
        '-I',
        'INPUT',
        '1',
        '-i',
        'docker_gwbridge',
        '-p',
        'tcp',
        '--dport',
        '32768:60999',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      ],
      [
        '-I',
        'DOCKER-USER',
        '1',
        '-i',
        'docker_gwbridge',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        GUARD_CHAIN,
      ],
    ]);
    expect(r.rules.map((x) => x.check[1])).toEqual(['INPUT', 'DOCKER-USER']);
  });

  it.each([
    ['an address that is an option', { nodeAddresses: ['-j ACCEPT'] }, /invalid node address/],
    ['a name', { nodeAddresses: ['node-1'] }, /invalid node address/],
    ['a CIDR', { nodeAddresses: ['10.0.0.0/8'] }, /invalid node address/],
    ['an octet over 255', { nodeAddresses: ['10.0.0.256'] }, /invalid node address/],
    ['a reversed range', { portRange: [60999, 32768] }, /invalid port range/],
    ['port 0', { portRange: [0, 100] }, /invalid port range/],
    ['over 65535', { portRange: [1, 70000] }, /invalid port range/],
    ['a bridge with a space', { bridge: 'docker gw' }, /invalid interface name/],
    ['a bridge that is an option', { bridge: '--jump' }, /invalid interface name/],
  ])('refuses %s', (_name, over, error) => {
    expect(() =>
      guardRules({ nodeAddresses: ['10.0.0.2'], portRange: [32768, 60999], ...over } as Parameters<
        typeof guardRules
      >[0]),
    ).toThrow(error);
  });
});

describe('node addresses (pure)', () => {
  const node = (Addr: string, manager?: string) =>
    ({
      ID: Addr,
      Spec: { Role: manager ? 'manager' : 'worker', Availability: 'active' },
      Description: { Hostname: 'n' },
      Status: { State: 'ready', Addr },
      ...(manager ? { ManagerStatus: { Reachability: 'reachable', Addr: manager } } : {}),
    }) as Parameters<typeof nodeAddresses>[0][number];
  it.each([
    ['sorted and unique', [node('10.0.0.3'), node('10.0.0.2'), node('10.0.0.3')], ['10.0.0.2', '10.0.0.3']],
    ['a manager reporting 0.0.0.0: its advertised address', [node('0.0.0.0', '10.0.0.9:2377')], ['10.0.0.9']],
    ['no address at all: left out', [node('')], []],
  ])('%s', (_name, nodes, want) => {
    expect(nodeAddresses(nodes)).toEqual(want);
  });
});

/** A logger whose JSON lines the test reads (level and message). */
function capturedLogger() {
  const out = new PassThrough();
  const lines: Array<{ level: number; msg: string }> = [];
  let rest = '';
  out.on('data', (c: Buffer) => {
    const parts = (rest + c.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) if (p) lines.push(JSON.parse(p));
  });
  return { logger: createLogger('pomegrenade', { level: 'info', format: 'json', destination: out }), lines };
}

/** `iptables -S` (filter table) in a node's namespace. */
function rulesIn(netns: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', netns, 'iptables', '-w', '-S'], (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
}

describe.skipIf(unsupported !== null)('published ports across projects on a real swarm', () => {
  let swarm: TestSwarm;
  let worker: SwarmNode;
  let docker: DockerClient;
  let tag: string;
  /** Project A's web task: node address and published port. */
  let target: { address: string; port: number };
  /** Project B's probe tasks: one per node. */
  let probes: Array<{ node: SwarmNode; container: string }>;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-ppg-'));

  beforeAll(async () => {
    swarm = await startSwarm();
    docker = new DockerClient(swarm.manager.socketPath);
    worker = await swarm.addWorkerNode();
    const images = new ImageBuilder({ docker, registry: swarm.registry, baseCacheDir: SWARM_BASE_CACHE });
    fs.writeFileSync(
      path.join(scratch, 'server.js'),
      'require("node:http").createServer((q, r) => r.end("project-a")).listen(+process.env.PORT)\n',
    );
    tag = await images.buildImage({
      artifactDir: scratch,
      project: 'guard',
      number: 1,
      processes: { web: 'node server.js', probe: 'exec sleep infinity' },
      env: {},
    });
    await images.pushImage(tag);
    const netA = await docker.createNetwork({
      Name: 'ppg-a',
      Driver: 'overlay',
      Attachable: false,
      Labels: {},
    });
    const netB = await docker.createNetwork({
      Name: 'ppg-b',
      Driver: 'overlay',
      Attachable: false,
      Labels: {},
    });
    const a = await docker.createService({
      Name: 'ppg-a-web',
      TaskTemplate: {
        ContainerSpec: { Image: tag, Args: ['web'], Env: ['PORT=8080'] },
        Networks: [{ Target: netA }],
        Placement: { Constraints: ['node.role==manager'] },
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }] },
    });
    const b = await docker.createService({
      Name: 'ppg-b-probe',
      TaskTemplate: {
        ContainerSpec: { Image: tag, Args: ['probe'] },
        Networks: [{ Target: netB }],
      },
      Mode: { Global: {} },
    });
    const [ta] = (await waitForTasks(docker, a, 1, 120_000)) as [Task];
    const port = ta.Status.PortStatus?.Ports?.find((p) => p.TargetPort === 8080)?.PublishedPort;
    if (!port) throw new Error('no published port');
    target = { address: swarm.manager.address, port };
    const tb = await waitForTasks(docker, b, 2, 120_000);
    probes = tb.map((t) => ({
      node: t.NodeID === worker.nodeId ? worker : swarm.manager,
      container: t.Status.ContainerStatus?.ContainerID ?? '',
    }));
    expect(new Set(probes.map((p) => p.node.nodeId))).toEqual(new Set([swarm.manager.nodeId, worker.nodeId]));
  }, 15 * 60_000);

  afterAll(async () => {
    await swarm?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  /** From a probe container: "connected" or the error code of a TCP connect to host:port. */
  async function connectFrom(p: { node: SwarmNode; container: string }, host: string, port: number) {
    const script = connectScript(host, port);
    return (await dockerCli(p.node.socketPath, ['exec', p.container, 'node', '-e', script])).trim();
  }

  /** A GET run by a host process of the manager node (in its namespace, like the router there). */
  function onManagerHost(url: string): Promise<string> {
    const script = `require("node:http").get(${JSON.stringify(url)},{timeout:5000},(r)=>{let b="";r.on("data",(c)=>b+=c);r.on("end",()=>console.log(b))}).on("error",(e)=>console.log(e.code))`;
    return new Promise((resolve, reject) =>
      execFile('ip', ['netns', 'exec', swarm.manager.netns, process.execPath, '-e', script], (err, out) =>
        err ? reject(err) : resolve(out.trim()),
      ),
    );
  }

  /** Project A's addresses as a container of B may try them: the node's address, its gateway on docker_gwbridge. */
  async function targets(): Promise<string[]> {
    const gw = JSON.parse(
      await dockerCli(swarm.manager.socketPath, [
        'network',
        'inspect',
        'docker_gwbridge',
        '--format',
        '{{json .IPAM.Config}}',
      ]),
    ) as Array<{ Gateway?: string }>;
    return [target.address, ...gw.map((c) => c.Gateway ?? '').filter(Boolean)];
  }

  it('without the guard, a task of another project reaches the published port (the gap)', async () => {
    expect(await answerOf(`http://${target.address}:${target.port}/`)).toBe('project-a');
    for (const p of probes) expect(await connectFrom(p, target.address, target.port)).toBe('connected');
    const onManager = probes.find((p) => p.node === swarm.manager);
    for (const host of await targets())
      if (onManager) expect(await connectFrom(onManager, host, target.port)).toBe('connected');
  }, 120_000);

  /** The swarm runtime as paastechd connects it, its iptables pointed at the manager's namespace. */
  function connect(portGuard: boolean, iptables: IptablesRunner = iptablesIn(swarm.manager.netns)) {
    const log = capturedLogger();
    return connectSwarm({
      socketPath: swarm.manager.socketPath,
      registry: swarm.registry,
      namespace: 'ppg',
      baseCacheDir: SWARM_BASE_CACHE,
      portGuard,
      iptables,
      local: new UnconfinedRuntime(),
      logger: log.logger,
    }).then((runtime) => ({ runtime, lines: log.lines }));
  }

  it('PAASTECH_SWARM_PORT_GUARD=off: the runtime installs no rule (the gap stays)', async () => {
    const { runtime, lines } = await connect(false);
    runtime.close();
    expect(await rulesIn(swarm.manager.netns)).not.toContain(GUARD_CHAIN);
    const onManager = probes.find((p) => p.node === swarm.manager);
    if (onManager) expect(await connectFrom(onManager, target.address, target.port)).toBe('connected');
    expect(lines.filter((l) => l.msg.includes('published-port guard'))).toEqual([]);
  }, 60_000);

  it('iptables missing: the runtime starts anyway and says once, at start, where the rules are documented', async () => {
    const { runtime, lines } = await connect(true, hostIptables('/nonexistent/iptables'));
    runtime.close();
    const warns = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warns).toContainEqual(
      expect.stringMatching(
        /^published-port guard NOT installed on this node \(\/nonexistent\/iptables is not installed on this node\).*docs\/swarm\.md "Isolation between projects: the published-port guard"$/,
      ),
    );
    expect(await rulesIn(swarm.manager.netns)).not.toContain(GUARD_CHAIN);
  }, 60_000);

  it('the runtime installs the guard on the manager at start: B is refused there, the host still reaches A', async () => {
    const { runtime, lines } = await connect(true);
    runtime.close();
    const dump = (await rulesIn(swarm.manager.netns)).split('\n');
    for (const a of [swarm.manager.address, worker.address])
      expect(dump.some((l) => l.startsWith(`-A ${GUARD_CHAIN} -d ${a}/32 -p tcp`))).toBe(true);
    expect(dump.filter((l) => l.includes(`-j ${GUARD_CHAIN}`))).toHaveLength(1);
    expect(dump.filter((l) => l.startsWith('-A INPUT -i docker_gwbridge -p tcp'))).toHaveLength(1);
    const onManager = probes.find((p) => p.node === swarm.manager);
    if (!onManager) throw new Error('no probe on the manager');
    for (const host of await targets())
      expect(`${host}: ${await connectFrom(onManager, host, target.port)}`).not.toMatch(/: connected$/);
    expect(await onManagerHost(`http://${target.address}:${target.port}/`)).toBe('project-a');
    expect(await answerOf(`http://${target.address}:${target.port}/`)).toBe('project-a');
    // Workers cannot be reached from here: the operator is told once.
    const workerWarnings = lines.filter((l) => l.level === 40 && l.msg.includes('worker node(s)'));
    expect(workerWarnings).toHaveLength(1);
    expect(workerWarnings[0]?.msg).toContain('docs/swarm.md "Isolation between projects');
  }, 120_000);

  it('the runtime installs the guard again when the node addresses change', async () => {
    const recorded: string[][] = [];
    const inManager = iptablesIn(swarm.manager.netns);
    const { runtime } = await connect(true, (args) => {
      recorded.push(args);
      return inManager(args);
    });
    try {
      const installs = () => recorded.filter((a) => a[1] === '-F' && a[2] === GUARD_CHAIN).length;
      expect(installs()).toBe(1);
      // Nothing changed: no install on the next checks (one every 5 s).
      await new Promise((r) => setTimeout(r, 6_000));
      expect(installs()).toBe(1);
      // A node joins: the guard follows on a later check, with the new node's address in the chain.
      const third = await swarm.addWorkerNode();
      const deadline = Date.now() + 30_000;
      while (!(await rulesIn(swarm.manager.netns)).includes(`-d ${third.address}/32`)) {
        if (Date.now() > deadline) throw new Error(`${third.address} never reached ${GUARD_CHAIN}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(installs()).toBe(2);
    } finally {
      runtime.close();
    }
  }, 180_000);

  it('with the guard on each node, tasks of other projects are refused; the host (router) still reaches it', async () => {
    const nodes = [swarm.manager.address, worker.address];
    const [lo, hi] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number) as [number, number];
    for (const n of [swarm.manager, worker]) {
      await installGuard(iptablesIn(n.netns), { nodeAddresses: nodes, portRange: [lo, hi] });
      // Idempotent: a second install adds no rule.
      await installGuard(iptablesIn(n.netns), { nodeAddresses: nodes, portRange: [lo, hi] });
    }
    const dump = await new Promise<string>((resolve, reject) =>
      execFile('ip', ['netns', 'exec', swarm.manager.netns, 'iptables', '-S'], (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    );
    expect(dump.split('\n').filter((l) => l.includes(`-j ${GUARD_CHAIN}`))).toHaveLength(1);
    expect(dump.split('\n').filter((l) => l.startsWith('-A INPUT -i docker_gwbridge -p tcp'))).toHaveLength(
      1,
    );

    const attempts: string[] = [];
    for (const p of probes)
      for (const host of p.node === swarm.manager ? await targets() : [target.address])
        attempts.push(
          `${p.node === worker ? 'worker' : 'manager'} -> ${host}: ${await connectFrom(p, host, target.port)}`,
        );
    for (const a of attempts) expect(a).not.toMatch(/: connected$/);
    // The router's place: a host process, not behind docker_gwbridge — from outside the node (as to a
    // worker) and on the node itself (the router on the manager: its replies come back through the bridge).
    expect(await answerOf(`http://${target.address}:${target.port}/`)).toBe('project-a');
    expect(await onManagerHost(`http://${target.address}:${target.port}/`)).toBe('project-a');
    const gateway = (await targets())[1];
    if (gateway) expect(await onManagerHost(`http://${gateway}:${target.port}/`)).toBe('project-a');
    // B's other egress is untouched: the registry on the host, a port outside the range.
    const [regHost, regPort] = swarm.registry.split(':') as [string, string];
    for (const p of probes) expect(await connectFrom(p, regHost, Number(regPort))).toBe('connected');
  }, 240_000);
});
