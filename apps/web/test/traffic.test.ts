import { describe, expect, it } from 'vitest';
import { formatCount, formatRate, type Traffic, trafficFacts } from '../src/features/scale/traffic.js';

/** A traffic object with every count at zero, then `more`. */
function traffic(more: Partial<Traffic> = {}): Traffic {
  return {
    counted_since: '2026-01-01T00:00:00Z',
    requests: 0,
    server_errors: 0,
    router_errors: 0,
    bytes_in: 0,
    bytes_out: 0,
    last_window: null,
    ...more,
  };
}

describe('traffic on the overview', () => {
  it('has no facts (the empty state) before the first request', () => {
    expect(trafficFacts(traffic())).toEqual([]);
    expect(trafficFacts(undefined)).toEqual([]);
  });

  it('splits the total by who answered and shows the last window rate', () => {
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
        },
      }),
    );
    expect(facts).toEqual([
      { label: 'Requests', value: '1,234' },
      { label: '1xx–4xx from the app', value: '1,200' },
      { label: '5xx from the app', value: '30' },
      { label: '502/503/504 from the router', value: '4' },
      { label: 'Last 30 s', value: '12 requests (24/min)' },
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
    const window = { start: '', end: '', seconds: 60, requests: 1, server_errors: 0, router_errors: 0 };
    expect(trafficFacts(traffic({ requests: 1, last_window: window })).at(-1)).toEqual({
      label: 'Last 60 s',
      value: '1 request (1.0/min)',
    });
  });

  it('never shows a negative 1xx–4xx count when the counts disagree', () => {
    const facts = trafficFacts(traffic({ requests: 3, server_errors: 5, router_errors: 1 }));
    expect(facts[1]).toEqual({ label: '1xx–4xx from the app', value: '0' });
  });
});
