// Router traffic end to end through the real Pomegrenade: ReportRouterStats deltas are summed and
// read back in GetProjectStatus; the counters themselves refuse hostile reports.
import * as grpc from '@grpc/grpc-js';
import { internalMetadata } from '@paastech/kit';
import { type deploy, routing } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StatusClassCounts, TrafficCounters, type TrafficCounts } from '../src/domain/traffic.js';
import { readPomegrenadeConfig } from '../src/index.js';
import { fixture } from './support/git-server.js';
import { type Harness, startHarness } from './support/pomegrenade.js';

let h: Harness;
let router: routing.RoutingServiceClient;

beforeAll(async () => {
  h = await startHarness({ PAASTECH_DRAIN_SECONDS: '0' });
  router = new routing.RoutingServiceClient(
    readPomegrenadeConfig(h.env).grpcAddress,
    grpc.credentials.createInsecure(),
  );
});

afterAll(async () => {
  router?.close();
  await h?.stop();
});

/** Sends one router report. */
function report(req: routing.ReportRouterStatsRequest): Promise<void> {
  return new Promise((resolve, reject) =>
    router.reportRouterStats(req, internalMetadata(h.env.PAASTECH_INTERNAL_SECRET as string), (e) =>
      e ? reject(e) : resolve(),
    ),
  );
}

/** One project's counts as the router sends them. */
function stats(
  projectId: string,
  requests: number,
  serverErrors = 0,
  unavailable = 0,
): routing.ProjectTrafficStats {
  return {
    projectId,
    requestCount: requests,
    serverErrorCount: serverErrors,
    unavailableCount: unavailable,
    bytesIn: requests * 100,
    bytesOut: requests * 1000,
  };
}

const status = (projectId: string) =>
  h.call<deploy.GetProjectStatusRequest, deploy.GetProjectStatusResponse>('getProjectStatus', { projectId });

describe('router traffic in GetProjectStatus', () => {
  it('shows zero counts and no window before the router ever reported', async () => {
    const commit = await h.repo('quiet').commitFixture(fixture('node-hello'));
    await h.deploy('quiet', 1, commit);
    const s = await status('quiet');
    expect(s.traffic?.requestCount).toBe(0);
    expect(s.traffic?.lastWindow).toBeUndefined();
    expect(s.traffic?.countedSince).toBeInstanceOf(Date);
    expect((await status('never-seen')).traffic).toBeUndefined();
  });

  it('sums the deltas of every report and keeps the last window', async () => {
    const commit = await h.repo('web').commitFixture(fixture('node-hello'));
    const { deployment } = await h.deploy('web', 1, commit);
    expect(deployment.failure?.message).toBeUndefined();
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-01-01T00:00:30Z');
    const t2 = new Date('2026-01-01T00:01:00Z');
    await report({ routerId: 'r1', windowStart: t0, windowEnd: t1, projects: [stats('web', 10, 2, 1)] });
    await report({
      routerId: 'r1',
      windowStart: t1,
      windowEnd: t2,
      projects: [stats('web', 5, 0, 3), stats('other', 7)],
    });
    const s = await status('web');
    expect(s.activeDeployment?.number).toBe(1);
    expect(s.traffic).toMatchObject({
      requestCount: 15,
      serverErrorCount: 2,
      unavailableCount: 4,
      bytesIn: 1500,
      bytesOut: 15_000,
      lastWindow: {
        windowStart: t1,
        windowEnd: t2,
        requestCount: 5,
        serverErrorCount: 0,
        unavailableCount: 3,
      },
    });
    expect((await status('other')).traffic?.requestCount).toBe(7);
  });

  it('a report without the project makes its last window zero but keeps its total', async () => {
    const t2 = new Date('2026-01-01T00:01:00Z');
    const t3 = new Date('2026-01-01T00:01:30Z');
    await report({ routerId: 'r1', windowStart: t2, windowEnd: t3, projects: [stats('other', 1)] });
    const s = await status('web');
    expect(s.traffic?.requestCount).toBe(15);
    expect(s.traffic?.lastWindow).toMatchObject({ windowEnd: t3, requestCount: 0 });
  });

  it('sums requests by status class across routers, from the reports that carry them', async () => {
    const commit = await h.repo('classy').commitFixture(fixture('node-hello'));
    await h.deploy('classy', 1, commit);
    const t3 = new Date('2026-01-01T00:01:30Z');
    const t4 = new Date('2026-01-01T00:02:00Z');
    const t5 = new Date('2026-01-01T00:02:30Z');
    // A router older than by_status_class: totals move, classes stay absent.
    await report({ routerId: 'old', windowStart: t3, windowEnd: t4, projects: [stats('classy', 4)] });
    let s = await status('classy');
    expect(s.traffic?.requestCount).toBe(4);
    expect(s.traffic?.byStatusClass).toBeUndefined();
    expect(s.traffic?.lastWindow?.byStatusClass).toBeUndefined();
    expect(s.traffic?.lastWindow?.latency).toBeUndefined();
    // Two routers in one interval: their classes add up, in the totals and in the last window.
    await report({
      routerId: 'r1',
      windowStart: t4,
      windowEnd: t5,
      projects: [
        {
          ...stats('classy', 10, 2, 1),
          byStatusClass: classes({
            informational: 1,
            success: 6,
            redirection: 1,
            clientError: 0,
            serverError: 3,
          }),
        },
      ],
    });
    await report({
      routerId: 'r2',
      windowStart: t4,
      windowEnd: t5,
      projects: [
        {
          ...stats('classy', 5),
          byStatusClass: classes({ success: 3, clientError: 2 }),
          latency: { upperBoundsMs: [10, 100], counts: [2, 2, 1] },
        },
      ],
    });
    s = await status('classy');
    expect(s.traffic?.requestCount).toBe(19);
    expect(s.traffic?.byStatusClass).toEqual({
      informational: 1,
      success: 9,
      redirection: 1,
      clientError: 2,
      serverError: 3,
    });
    // The window is r2's report alone: each report is a window of its own.
    expect(s.traffic?.lastWindow?.byStatusClass).toEqual(classes({ success: 3, clientError: 2 }));
    expect(s.traffic?.lastWindow?.latency).toEqual({ upperBoundsMs: [10, 100], counts: [2, 2, 1] });
  });

  it('forgets the counters of a deleted project', async () => {
    expect((await status('other')).traffic?.requestCount).toBe(8);
    await h.call('deleteProject', { projectId: 'other' });
    expect((await status('other')).traffic).toBeUndefined();
  });
});

/** Counts by status class: zeros but for `more` (the domain's and the wire's shapes are one). */
const classes = (more: Partial<StatusClassCounts> = {}): StatusClassCounts => ({
  informational: 0,
  success: 0,
  redirection: 0,
  clientError: 0,
  serverError: 0,
  ...more,
});

const counts = (requests: number, more: Partial<TrafficCounts> = {}): TrafficCounts => ({
  requests,
  serverErrors: 0,
  unavailable: 0,
  bytesIn: 0,
  bytesOut: 0,
  ...more,
});

describe('TrafficCounters with hostile reports', () => {
  const window = { start: new Date(0), end: new Date(1000) };
  it.each([
    ['negative counts', counts(-5, { serverErrors: -1 }), 0, 0],
    ['NaN', counts(Number.NaN), 0, 0],
    ['Infinity', counts(Number.POSITIVE_INFINITY), 0, 0],
    ['fractions are floored', counts(2.9, { serverErrors: 1.5 }), 2, 1],
  ])('%s', (_name, bad, requests, serverErrors) => {
    const c = new TrafficCounters();
    c.record({ ...window, projects: new Map([['p', counts(3)]]) });
    c.record({ ...window, projects: new Map([['p', bad]]) });
    expect(c.of('p')).toMatchObject({ requests: 3 + requests, serverErrors });
    expect(c.of('p').lastWindow?.requests).toBe(requests);
  });

  it.each([
    ['negative', classes({ success: -4, serverError: -1 }), classes()],
    ['NaN and Infinity', classes({ success: Number.NaN, clientError: Number.POSITIVE_INFINITY }), classes()],
    ['fractions are floored', classes({ redirection: 1.9, informational: 0.5 }), classes({ redirection: 1 })],
  ])('status classes: %s', (_name, bad, added) => {
    const c = new TrafficCounters();
    const good = classes({ success: 3, clientError: 1 });
    c.record({ ...window, projects: new Map([['p', counts(4, { byStatusClass: good })]]) });
    c.record({ ...window, projects: new Map([['p', counts(1, { byStatusClass: bad })]]) });
    expect(c.of('p').byStatusClass).toEqual({
      informational: good.informational + added.informational,
      success: good.success + added.success,
      redirection: good.redirection + added.redirection,
      clientError: good.clientError + added.clientError,
      serverError: good.serverError + added.serverError,
    });
    expect(c.of('p').lastWindow?.byStatusClass).toEqual(added);
  });

  it('keeps the classes of earlier reports when a later one has none, and a window without them', () => {
    const c = new TrafficCounters();
    c.record({
      ...window,
      projects: new Map([['p', counts(2, { byStatusClass: classes({ success: 2 }) })]]),
    });
    c.record({ ...window, projects: new Map([['p', counts(3)]]) });
    expect(c.of('p')).toMatchObject({ requests: 5, byStatusClass: classes({ success: 2 }) });
    expect(c.of('p').lastWindow).toMatchObject({ requests: 3 });
    expect(c.of('p').lastWindow?.byStatusClass).toBeUndefined();
  });

  const histogram = (upperBoundsMs: number[], counts: number[]) => ({ upperBoundsMs, counts });
  it.each([
    ['a sane one', histogram([1, 5], [1, 2, 3]), histogram([1, 5], [1, 2, 3])],
    ['bad counts become 0', histogram([1, 5], [-1, Number.NaN, 2.7]), histogram([1, 5], [0, 0, 2])],
    ['no overflow bucket', histogram([1, 5], [1, 2]), undefined],
    ['an extra count', histogram([1, 5], [1, 2, 3, 4]), undefined],
    ['bounds not ascending', histogram([5, 1], [1, 2, 3]), undefined],
    ['a repeated bound', histogram([5, 5], [1, 2, 3]), undefined],
    ['a negative bound', histogram([-1, 5], [1, 2, 3]), undefined],
    ['a NaN bound', histogram([Number.NaN, 5], [1, 2, 3]), undefined],
    ['too many buckets', histogram([...Array(100).keys()], new Array(101).fill(1)), undefined],
  ])('latency histogram: %s', (_name, latency, kept) => {
    const c = new TrafficCounters();
    c.record({ ...window, projects: new Map([['p', counts(6, { latency })]]) });
    expect(c.of('p').lastWindow?.latency).toEqual(kept);
    expect(c.of('p').lastWindow?.requests).toBe(6);
    expect(c.of('p')).not.toHaveProperty('latency');
  });

  it('keeps the histogram for the last window only', () => {
    const c = new TrafficCounters();
    c.record({ ...window, projects: new Map([['p', counts(1, { latency: histogram([1], [1, 0]) })]]) });
    c.record({ ...window, projects: new Map([['p', counts(2)]]) });
    expect(c.of('p').lastWindow?.latency).toBeUndefined();
  });

  it('ignores an empty project id', () => {
    const c = new TrafficCounters();
    c.record({ ...window, projects: new Map([['', counts(9)]]) });
    expect(c.of('').requests).toBe(0);
  });
});
