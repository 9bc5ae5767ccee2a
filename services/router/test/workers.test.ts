// The node plane on worker processes (src/node/workers.ts, worker.ts): connections handed out
// round-robin, counts merged into the router's /stats, one shared access log, a dead worker
// replaced, a stop that lets requests in flight finish. The shared suite (router, hostile, TLS)
// runs on this plane too; these are the properties only several processes have.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRouterConfig } from '../src/config.js';
import { Backend, type Echo } from './support/backend.js';
import { admin, type Harness, request, startHarness, waitFor } from './support/harness.js';
import { route } from './support/routing-server.js';

/** Pids of this process's children running the router's worker script. */
function workerPids(): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'node/worker.js'], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.split('\n').filter(Boolean).map(Number);
}

/** The process part of a router request id (`<per-process prefix>-<counter>`). */
const prefixOf = (e: Echo): string => String(e.headers['x-request-id']).split('-')[0] ?? '';

describe('node plane on worker processes', () => {
  let h: Harness;
  let a: Backend;
  const echo = async (agent: http.Agent | false = false, p = '/echo') => {
    const r = await request(h.port, 'w.apps.test', p, { agent });
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as Echo;
  };

  beforeAll(async () => {
    a = await new Backend('a').start();
    h = await startHarness('node', {
      PAASTECH_ROUTER_WORKERS: '3',
      PAASTECH_ROUTER_DRAIN_TIMEOUT_MS: '5000',
    });
    h.routes.setRoutes([
      route({
        projectId: 'pw',
        projectName: 'w',
        hostnames: ['w.apps.test'],
        upstreamAddresses: [a.address],
      }),
    ]);
    // Every worker has the route once a connection to each of them is served.
    await waitFor(
      async () => {
        const seen = await Promise.all([echo(), echo(), echo()].map((p) => p.catch(() => undefined)));
        return seen.every((e) => e?.instance === 'a');
      },
      10_000,
      'the route in every worker',
    );
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
  });

  it('starts the configured number of workers and hands connections to each in turn', async () => {
    expect(workerPids()).toHaveLength(3);
    const prefixes = new Set<string>();
    for (let i = 0; i < 6; i++) prefixes.add(prefixOf(await echo()));
    expect(prefixes.size).toBe(3);
    // A keep-alive connection stays with its worker.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const onOne = new Set<string>();
    for (let i = 0; i < 5; i++) onOne.add(prefixOf(await echo(agent)));
    agent.destroy();
    expect(onOne.size).toBe(1);
  });

  it('merges every worker’s counts into /stats and writes every request to the one access log', async () => {
    type Stats = { projects: Record<string, { requests: number; byClass: number[] } | undefined> };
    // Counts reach /stats within a flush period (100 ms): let the earlier tests' arrive first.
    await new Promise((r) => setTimeout(r, 400));
    const before = (await admin<Stats>(h.dataDir, '/stats')).projects.pw?.requests ?? 0;
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push(String((await echo()).headers['x-request-id']));
    expect(new Set(ids.map((id) => id.split('-')[0])).size).toBe(3);
    await waitFor(
      async () => (await admin<Stats>(h.dataDir, '/stats')).projects.pw?.requests === before + 9,
      5_000,
      'the counts of every worker',
    );
    const file = path.join(h.dataDir, 'router', 'access.log');
    await waitFor(
      () => {
        const text = fs.readFileSync(file, 'utf8');
        return ids.every((id) => text.includes(`"requestId":"${id}"`));
      },
      5_000,
      'every line in access.log',
    );
    // Whole lines only: every line of the shared file is one JSON object.
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n'))
      expect(() => JSON.parse(line)).not.toThrow();
  });

  it('replaces a worker that dies; new connections are served meanwhile and after', async () => {
    const [victim] = workerPids();
    process.kill(victim as number, 'SIGKILL');
    // Connections made while it is down go to the others (or wait for its replacement).
    for (let i = 0; i < 6; i++) expect((await echo()).instance).toBe('a');
    await waitFor(
      () => {
        const pids = workerPids();
        return pids.length === 3 && !pids.includes(victim as number);
      },
      10_000,
      'a replacement worker',
    );
    // Once the replacement is ready, connections go to three workers again.
    await waitFor(
      async () => {
        const prefixes = new Set<string>();
        for (let i = 0; i < 6; i++) prefixes.add(prefixOf(await echo()));
        return prefixes.size === 3;
      },
      10_000,
      'three workers serving',
    );
  });

  it('hands no more connections to a worker that stops taking them, then replaces it; none is lost', async () => {
    const [stuck] = workerPids() as [number];
    process.kill(stuck, 'SIGSTOP');
    try {
      // New connections at once: the stuck worker is handed its share before it is noticed.
      const early = Array.from({ length: 6 }, () => echo());
      // Once its oldest connection has waited 2 s, it gets no more: these are served at once.
      await new Promise((r) => setTimeout(r, 2_500));
      const started = Date.now();
      for (let i = 0; i < 6; i++) expect((await echo()).instance).toBe('a');
      expect(Date.now() - started).toBeLessThan(2_000);
      // At 10 s it is killed, and the connections it never took go to the others.
      const served = await Promise.all(early);
      expect(served.map((e) => e.instance)).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
      await waitFor(
        () => !workerPids().includes(stuck) && workerPids().length === 3,
        10_000,
        'a replacement',
      );
    } finally {
      try {
        process.kill(stuck, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  }, 40_000);

  it('finishes requests in flight when the router stops, then stops its workers', async () => {
    const inFlight = request(h.port, 'w.apps.test', '/slow?ms=800');
    await new Promise((r) => setTimeout(r, 200));
    const pids = workerPids();
    await h.router.stop();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(workerPids().filter((p) => pids.includes(p))).toEqual([]);
    // The same router comes back on the same port (afterAll stops it again).
    await h.restart();
    await waitFor(async () => (await echo()).instance === 'a', 10_000, 'the routes after the restart');
    expect(workerPids()).toHaveLength(3);
  });
});

describe('PAASTECH_ROUTER_WORKERS', () => {
  it.each([
    ['0', /PAASTECH_ROUTER_WORKERS: must be between 1 and 64/],
    ['65', /PAASTECH_ROUTER_WORKERS: must be between 1 and 64/],
    ['1.5', /PAASTECH_ROUTER_WORKERS: must be a whole number/],
    ['two', /PAASTECH_ROUTER_WORKERS: must be a number/],
    ['-3', /PAASTECH_ROUTER_WORKERS: must be between 1 and 64/],
  ])('refuses %s, naming the rule', (value, rule) => {
    expect(() => readRouterConfig({ PAASTECH_ROUTER_WORKERS: value })).toThrow(rule);
  });

  it('defaults to one worker per CPU (at most 8); 1 keeps the plane in the router process', () => {
    const node = { PAASTECH_ROUTER_DATAPLANE: 'node' };
    expect(readRouterConfig(node).workers).toBe(Math.min(os.availableParallelism(), 8));
    expect(readRouterConfig({ ...node, PAASTECH_ROUTER_WORKERS: '1' }).workers).toBe(1);
    expect(readRouterConfig({ ...node, PAASTECH_ROUTER_WORKERS: '12' }).workers).toBe(12);
  });

  it('haproxy plane: one HAProxy process per CPU by default (at most 64), or as many as asked', () => {
    const haproxy = { PAASTECH_ROUTER_DATAPLANE: 'haproxy' };
    expect(readRouterConfig(haproxy).workers).toBe(Math.min(os.availableParallelism(), 64));
    expect(readRouterConfig({ ...haproxy, PAASTECH_ROUTER_WORKERS: '3' }).workers).toBe(3);
  });
});
