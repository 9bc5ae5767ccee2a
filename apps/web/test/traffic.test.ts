import { describe, expect, it } from 'vitest';
import {
  formatCount,
  formatLatency,
  formatMs,
  formatRate,
  formatShare,
  type Latency,
  type StatusClasses,
  type Traffic,
  trafficFacts,
} from '../src/features/scale/traffic.js';

/** A traffic object with every count at zero, then `more`. */
function traffic(more: Partial<Traffic> = {}): Traffic {
  return {
    counted_since: '2026-01-01T00:00:00Z',
    requests: 0,
    server_errors: 0,
    router_errors: 0,
    bytes_in: 0,
    bytes_out: 0,
    by_status_class: null,
    last_window: null,
    ...more,
  };
}

type Window = NonNullable<Traffic['last_window']>;

/** A last window of `requests` over `seconds`, without classes or latency but for `more`. */
function lastWindow(seconds: number, requests: number, more: Partial<Window> = {}): Window {
  return {
    start: '',
    end: '',
    seconds,
    requests,
    server_errors: 0,
    router_errors: 0,
    by_status_class: null,
    latency: null,
    ...more,
  };
}

/** Counts by status class, zero but for `more`. */
function classes(more: Partial<StatusClasses> = {}): StatusClasses {
  return { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, ...more };
}

describe('traffic on the overview', () => {
  it('has no facts (the empty state) before the first request', () => {
    expect(trafficFacts(traffic())).toEqual([]);
    expect(trafficFacts(undefined)).toEqual([]);
  });

  it('shows 2xx, 3xx, 4xx and 5xx with their shares, and the 5xx the router answered', () => {
    const facts = trafficFacts(
      traffic({
        requests: 1000,
        server_errors: 20,
        router_errors: 5,
        by_status_class: classes({ '2xx': 890, '3xx': 80, '4xx': 4, '5xx': 26 }),
      }),
    );
    expect(facts).toEqual([
      { label: 'Requests', value: '1,000' },
      { label: '2xx', value: '890 (89%)' },
      { label: '3xx', value: '80 (8%)' },
      { label: '4xx', value: '4 (<1%)' },
      { label: '5xx', value: '26 (3%)' },
      { label: '5xx from the router', value: '5' },
    ]);
  });

  it('shows 1xx only when there are some, and what an older router counted without classes', () => {
    const labels = (c: StatusClasses, requests: number) =>
      trafficFacts(traffic({ requests, by_status_class: c })).map((f) => f.label);
    expect(labels(classes({ '2xx': 3 }), 3)).toEqual([
      'Requests',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      '5xx from the router',
    ]);
    expect(labels(classes({ '1xx': 2, '2xx': 1 }), 3)).toContain('1xx');
    expect(trafficFacts(traffic({ requests: 10, by_status_class: classes({ '2xx': 6 }) }))).toContainEqual({
      label: 'Not classified',
      value: '4',
    });
  });

  it.each([
    ['negative classes', classes({ '2xx': -5, '4xx': 2 }), ['0', '2 (100%)']],
    ['NaN and Infinity', classes({ '2xx': Number.NaN, '4xx': Number.POSITIVE_INFINITY }), ['0', '0']],
  ])('hostile class counts read as 0: %s', (_name, c, [twoxx, fourxx]) => {
    const facts = trafficFacts(traffic({ requests: 2, by_status_class: c }));
    expect(facts.find((f) => f.label === '2xx')?.value).toBe(twoxx);
    expect(facts.find((f) => f.label === '4xx')?.value).toBe(fourxx);
  });

  it.each([
    [0, 10, '0'],
    [5, 10, '5 (50%)'],
    [1, 1000, '1 (<1%)'],
    [3, 2, '3 (100%)'],
    [4, 0, '4'],
    [4, Number.POSITIVE_INFINITY, '4'],
  ])('formatShare(%j, %j) = %j', (n, total, text) => {
    expect(formatShare(n, total)).toBe(text);
  });

  it('splits the total by who answered (a router older than the classes) and shows the last window rate', () => {
    const facts = trafficFacts(
      traffic({
        requests: 1234,
        server_errors: 30,
        router_errors: 4,
        last_window: {
          start: '2026-01-01T00:00:00Z',
          end: '2026-01-01T00:00:30Z',
          seconds: 30,
          requests: 12,
          server_errors: 0,
          router_errors: 0,
          by_status_class: null,
          latency: null,
        },
      }),
    );
    expect(facts).toEqual([
      { label: 'Requests', value: '1,234' },
      { label: '1xx–4xx from the app', value: '1,200' },
      { label: '5xx from the app', value: '30' },
      { label: '502/503/504 from the router', value: '4' },
      { label: 'Last 30 s', value: '12 requests (24/min)' },
      { label: 'Latency, last 30 s', value: '–' },
    ]);
  });

  it.each([
    [0, 30, ''],
    [5, 0, ''],
    [300, 30, '10/s'],
    [45, 30, '1.5/s'],
    [1, 60, '1.0/min'],
    [Number.NaN, 30, ''],
    [-5, 30, ''],
  ])('formatRate(%j, %j) = %j', (requests, seconds, text) => {
    expect(formatRate(requests, seconds)).toBe(text);
  });

  it.each([
    [0, '0'],
    [1_000_000, '1,000,000'],
    [-3, '0'],
    [Number.POSITIVE_INFINITY, '0'],
    [2.7, '2'],
  ])('formatCount(%j) = %j', (n, text) => {
    expect(formatCount(n)).toBe(text);
  });

  it('says "1 request", not "1 requests"', () => {
    const window = lastWindow(60, 1);
    expect(trafficFacts(traffic({ requests: 1, last_window: window })).at(-2)).toEqual({
      label: 'Last 60 s',
      value: '1 request (1.0/min)',
    });
  });

  const estimate = (ms: number, above = false) => ({ ms, above });
  const latency = (more: Partial<Latency> = {}): Latency => ({
    buckets_ms: [5, 25, 10_000],
    counts: [0, 0, 0, 0],
    p50: null,
    p95: null,
    p99: null,
    ...more,
  });
  it.each([
    ['no histogram (an older router)', null, '–'],
    ['no request in the window', latency(), '–'],
    [
      'every percentile in a bucket',
      latency({ p50: estimate(5), p95: estimate(25), p99: estimate(25) }),
      'p50 ≤ 5 ms · p95 ≤ 25 ms · p99 ≤ 25 ms',
    ],
    [
      'p99 in the overflow',
      latency({ p50: estimate(5), p95: estimate(2500), p99: estimate(10_000, true) }),
      'p50 ≤ 5 ms · p95 ≤ 2.5 s · p99 > 10 s',
    ],
  ])('latency: %s', (_name, l, text) => {
    expect(formatLatency(l)).toBe(text);
  });

  it.each([
    [0, '0 ms'],
    [999, '999 ms'],
    [1000, '1 s'],
    [2500, '2.5 s'],
    [-1, '–'],
    [Number.NaN, '–'],
  ])('formatMs(%j) = %j', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  it('shows the last window latency next to its request count', () => {
    const window = lastWindow(30, 40, {
      latency: latency({ p50: estimate(5), p95: estimate(25), p99: estimate(10_000, true) }),
    });
    expect(trafficFacts(traffic({ requests: 40, last_window: window })).slice(-2)).toEqual([
      { label: 'Last 30 s', value: '40 requests (1.3/s)' },
      { label: 'Latency, last 30 s', value: 'p50 ≤ 5 ms · p95 ≤ 25 ms · p99 > 10 s' },
    ]);
  });

  it('never shows a negative 1xx–4xx count when the counts disagree', () => {
    const facts = trafficFacts(traffic({ requests: 3, server_errors: 5, router_errors: 1 }));
    expect(facts[1]).toEqual({ label: '1xx–4xx from the app', value: '0' });
  });
});
