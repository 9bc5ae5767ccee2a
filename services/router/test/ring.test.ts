// The haproxy plane's access log through HAProxy's memory ring: lines parsed strictly, every request
// counted and written to access.log, across a crash and restart and a reload of HAProxy, a broken
// stream attached again, and a soft-stopping worker let go once its requests are done.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createLogger } from '@paastech/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAccessLine, RingFollower } from '../src/haproxy/ring.js';
import { haproxyAvailable } from '../src/index.js';
import { Backend, type Echo } from './support/backend.js';
import { admin, type Harness, request, startHarness, tempDir, waitFor } from './support/harness.js';
import { haproxiesIn } from './support/processes.js';
import { route } from './support/routing-server.js';

const GOOD =
  '{"level":30,"time":1,"service":"router","component":"access","project":"shop","host":"shop.apps.test","backend":"s0","method":"GET","status":200,"bytes":5,"bytesIn":0,"durationMs":1,"upstream":"127.0.0.1:9","requestId":"r1","termination":"--","msg":"request"}';

describe('parseAccessLine', () => {
  it('reads a line in ACCESS_LOG_FORMAT', () => {
    expect(parseAccessLine(GOOD)).toMatchObject({ host: 'shop.apps.test', status: 200, requestId: 'r1' });
  });

  it.each([
    ['an HAProxy notice', 'Proxy edge stopped (cumulated conns: FE: 1, BE: 0).'],
    ['show info output', 'Pid: 1234'],
    ['an empty line', ''],
    ['a line cut by maxlen', GOOD.slice(0, 120)],
    ['a JSON array', '[{"component":"access"}]'],
    ['null', 'null'],
    ['another component', GOOD.replace('"access"', '"other"')],
    ['a status that is a string', GOOD.replace('"status":200', '"status":"200"')],
    ['a missing host', GOOD.replace('"host":"shop.apps.test",', '')],
    ['a host that is an object', GOOD.replace('"host":"shop.apps.test"', '"host":{"toString":1}')],
    ['a duration out of range', GOOD.replace('"durationMs":1', '"durationMs":1e999')],
    ['a leading space', ` ${GOOD}`],
  ])('ignores %s', (_name, line) => {
    expect(parseAccessLine(line)).toBeUndefined();
  });
});

describe('RingFollower on a stream that breaks', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('attaches again from the ring end (-wn) when the stream of a live worker breaks', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const socket = path.join(dir, 'fake.sock');
    // Speaks like HAProxy's CLI: show info, then events; the first connection breaks.
    const commands: string[] = [];
    const conns: net.Socket[] = [];
    const server = net.createServer((c) => {
      conns.push(c);
      c.once('data', (b) => {
        commands.push(b.toString());
        c.write(`Name: HAProxy\nPid: 4242\n\n${GOOD.replace('r1', `r${commands.length}`)}\nnot json\n`);
        if (commands.length === 1) setTimeout(() => c.destroy(), 50);
      });
    });
    await new Promise<void>((r) => server.listen(socket, r));
    const lines: string[] = [];
    const follower = new RingFollower(
      socket,
      'access',
      (l) => lines.push(l),
      async () => 4242,
      () => [],
      createLogger('router', { level: 'silent', format: 'json' }),
    );
    try {
      follower.attach();
      await waitFor(() => commands.length === 2 && lines.length === 2, 5_000, 'reattached');
      expect(commands).toEqual(['show info; show events access -w\n', 'show info; show events access -wn\n']);
      expect(lines.map((l) => parseAccessLine(l)?.requestId)).toEqual(['r1', 'r2']);
    } finally {
      follower.close();
      for (const c of conns) c.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe.skipIf(!haproxyAvailable())('haproxy access log through the ring', () => {
  type Stats = { projects: Record<string, { requests: number }> };
  let h: Harness;
  let a: Backend;
  const one = () =>
    route({
      projectId: 'p1',
      projectName: 'one',
      hostnames: ['one.apps.test'],
      upstreamAddresses: [a.address],
    });
  const counted = async () => (await admin<Stats>(h.dataDir, '/stats')).projects.p1?.requests ?? 0;
  const accessLines = () =>
    fs
      .readFileSync(`${h.dataDir}/router/access.log`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { project: string; requestId: string; status: number });
  /** Sends `n` requests one after another; returns the X-Request-Id values the instance saw. */
  const send = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await request(h.port, 'one.apps.test', '/echo');
      expect(r.status).toBe(200);
      ids.push(String((JSON.parse(r.body) as Echo).headers['x-request-id']));
    }
    return ids;
  };
  /** The counters once they stop moving (lines of earlier requests may still be on their way). */
  const settled = async () => {
    let last = -1;
    for (let n = await counted(); n !== last; n = await counted()) {
      last = n;
      await new Promise((r) => setTimeout(r, 200));
    }
    return last;
  };
  /** Waits until the counters have `n` requests more than `before`, and checks none more come. */
  const expectCounted = async (before: number, n: number) => {
    await waitFor(async () => (await counted()) >= before + n, 5_000, `${n} requests counted`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await counted()).toBe(before + n);
  };

  beforeAll(async () => {
    a = await new Backend('a').start();
    // A long drain bound: a worker held by the log stream would show as a stop taking 20 s.
    h = await startHarness('haproxy', { PAASTECH_ROUTER_DRAIN_TIMEOUT_MS: '20000' });
    h.routes.setRoutes([one()]);
    await waitFor(
      async () => (await request(h.port, 'one.apps.test', '/echo')).status === 200,
      10_000,
      'route',
    );
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
  });

  it('counts every request and writes one access.log line per request', async () => {
    const before = await settled();
    const ids = await send(25);
    await expectCounted(before, 25);
    await waitFor(() => ids.every((id) => accessLines().some((l) => l.requestId === id)), 3_000, 'lines');
    const mine = accessLines().filter((l) => ids.includes(l.requestId));
    expect(mine).toHaveLength(25);
    expect(mine.every((l) => l.project === 'one' && l.status === 200)).toBe(true);
  });

  it('keeps counting after HAProxy crashes and is restarted', async () => {
    const before = await settled();
    await send(5);
    await expectCounted(before, 5);
    const [master] = haproxiesIn(h.dataDir);
    process.kill(master as number, 'SIGKILL');
    await waitFor(() => !haproxiesIn(h.dataDir).includes(master as number), 5_000, 'old haproxy gone');
    await waitFor(
      async () =>
        (await request(h.port, 'one.apps.test', '/echo').catch(() => ({ status: 0 }))).status === 200,
      15_000,
      'restarted',
    );
    // The probe that found it serving again is counted too: start from settled counters.
    const after = await settled();
    await send(10);
    await expectCounted(after, 10);
  });

  it('keeps counting across a reload, and lets the old worker exit once its requests are done', async () => {
    const before = await settled();
    await send(5);
    const workers = haproxiesIn(h.dataDir);
    // More projects than slots: a reload (new worker, new ring).
    h.routes.setRoutes([
      one(),
      ...Array.from({ length: 40 }, (_, i) =>
        route({ projectId: `m${i}`, hostnames: [`m${i}.apps.test`], upstreamAddresses: [a.address] }),
      ),
    ]);
    await waitFor(
      async () => (await request(h.port, 'm39.apps.test', '/echo')).status === 200,
      15_000,
      'reload',
    );
    await send(5);
    await expectCounted(before, 10);
    // The old worker (hard-stop-after 20 s) exits well before, although the router read its ring.
    expect(workers).toHaveLength(2);
    await waitFor(() => haproxiesIn(h.dataDir).length === 2, 5_000, 'old worker exited');
    expect(haproxiesIn(h.dataDir)).not.toEqual(workers);
  });

  it('stops without waiting for the drain bound, with the last requests counted', async () => {
    const ids = await send(3);
    const started = Date.now();
    await h.router.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(haproxiesIn(h.dataDir)).toEqual([]);
    const logged = accessLines().map((l) => l.requestId);
    expect(ids.filter((id) => logged.includes(id))).toEqual(ids);
    await h.restart();
    await waitFor(
      async () => (await request(h.port, 'one.apps.test', '/echo')).status === 200,
      10_000,
      'again',
    );
  });
});
