// Helpers of the swarm tests: waiting for a service's tasks and reading an app's answer.
import http from 'node:http';
import { SWARM_BASE_CACHE, type TestSwarm } from '@paastech/testing';
import type { DesiredDeployment } from '../../src/domain/ports.js';
import type { DockerClient, Task } from '../../src/runtime/swarm/docker.js';

/** Waits until `count` tasks of the service run (rejects after `timeoutMs` with their states). */
export async function waitForTasks(
  docker: DockerClient,
  serviceId: string,
  count: number,
  timeoutMs = 60_000,
): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tasks = await docker.listTasks({ service: [serviceId], 'desired-state': ['running'] });
    const running = tasks.filter((t) => t.Status.State === 'running');
    if (running.length === count) return running;
    if (Date.now() > deadline) {
      const states = tasks.map((t) => `${t.Status.State}: ${t.Status.Err ?? t.Status.Message}`).join('; ');
      throw new Error(
        `service ${serviceId}: ${running.length}/${count} tasks running after ${timeoutMs} ms (${states})`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The body of a GET, retried until it answers 200 (an app needs a moment to listen). */
export async function answerOf(url: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await get(url);
      if (r.status === 200) return r.body;
      last = `status ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${last}`);
}

/** One GET: status and body. */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

/** Environment of a Pomegrenade harness on `swarm`, with the short timeouts of the e2e tests. */
export function swarmHarnessEnv(swarm: TestSwarm): Record<string, string> {
  return {
    PAASTECH_RUNTIME: 'swarm',
    PAASTECH_DOCKER_SOCKET: swarm.manager.socketPath,
    PAASTECH_REGISTRY: swarm.registry,
    PAASTECH_SWARM_BASE_CACHE: SWARM_BASE_CACHE,
    PAASTECH_HEALTH_TIMEOUT_SECONDS: '15',
    PAASTECH_DRAIN_SECONDS: '2',
    PAASTECH_STOP_GRACE_SECONDS: '2',
    // The harness's paastechd runs in this machine's network namespace, not the manager's: its guard
    // would land in the host's firewall (published-port-guard.test.ts installs it in the manager's).
    PAASTECH_SWARM_PORT_GUARD: 'off',
  };
}

/** A deployment as the engine hands it to the swarm runtime (what services.ts turns into specs). */
export function desiredDeployment(over: Partial<DesiredDeployment> = {}): DesiredDeployment {
  return {
    projectId: 'p1',
    projectName: 'shop',
    deploymentNumber: 3,
    buildNumber: 2,
    appDir: '/data/pomegrenade/projects/p1/builds/v2/app',
    processes: { web: 'node server.js', worker: 'node worker.js' },
    formation: { web: 2, worker: 0 },
    env: { PATH: '/usr/bin:/bin', SECRET: 'hunter2-value', PAASTECH_DEPLOYMENT: 'v3' },
    limits: {
      memoryBytes: 256 * 1024 * 1024,
      cpuMillicores: 500,
      maxProcesses: 64,
      diskBytes: 64 * 1024 * 1024,
    },
    uid: 200_001,
    healthPath: '/healthz',
    healthTimeoutSeconds: 30,
    drainSeconds: 5,
    stopGraceSeconds: 10,
    restart: [],
    egressDisabled: false,
    ...over,
  };
}

/** A `node -e` script that prints "connected" or the error code of a TCP connect to host:port. */
export function connectScript(host: string, port: number): string {
  return `const s=require("node:net").connect(${port},${JSON.stringify(host)});s.setTimeout(3000);s.on("connect",()=>{console.log("connected");s.destroy()});s.on("timeout",()=>{console.log("ETIMEDOUT");s.destroy()});s.on("error",(e)=>console.log(e.code))`;
}
