// Checks the contracts: buf lint passes, the committed generated code matches
// the .proto files, and the generated code works over a real grpc-js channel.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, health, SERVICE_NAMES } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const buf = join(packageDir, '..', '..', 'node_modules', '.bin', 'buf');
const STALE = 'generated code is stale: run npm run proto:gen';

interface RunResult {
  code: number;
  output: string;
}

/** Runs a command in packages/proto and returns its exit code and combined output. */
function run(file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: packageDir }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}${error && code === 1 ? error.message : ''}` });
    });
  });
}

/** Lists every file under dir, as paths relative to dir, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

let tmp = '';

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'paastech-proto-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('proto contracts', () => {
  it('pass buf lint', async () => {
    const { code, output } = await run(buf, ['lint']);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('match the committed generated code', async () => {
    const out = join(tmp, 'regenerated');
    const { code, output } = await run(buf, ['generate', '--template', 'buf.gen.yaml', '-o', out]);
    expect(code, output).toBe(0);

    const committedDir = join(packageDir, 'src', 'gen');
    const freshDir = join(out, 'src', 'gen');
    const committed = await listFiles(committedDir);
    const fresh = await listFiles(freshDir);
    const problems: string[] = [];
    for (const file of fresh.filter((f) => !committed.includes(f))) problems.push(`missing: src/gen/${file}`);
    for (const file of committed.filter((f) => !fresh.includes(f))) problems.push(`extra: src/gen/${file}`);
    for (const file of fresh.filter((f) => committed.includes(f))) {
      const [a, b] = await Promise.all([readFile(join(committedDir, file)), readFile(join(freshDir, file))]);
      if (!a.equals(b)) problems.push(`differs: src/gen/${file}`);
    }
    expect(fresh.length).toBeGreaterThan(0);
    expect(problems, STALE).toEqual([]);
  }, 60_000);

  it('round-trips a message through the wire format', () => {
    const request = deploy.CreateDeploymentRequest.fromPartial({
      projectId: 'p-1',
      projectName: 'shop',
      deploymentNumber: 3,
      commitSha: 'a'.repeat(40),
      source: {
        kind: { $case: 'git', value: { refName: 'refs/heads/main', quarantine: { objectDirectory: '/q' } } },
      },
      configVars: { DATABASE_URL: 'postgres://x' },
      formation: { web: 2, worker: 0 },
      domains: ['shop.apps.example.com'],
      limits: { memoryBytes: 512 * 1024 * 1024 },
    });
    const decoded = deploy.CreateDeploymentRequest.decode(
      deploy.CreateDeploymentRequest.encode(request).finish(),
    );
    expect(decoded).toEqual(request);
    expect(decoded.formation).toEqual({ web: 2, worker: 0 });

    const line = deploy.LogLine.fromPartial({
      time: new Date(1_700_000_000_123),
      source: 'web.1',
      text: 'up',
    });
    expect(deploy.LogLine.decode(deploy.LogLine.encode(line).finish()).time).toEqual(
      new Date(1_700_000_000_123),
    );
  });

  it('serve and call grpc.health.v1.Health/Check over a Unix socket', async () => {
    const server = new grpc.Server();
    const impl: health.HealthServer = {
      check(call, callback) {
        if (call.request.service !== '' && call.request.service !== SERVICE_NAMES.git) {
          callback({ code: grpc.status.NOT_FOUND, details: `service "${call.request.service}" unknown` });
          return;
        }
        callback(null, { status: health.HealthCheckResponse_ServingStatus.SERVING });
      },
      watch(call) {
        call.end();
      },
    };
    server.addService(health.HealthService, impl);
    const address = `unix:${join(tmp, 'health.sock')}`;
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      );
    });
    const client = new health.HealthClient(address, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<health.HealthCheckResponse>((resolve, reject) => {
        client.check({ service }, (error, response) => (error ? reject(error) : resolve(response)));
      });
    try {
      expect(await check(SERVICE_NAMES.git)).toEqual({
        status: health.HealthCheckResponse_ServingStatus.SERVING,
      });
      await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
      expect(health.HealthService.check.path).toBe('/grpc.health.v1.Health/Check');
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    }
  });

  it('name the generated services', async () => {
    const { control, git, routing } = await import('../src/index.js');
    expect(control.ControlServiceService.recordPush.path).toBe(`/${SERVICE_NAMES.control}/RecordPush`);
    expect(git.GitServiceService.getArchive.path).toBe(`/${SERVICE_NAMES.git}/GetArchive`);
    expect(deploy.DeploymentServiceService.createDeployment.path).toBe(
      `/${SERVICE_NAMES.deploy}/CreateDeployment`,
    );
    expect(routing.RoutingServiceService.watchRoutes.path).toBe(`/${SERVICE_NAMES.routing}/WatchRoutes`);
  });
});
