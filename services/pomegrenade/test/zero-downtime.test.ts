// Zero-downtime redeploys: 20 deployments in a row while a load loop sends ~200 requests per second
// straight to whatever RoutingService currently lists as healthy. Not one request may fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/git-server.js';
import { type Harness, hitStatus, httpGet, readLogs, startHarness } from './support/pomegrenade.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ PAASTECH_DRAIN_SECONDS: '1' });
});

afterAll(async () => {
  await h?.stop();
});

describe('zero-downtime switch', () => {
  it('serves every request during 20 redeploys under ~200 req/s', async () => {
    const repo = h.repo('zd');
    const first = await h.deploy('zd', 1, await repo.commitFixture(fixture('node-hello')));
    expect(first.deployment.failure?.message).toBeUndefined();

    const results = new Map<string, number>();
    const inFlight = new Set<Promise<void>>();
    let turn = 0;
    let logsWhenEmpty: Promise<string[]> | undefined;
    const timer = setInterval(() => {
      const ups = h.routes.upstreams('zd');
      if (ups.length === 0) {
        // Why, as Pomegrenade published it (a failure then says which state emptied the route).
        const why = `no upstream: ${h.routes.table.get('zd')?.unavailableMessage ?? 'no route'}`;
        results.set(why, (results.get(why) ?? 0) + 1);
        // And the project's last log lines then (the instance's own output and the platform's).
        if (logsWhenEmpty === undefined)
          logsWhenEmpty = readLogs(h, 'zd', [], 60).catch((e: Error) => [e.message]);
        return;
      }
      const p = hitStatus(ups[turn++ % ups.length] as string).then((r) => {
        results.set(r, (results.get(r) ?? 0) + 1);
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }, 5);

    for (let n = 2; n <= 21; n++) {
      const commit = await repo.commitFixture(fixture('node-hello'), { VERSION: `${n}\n` });
      const { deployment } = await h.deploy('zd', n, commit);
      expect(deployment.failure?.message, `v${n}`).toBeUndefined();
    }
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(timer);
    await Promise.all(inFlight);

    const ok = results.get('200') ?? 0;
    const logs = logsWhenEmpty ? `\nlogs when the route emptied:\n${(await logsWhenEmpty).join('\n')}` : '';
    expect(Object.fromEntries(results), logs).toEqual({ '200': ok });
    expect(ok).toBeGreaterThan(500);
    expect((await httpGet(h.routes.upstreams('zd')[0] as string)).body).toBe('hello from v21 (web.1)\n');
  }, 120_000);
});
