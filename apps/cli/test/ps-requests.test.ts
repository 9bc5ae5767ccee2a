import { describe, expect, it } from 'vitest';
import { requestsLine } from '../src/commands/ps/index.js';

const base = {
  counted_since: '2026-01-01T00:00:00Z',
  requests: 0,
  server_errors: 0,
  router_errors: 0,
  bytes_in: 0,
  bytes_out: 0,
  by_status_class: null,
  last_window: null,
};
const window = {
  start: '',
  end: '',
  seconds: 30,
  requests: 12,
  server_errors: 0,
  router_errors: 0,
  by_status_class: null,
  latency: null,
};
const latency = {
  buckets_ms: [5, 25, 10_000],
  counts: [6, 5, 0, 1],
  p50: { ms: 5, above: false },
  p95: { ms: 2500, above: false },
  p99: { ms: 10_000, above: true },
};
const classes = { '1xx': 0, '2xx': 1200, '3xx': 20, '4xx': 11, '5xx': 3 };

describe('paastech ps: requests line', () => {
  it.each([
    ['no traffic object (older API)', undefined, 'requests: none yet'],
    ['zero requests', base, 'requests: none yet'],
    [
      'counts without a window',
      { ...base, requests: 1234, server_errors: 3, router_errors: 1 },
      'requests: 1,234 (5xx from the app: 3, 502/503/504 from the router: 1)',
    ],
    [
      'counts with the last window',
      { ...base, requests: 50, last_window: window },
      'requests: 50 (5xx from the app: 0, 502/503/504 from the router: 0), last 30 s: 12',
    ],
    [
      'by status class',
      {
        ...base,
        requests: 1234,
        server_errors: 2,
        router_errors: 1,
        by_status_class: classes,
        last_window: window,
      },
      'requests: 1,234 (2xx: 1,200, 3xx: 20, 4xx: 11, 5xx: 3, of which 502/503/504 from the router: 1), last 30 s: 12',
    ],
    [
      '1xx only when there are some',
      {
        ...base,
        requests: 3,
        by_status_class: { ...classes, '1xx': 2, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0 },
      },
      'requests: 3 (1xx: 2, 2xx: 1, 3xx: 0, 4xx: 0, 5xx: 0, of which 502/503/504 from the router: 0)',
    ],
    [
      'hostile class counts read as 0',
      {
        ...base,
        requests: 2,
        by_status_class: { ...classes, '2xx': -1, '4xx': Number.NaN, '1xx': Number.NaN },
      },
      'requests: 2 (2xx: 0, 3xx: 20, 4xx: 0, 5xx: 3, of which 502/503/504 from the router: 0)',
    ],
    [
      'the last window latency',
      { ...base, requests: 50, last_window: { ...window, latency } },
      'requests: 50 (5xx from the app: 0, 502/503/504 from the router: 0), last 30 s: 12, p50 <= 5 ms, p95 <= 2.5 s, p99 > 10 s',
    ],
    [
      'a window without requests: no latency',
      { ...base, requests: 50, last_window: { ...window, requests: 0, latency: { ...latency, p50: null } } },
      'requests: 50 (5xx from the app: 0, 502/503/504 from the router: 0), last 30 s: 0',
    ],
    [
      'a hostile estimate reads as -',
      {
        ...base,
        requests: 50,
        last_window: { ...window, latency: { ...latency, p95: { ms: Number.NaN, above: false }, p99: null } },
      },
      'requests: 50 (5xx from the app: 0, 502/503/504 from the router: 0), last 30 s: 12, p50 <= 5 ms, p95 -, p99 -',
    ],
    [
      'hostile counts read as 0',
      { ...base, requests: 5, server_errors: -4, router_errors: Number.NaN },
      'requests: 5 (5xx from the app: 0, 502/503/504 from the router: 0)',
    ],
  ])('%s', (_name, traffic, line) => {
    expect(requestsLine(traffic)).toBe(line);
  });
});
