// A throw-away Docker Swarm for tests: each node is a real dockerd in a network namespace of the
// test's own (data, exec root, pidfile and socket under a temporary directory), all nodes on a
// private bridge that also carries the host's end (the registry, the router's view of published
// ports). Invariant: nothing of it touches the host's own docker (if any), its docker0 or ports —
// namespaces make parallel suites independent — and `stop()` removes every process, namespace,
// interface and file it made.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { type RunningRegistry, run, startRegistry } from '@paastech/kit';
import { tempDir } from './daemon.js';

/** Where base images' root filesystems are cached across test runs (built once per machine). */
export const SWARM_BASE_CACHE = '/var/tmp/paastech-swarm-base';
const REGISTRY_PORT = 5000;
const NEEDED = ['dockerd', 'docker', 'docker-registry', 'debootstrap', 'ip', 'nsenter', 'unshare'];

/** One dockerd of the swarm. */
export interface SwarmNode {
  /** The namespace it runs in. */
  netns: string;
  /** Its address on the swarm's bridge (advertise address; where host-mode ports are published). */
  address: string;
  /** Its Engine API socket. */
  socketPath: string;
  /** Swarm node id. */
  nodeId: string;
  /** Stops its dockerd (the swarm sees the node go down); the namespace stays until `stop()`. */
  stopDaemon(): Promise<void>;
}

export interface TestSwarm {
  dir: string;
  manager: SwarmNode;
  /** The host's address on the bridge: nodes reach the registry here, the host reaches nodes from it. */
  hostAddress: string;
  /** host:port of the swarm's registry (PAASTECH_REGISTRY). */
  registry: string;
  /** A new worker node in a namespace of its own, joined to the swarm. */
  addWorkerNode(): Promise<SwarmNode>;
  /** Removes everything: services' containers, daemons, namespaces, bridge, registry, files. */
  stop(): Promise<void>;
}

/** Why this machine cannot run the swarm suite (null when it can). */
export function swarmUnsupported(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (dockerd, network namespaces)';
  const dirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const missing = NEEDED.filter((b) => !dirs.some((d) => fs.existsSync(path.join(d, b))));
  return missing.length ? `missing ${missing.join(', ')} (scripts/setup-system.sh installs them)` : null;
}

/** Starts a one-node swarm (manager) and its registry; call `stop()` in afterAll. */
export async function startSwarm(): Promise<TestSwarm> {
  const dir = tempDir('psw-');
  const net = await reserveBridge();
  const cleanups: Array<() => Promise<void>> = [
    async () => void (await quiet('ip', ['link', 'del', net.bridge])),
  ];
  const nodes: RunningNode[] = [];
  let registry: RunningRegistry | undefined;
  const stop = async () => {
    for (const n of [...nodes].reverse()) await n.destroy();
    await registry?.stop();
    for (const c of cleanups.reverse()) await c();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const registryAddress = `${net.prefix}.1:${REGISTRY_PORT}`;
    registry = await startRegistry({ dir: path.join(dir, 'registry'), address: registryAddress });
    const manager = await startNode(dir, net, 'm', 2, registryAddress);
    nodes.push(manager);
    await docker(manager.socketPath, [
      'swarm',
      'init',
      '--advertise-addr',
      manager.address,
      '--listen-addr',
      `${manager.address}:2377`,
    ]);
    manager.nodeId = await nodeId(manager.socketPath);
    let workers = 0;
    return {
      dir,
      manager,
      hostAddress: `${net.prefix}.1`,
      registry: registryAddress,
      async addWorkerNode() {
        workers += 1;
        const w = await startNode(dir, net, `w${workers}`, 10 + workers, registryAddress);
        nodes.push(w);
        const token = (await docker(manager.socketPath, ['swarm', 'join-token', '-q', 'worker'])).trim();
        await docker(w.socketPath, [
          'swarm',
          'join',
          '--token',
          token,
          '--advertise-addr',
          w.address,
          '--listen-addr',
          `${w.address}:2377`,
          `${manager.address}:2377`,
        ]);
        w.nodeId = await nodeId(w.socketPath);
        return w;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Net {
  bridge: string;
  /** First three octets of the bridge's /24, e.g. "10.216.17". */
  prefix: string;
}

interface RunningNode extends SwarmNode {
  destroy(): Promise<void>;
}

/** Creates bridge psw<N> with 10.216.N.1/24 for the first free N (creating the link is the lock). */
async function reserveBridge(): Promise<Net> {
  const start = 1 + Math.floor(Math.random() * 250);
  for (let i = 0; i < 250; i++) {
    const n = ((start + i) % 250) + 1;
    const bridge = `psw${n}`;
    try {
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    } catch {
      continue;
    }
    const prefix = `10.216.${n}`;
    await run('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    return { bridge, prefix };
  }
  throw new Error('swarm harness: no free bridge psw1…psw250');
}

/** A namespace joined to the bridge at <prefix>.<host> with a dockerd in it, up and answering. */
async function startNode(
  dir: string,
  net: Net,
  name: string,
  host: number,
  registry: string,
): Promise<RunningNode> {
  const netns = `${net.bridge}-${name}`;
  const hostIf = `${net.bridge}${name}`;
  const address = `${net.prefix}.${host}`;
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await run('ip', ['link', 'set', hostIf, 'master', net.bridge, 'up']);
  await run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', netns, 'route', 'add', 'default', 'via', `${net.prefix}.1`]);

  const root = path.join(dir, name);
  fs.mkdirSync(root, { recursive: true });
  const socketPath = path.join(root, 'docker.sock');
  const configFile = path.join(root, 'daemon.json');
  fs.writeFileSync(configFile, '{}\n');
  const log = fs.openSync(path.join(root, 'dockerd.log'), 'a');
  // nsenter for the network only; a private mount namespace (slave of the host's) so the daemon's
  // overlay mounts vanish with it, while /sys/fs/cgroup stays the host's (ip netns exec remounts /sys).
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      'unshare',
      '--mount',
      '--propagation',
      'slave',
      'dockerd',
      '--config-file',
      configFile,
      '--data-root',
      path.join(root, 'data'),
      '--exec-root',
      path.join(root, 'exec'),
      '--pidfile',
      path.join(root, 'dockerd.pid'),
      '-H',
      `unix://${socketPath}`,
      '--insecure-registry',
      registry,
      '--cgroup-parent',
      `/${netns}`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const node: RunningNode = {
    netns,
    address,
    socketPath,
    nodeId: '',
    stopDaemon: () => stopChild(child, 30_000),
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        // Leaving the swarm first makes the daemon stop its tasks' containers itself.
        await quiet('docker', ['-H', `unix://${socketPath}`, 'swarm', 'leave', '--force']);
        await stopChild(child, 30_000);
      }
      await killNetnsProcesses(netns);
      await quiet('ip', ['netns', 'del', netns]);
    },
  };
  const deadline = Date.now() + 60_000;
  while (!(await ping(socketPath))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await node.destroy();
      const tail = fs.readFileSync(path.join(root, 'dockerd.log'), 'utf8').slice(-2000);
      throw new Error(`swarm harness: dockerd in ${netns} did not start\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return node;
}

/** Runs the docker CLI against one daemon; resolves with stdout. */
export async function docker(socketPath: string, args: string[]): Promise<string> {
  return (await run('docker', ['-H', `unix://${socketPath}`, ...args], { timeout: 120_000 })).stdout;
}

async function nodeId(socketPath: string): Promise<string> {
  return (await docker(socketPath, ['info', '--format', '{{.Swarm.NodeID}}'])).trim();
}

/** True when the daemon answers GET /_ping. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** SIGKILLs whatever still runs in the namespace (containerd shims, containers). */
async function killNetnsProcesses(netns: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = (await quiet('ip', ['netns', 'pids', netns])).split(/\s+/).filter(Boolean).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs a cleanup command, ignoring failure (the thing may already be gone); resolves with stdout. */
async function quiet(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { timeout: 60_000 })).stdout;
  } catch {
    return '';
  }
}
