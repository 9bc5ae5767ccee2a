// Percentile estimates from a latency histogram: the upper bound of the bucket holding the percentile.
import { describe, expect, it } from 'vitest';
import { estimatePercentile } from '../src/deployments/latency.js';

const BOUNDS = [10, 100, 1000];

describe('estimatePercentile', () => {
  it.each([
    ['empty histogram', [0, 0, 0, 0], 50, null],
    ['one bucket holds everything', [0, 7, 0, 0], 50, { ms: 100, above: false }],
    ['one bucket holds everything, p99', [0, 7, 0, 0], 99, { ms: 100, above: false }],
    ['one answer', [1, 0, 0, 0], 99, { ms: 10, above: false }],
    ['all in the overflow', [0, 0, 0, 3], 50, { ms: 1000, above: true }],
    ['p99 in the overflow, p50 not', [98, 0, 0, 2], 99, { ms: 1000, above: true }],
    ['p50 of the same', [98, 0, 0, 2], 50, { ms: 10, above: false }],
    // Exact boundaries: 50 of 100 answers in the first bucket put p50 there, the 51st would not.
    ['p50 exactly at the end of a bucket', [50, 50, 0, 0], 50, { ms: 10, above: false }],
    ['p50 one past the end of a bucket', [49, 51, 0, 0], 50, { ms: 100, above: false }],
    ['p95 exactly at the end of a bucket', [95, 0, 5, 0], 95, { ms: 10, above: false }],
    ['p95 one past the end of a bucket', [94, 0, 6, 0], 95, { ms: 1000, above: false }],
    ['p99 exactly at the end of a bucket', [0, 99, 0, 1], 99, { ms: 100, above: false }],
    ['p99 one past the end of a bucket', [0, 98, 0, 2], 99, { ms: 1000, above: true }],
    ['p100 is the slowest bucket', [5, 0, 1, 0], 100, { ms: 1000, above: false }],
  ])('%s', (_name, counts, p, expected) => {
    expect(estimatePercentile(BOUNDS, counts, p)).toEqual(expected);
  });

  it.each([
    ['no bounds', [], [3]],
    ['no overflow count', BOUNDS, [1, 2, 3]],
    ['an extra count', BOUNDS, [1, 2, 3, 4, 5]],
    ['negative counts only', BOUNDS, [-1, 0, 0, 0]],
  ])('null for a malformed histogram: %s', (_name, bounds, counts) => {
    expect(estimatePercentile(bounds, counts, 50)).toBeNull();
  });
});
