import { describe, expect, it } from 'vitest';
import { formatBytes, timeAgo } from '../src/shared/format.js';

describe('format', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it.each([
    ['2026-01-01T11:59:50Z', 'just now'],
    ['2026-01-01T11:55:00Z', '5 minutes ago'],
    ['2026-01-01T09:00:00Z', '3 hours ago'],
    ['2025-12-30T12:00:00Z', '2 days ago'],
    ['not a date', ''],
    [null, ''],
  ])('timeAgo(%j)', (when, text) => {
    expect(timeAgo(when, now)).toBe(text);
  });

  it.each([
    [0, '0 B'],
    [1536, '1.5 KiB'],
    [50 * 1024 * 1024, '50 MiB'],
    [-1, ''],
  ])('formatBytes(%i) = %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
