// Per-project egress end to end: a real Pomegrenade (LocalRuntime, project network namespaces)
// deploys a probe app twice; the project deployed with egress_disabled cannot reach the test's
// stand-in for the outside world, the other one can; UpdateProjectRouting switches it at once,
// and a platform restart keeps it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type deploy, routing } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPomegrenadeConfig } from '../src/index.js';
import { createOutsideWorld, type OutsideWorld } from './support/outside-world.js';
import { type Harness, httpGet, RouteFollower, startHarness } from './support/pomegrenade.js';

const PROBE_SERVER = `// Answers GET /probe?host=&port= with what a TCP connection there got: the peer's words or an error code.
const http = require('node:http');
const net = require('node:net');
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const s = net.connect(Number(u.searchParams.get('port')), u.searchParams.get('host'));
  const done = (v) => { s.destroy(); if (!res.headersSent) res.end(v); };
  s.setTimeout(1500, () => done('ETIMEDOUT'));
  s.on('data', (d) => done(String(d)));
  s.on('error', (e) => done(e.code || 'error'));
}).listen(Number(process.env.PORT));
`;

let h: Harness;
let world: OutsideWorld;
let probeDir = '';
/** Follows the routes; replaced after a restart (a watch does not survive its server). */
let routes: RouteFollower;

/** What project `projectId`'s instance got connecting to the outside world. */
async function probe(projectId: string): Promise<string> {
  const upstream = routes.upstreams(projectId)[0];
  expect(upstream, `no route for ${projectId}`).toBeDefined();
  const r = await httpGet(upstream as string, `/probe?host=${world.addr}&port=${world.port}`);
  return r.body;
}

/** Deploys the probe app as v`n` of `projectId`. */
async function deployProbe(projectId: string, n: number, egressDisabled: boolean): Promise<void> {
  const commit = await h.repo(projectId).commitFixture(probeDir);
  const { deployment, lines } = await h.deploy(projectId, n, commit, { egressDisabled });
  expect(deployment.failure?.message, lines.join('\n')).toBeUndefined();
}

/** UpdateProjectRouting with (or without, when undefined) an egress setting. */
async function setRouting(projectId: string, egressDisabled?: boolean): Promise<void> {
  await h.call<deploy.UpdateProjectRoutingRequest, deploy.UpdateProjectRoutingResponse>(
    'updateProjectRouting',
    {
      projectId,
      projectName: projectId,
      domains: [`${projectId}.localhost`],
      httpsRedirect: false,
      ...(egressDisabled === undefined ? {} : { egressDisabled }),
    },
  );
}

beforeAll(async () => {
  probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgr-probe-'));
  fs.writeFileSync(
    path.join(probeDir, 'package.json'),
    JSON.stringify({ name: 'probe', private: true, scripts: { start: 'node server.js' } }),
  );
  fs.writeFileSync(path.join(probeDir, 'server.js'), PROBE_SERVER);
  world = await createOutsideWorld(19_000 + Math.floor(Math.random() * 1000));
  h = await startHarness({ PAASTECH_APP_UID_BASE: '263000', PAASTECH_STOP_GRACE_SECONDS: '1' });
  routes = h.routes;
  await Promise.all([deployProbe('closed', 1, true), deployProbe('open', 1, false)]);
}, 120_000);

afterAll(async () => {
  if (routes !== h?.routes) routes?.close();
  await h?.stop();
  await world?.close();
  if (probeDir) fs.rmSync(probeDir, { recursive: true, force: true });
});

describe('egress per project', () => {
  it('a project deployed with egress disabled cannot reach the outside world; one with it can', async () => {
    expect(await probe('open')).toBe('world');
    expect(await probe('closed')).toMatch(/^E[A-Z]+$/);
  });

  it('UpdateProjectRouting switches egress at once for running instances; unset leaves it', async () => {
    await setRouting('open', true);
    expect(await probe('open')).toMatch(/^E[A-Z]+$/);
    await setRouting('open');
    expect(await probe('open')).toMatch(/^E[A-Z]+$/);
    await setRouting('open', false);
    expect(await probe('open')).toBe('world');
    expect(await probe('closed')).toMatch(/^E[A-Z]+$/);
  });

  it('a platform restart keeps each project as it was', async () => {
    await h.restart();
    const address = readPomegrenadeConfig(h.env).grpcAddress;
    routes = new RouteFollower(new routing.RoutingServiceClient(address, grpc.credentials.createInsecure()));
    routes.start();
    const up = async (id: string) => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const a = routes.upstreams(id)[0];
        if (a && (await httpGet(a, '/probe?host=127.0.0.1&port=1').catch(() => null))) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${id} did not come back`);
    };
    await Promise.all([up('open'), up('closed')]);
    expect(await probe('closed')).toMatch(/^E[A-Z]+$/);
    expect(await probe('open')).toBe('world');
  }, 60_000);
});
