// Pomegrenade's gRPC server, on its real Unix socket: every DeploymentService and RoutingService call
// needs the internal secret (UNAUTHENTICATED otherwise, and nothing happens); only health is open.
import * as grpc from '@grpc/grpc-js';
import { internalMetadata } from '@paastech/kit';
import { deploy, health, routing } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './support/pomegrenade.js';

let h: Harness;
let secret: string;

beforeAll(async () => {
  // The cheapest real server: no sandbox checks, nothing is built here.
  h = await startHarness({ PAASTECH_SANDBOX: 'none' });
  secret = h.env.PAASTECH_INTERNAL_SECRET as string;
});

afterAll(async () => {
  await h?.stop();
});

/** Metadata variants a caller without the secret could send. */
const withoutSecret: Array<[string, () => grpc.Metadata]> = [
  ['no metadata', () => new grpc.Metadata()],
  ['a wrong secret of the same length', () => internalMetadata('x'.repeat(secret.length))],
  ['a prefix of the secret', () => internalMetadata(secret.slice(0, -1))],
  ['the secret with a suffix', () => internalMetadata(`${secret}x`)],
];

/** Calls DeploymentService.ListDeployments with `md`; resolves with the response or the error. */
function listDeployments(md: grpc.Metadata, projectId = 'p-auth'): Promise<deploy.ListDeploymentsResponse> {
  return new Promise((resolve, reject) =>
    h.client.listDeployments({ projectId, limit: 0 }, md, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe('Pomegrenade gRPC requires the internal secret', () => {
  it('answers a call carrying the secret', async () => {
    expect(await listDeployments(internalMetadata(secret))).toEqual({ deployments: [] });
  });

  it.each(withoutSecret)('refuses a unary call with %s (UNAUTHENTICATED)', async (_, md) => {
    await expect(listDeployments(md())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('refuses CreateDeployment without the secret and creates nothing', async () => {
    const req: deploy.CreateDeploymentRequest = {
      projectId: 'p-auth',
      projectName: 'auth',
      deploymentNumber: 1,
      commitSha: '0'.repeat(40),
      source: { kind: { $case: 'git', value: { refName: 'refs/heads/main' } } },
      configVars: {},
      formation: {},
      domains: ['auth.localhost'],
      httpsRedirect: false,
      createdByClientId: 'c1',
    };
    await expect(
      new Promise((resolve, reject) =>
        h.client.createDeployment(req, new grpc.Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
      ),
    ).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(await listDeployments(internalMetadata(secret))).toEqual({ deployments: [] });
  });

  it('refuses server streams without the secret (WatchRoutes, StreamLogs)', async () => {
    const routes = new routing.RoutingServiceClient(
      h.handle.endpoints()[0]!.url,
      grpc.credentials.createInsecure(),
    );
    try {
      /** How a stream first answers: a message (then it is cancelled), its end, or its error status. */
      const outcome = (stream: grpc.ClientReadableStream<unknown>) =>
        new Promise<string | number>((resolve) => {
          stream.once('data', () => {
            resolve('a message');
            stream.cancel();
          });
          stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
          stream.on('end', () => resolve('the end'));
        });
      expect(await outcome(routes.watchRoutes({ routerId: 'intruder' }, new grpc.Metadata()))).toBe(
        grpc.status.UNAUTHENTICATED,
      );
      expect(
        await outcome(
          h.client.streamLogs(
            { projectId: 'p-auth', follow: false, sources: [], tailLines: 10 },
            internalMetadata('wrong-secret-wrong-secret-wrong'),
          ),
        ),
      ).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      routes.close();
    }
  });

  it('leaves only the health service open, so supervisors can probe', async () => {
    const client = new health.HealthClient(h.handle.endpoints()[0]!.url, grpc.credentials.createInsecure());
    try {
      const res = await new Promise<health.HealthCheckResponse>((resolve, reject) =>
        client.check({ service: '' }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      expect(res.status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      client.close();
    }
  });
});
