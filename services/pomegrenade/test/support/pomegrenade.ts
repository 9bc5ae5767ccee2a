// Starts the real Pomegrenade (LocalRuntime, real builders) with a test git server, and gives the
// tests gRPC clients: create a deployment, wait for its end, follow routes, read logs.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger, internalMetadata, type ServiceHandle } from '@paastech/kit';
import { deploy, routing } from '@paastech/proto';
import { readPomegrenadeConfig, startPomegrenade } from '../../src/index.js';
import { startGitServer, type TestGitServer, TestRepo } from './git-server.js';

const SECRET = 'test-internal-secret-0123456789';

export interface Harness {
  dataDir: string;
  reposDir: string;
  handle: ServiceHandle;
  git: TestGitServer;
  client: deploy.DeploymentServiceClient;
  routes: RouteFollower;
  env: Record<string, string>;
  repo(projectId: string): TestRepo;
  /** Creates deployment vN of `projectId` from `commit` and waits until it ends. */
  deploy(
    projectId: string,
    number: number,
    commit: string,
    extra?: Partial<deploy.CreateDeploymentRequest>,
  ): Promise<DeployResult>;
  call<Req, Res>(method: string, req: Req): Promise<Res>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface DeployResult {
  deployment: deploy.Deployment;
  lines: string[];
}

/** Follows RoutingService.WatchRoutes and keeps the current table. */
export class RouteFollower {
  readonly table = new Map<string, routing.Route>();
  private call: grpc.ClientReadableStream<routing.WatchRoutesResponse> | undefined;
  constructor(private readonly client: routing.RoutingServiceClient) {}
  start(): void {
    this.call = this.client.watchRoutes({ routerId: 'test' }, internalMetadata(SECRET));
    this.call.on('data', (m: routing.WatchRoutesResponse) => {
      if (m.update?.$case === 'snapshot') {
        this.table.clear();
        for (const r of m.update.value.routes) this.table.set(r.projectId, r);
      } else if (m.update?.$case === 'change') {
        for (const r of m.update.value.upsertedRoutes) this.table.set(r.projectId, r);
        for (const id of m.update.value.removedProjectIds) this.table.delete(id);
      }
    });
    this.call.on('error', () => {});
  }
  upstreams(projectId: string): string[] {
    return this.table.get(projectId)?.upstreamAddresses ?? [];
  }
  close(): void {
    this.call?.cancel();
  }
}

/** Starts Pomegrenade + a git server in a fresh data dir. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgr-'));
  const reposDir = path.join(dataDir, 'test-repos');
  fs.mkdirSync(reposDir);
  const fullEnv: Record<string, string> = {
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_LOG_LEVEL: 'silent',
    PAASTECH_LOG_FORMAT: 'json',
    PAASTECH_GIT_GRPC_ADDRESS: `unix:${path.join(dataDir, 'git.sock')}`,
    PAASTECH_HEALTH_TIMEOUT_SECONDS: '30',
    PAASTECH_DRAIN_SECONDS: '1',
    PAASTECH_STOP_GRACE_SECONDS: '2',
    ...env,
  };
  const gitServer = await startGitServer(fullEnv.PAASTECH_GIT_GRPC_ADDRESS as string, SECRET, reposDir);
  const config = readPomegrenadeConfig(fullEnv);
  const boot = async () => {
    const handle = startPomegrenade(config, createLogger('pomegrenade', { level: 'silent', format: 'json' }));
    await handle.ready;
    return handle;
  };
  let handle = await boot();
  const client = new deploy.DeploymentServiceClient(config.grpcAddress, grpc.credentials.createInsecure());
  const routes = new RouteFollower(
    new routing.RoutingServiceClient(config.grpcAddress, grpc.credentials.createInsecure()),
  );
  routes.start();
  const repos = new Map<string, TestRepo>();
  const h: Harness = {
    dataDir,
    reposDir,
    get handle() {
      return handle;
    },
    git: gitServer,
    client,
    routes,
    env: fullEnv,
    repo(projectId) {
      let r = repos.get(projectId);
      if (!r) {
        r = new TestRepo(reposDir, projectId);
        repos.set(projectId, r);
      }
      return r;
    },
    call<Req, Res>(method: string, req: Req): Promise<Res> {
      const fn = (
        client as unknown as Record<
          string,
          (r: Req, md: grpc.Metadata, cb: (e: Error | null, res: Res) => void) => void
        >
      )[method];
      if (!fn) throw new Error(`no method ${method}`);
      return new Promise((resolve, reject) =>
        fn.call(client, req, internalMetadata(SECRET), (e, res) => (e ? reject(e) : resolve(res))),
      );
    },
    async deploy(projectId, number, commit, extra = {}) {
      await h.call('createDeployment', {
        projectId,
        projectName: projectId,
        deploymentNumber: number,
        commitSha: commit,
        source: { kind: { $case: 'git', value: { refName: 'refs/heads/main' } } },
        configVars: {},
        formation: {},
        domains: [`${projectId}.localhost`],
        httpsRedirect: false,
        createdByClientId: 'c1',
        ...extra,
      } satisfies deploy.CreateDeploymentRequest);
      const lines = await watch(client, projectId, number);
      const got = await h.call<deploy.GetDeploymentRequest, deploy.GetDeploymentResponse>('getDeployment', {
        projectId,
        deploymentNumber: number,
      });
      return { deployment: got.deployment as deploy.Deployment, lines };
    },
    async restart() {
      await handle.stop();
      handle = await boot();
      // The route stream ended with the old server: follow the new one (a fresh snapshot).
      routes.close();
      routes.start();
    },
    async stop() {
      routes.close();
      client.close();
      await handle.stop();
      await gitServer.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Follows WatchDeployment to its end; returns what a pusher would see, one string per event. */
export function watch(
  client: deploy.DeploymentServiceClient,
  projectId: string,
  number: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const call = client.watchDeployment({ projectId, deploymentNumber: number }, internalMetadata(SECRET));
    call.on('data', (m: deploy.WatchDeploymentResponse) => {
      const e = m.event;
      if (e?.$case === 'step') lines.push(`-----> ${e.value.title}`);
      else if (e?.$case === 'logLine') lines.push(`${e.value.source}: ${e.value.text}`);
      else if (e?.$case === 'stateChange')
        lines.push(`[state ${e.value.state}]${e.value.failure ? ` ${e.value.failure.message}` : ''}`);
    });
    call.on('end', () => resolve(lines));
    call.on('error', reject);
  });
}

/** GET http://<address><path> with a short timeout. */
export async function httpGet(
  address: string,
  p = '/',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`http://${address}${p}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The last lines of a project's logs (no follow) as "source: text". */
export function readLogs(h: Harness, projectId: string, sources: string[], tail: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    const call = h.client.streamLogs(
      { projectId, follow: false, sources, tailLines: tail },
      internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string),
    );
    call.on('data', (m: deploy.StreamLogsResponse) => {
      for (const l of m.lines) out.push(`${l.source}: ${l.text}`);
    });
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

/** One GET / on a fresh connection; resolves with the status, or the error code (never rejects). */
export function hitStatus(address: string): Promise<string> {
  const sep = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: address.slice(0, sep),
        port: Number(address.slice(sep + 1)),
        path: '/',
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
