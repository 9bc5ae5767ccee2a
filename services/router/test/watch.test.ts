// The route watcher's log at start-up: paastechd starts the router before Pomegrenade, so the first
// attempts to open the route stream fail on every normal start — not a warning. A stream that never
// comes (past the grace) or that is lost once it was synchronised is one. Real gRPC over a Unix
// socket (the paastech.routing.v1 contract server of the other router tests).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@paastech/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteTable } from '../src/routes.js';
import { type RouteWatcher, watchRoutes } from '../src/watch.js';
import { waitFor } from './support/harness.js';
import { RoutingContractServer, route } from './support/routing-server.js';

const SECRET = 'watch-test-secret-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A logger at debug level whose lines (parsed) the test reads. */
function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('router', { level: 'debug', format: 'json', destination }), lines };
}

/** A watcher on a socket nothing serves yet; the contract server that can serve it later. */
function setup(startupGraceMs: number, secret = SECRET) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'watch-'));
  const address = `unix:${path.join(dir, 'pomegrenade.sock')}`;
  const server = new RoutingContractServer(address, SECRET);
  const { logger, lines } = capture();
  const table = new RouteTable();
  const watcher: RouteWatcher = watchRoutes({
    address,
    secret,
    routerId: 'router-test',
    table,
    logger,
    minBackoffMs: 20,
    maxBackoffMs: 50,
    startupGraceMs,
  });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.stop());
  cleanups.push(() => watcher.stop());
  return { server, lines, table, watcher };
}

const warnings = (lines: Array<{ level: number; msg: string }>) =>
  lines.filter((l) => l.level >= 40).map((l) => l.msg);

describe('route watcher at start-up', () => {
  it('logs no warning while Pomegrenade is not up yet within the grace, then synchronises', async () => {
    const { server, lines, table, watcher } = setup(60_000);
    await waitFor(
      () => lines.some((l) => l.msg.startsWith('waiting for the route stream')),
      5_000,
      'retries',
    );
    expect(warnings(lines)).toEqual([]);
    server.setRoutesSilently([route({ projectId: 'p1', hostnames: ['one.apps.test'] })]);
    await server.start();
    await watcher.synced;
    expect(table.routes().map((r) => r.projectId)).toEqual(['p1']);
    expect(warnings(lines)).toEqual([]);
  });

  it('warns once the grace is over and the stream still never came', async () => {
    const { lines } = setup(100);
    await waitFor(() => warnings(lines).length > 0, 5_000, 'a warning');
    expect(warnings(lines)[0]).toMatch(/^no route stream yet: Pomegrenade does not answer/);
  });

  it('warns when a synchronised stream is lost, even within the grace', async () => {
    const { server, lines, watcher } = setup(60_000);
    await server.start();
    await watcher.synced;
    server.breakStreams();
    await waitFor(() => warnings(lines).length > 0, 5_000, 'a warning');
    expect(warnings(lines)[0]).toBe('route stream lost; serving the last known routes');
  });

  it('says at once, grace or not, when Pomegrenade refuses the internal secret', async () => {
    const { server, lines } = setup(60_000, 'not-the-secret-of-pomegrenade-0123');
    await server.start();
    await waitFor(() => warnings(lines).length > 0, 5_000, 'a warning');
    expect(warnings(lines)[0]).toMatch(/^route stream refused: .*internal secret/);
  });

  it('warns at most once a minute while the stream stays down', async () => {
    const { lines } = setup(0);
    await waitFor(
      () => lines.filter((l) => l.msg.startsWith('no route stream')).length > 0,
      5_000,
      'a warning',
    );
    // Retries every 20–50 ms meanwhile.
    await new Promise((r) => setTimeout(r, 600));
    expect(warnings(lines)).toHaveLength(1);
  });
});
