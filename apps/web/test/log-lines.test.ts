import { describe, expect, it } from 'vitest';
import { appendBounded, filterLines, type LogLine, sourceGroups } from '../src/features/logs/log-lines.js';

const line = (seq: number, source: string, text: string): LogLine => ({ seq, time: '', source, text });

describe('log lines', () => {
  const lines = [
    line(1, 'build', 'npm ci'),
    line(2, 'web.1', 'listening on 5000'),
    line(3, 'web.2', 'GET / 200'),
    line(4, 'worker.1', 'job done'),
    line(5, 'web.1', '<script>alert(1)</script>'),
  ];

  it('filters by source group and by case-insensitive search', () => {
    expect(filterLines(lines, 'web', '').map((l) => l.seq)).toEqual([2, 3, 5]);
    expect(filterLines(lines, '', 'LISTENING').map((l) => l.seq)).toEqual([2]);
    expect(filterLines(lines, 'worker', 'listening')).toEqual([]);
  });

  it('treats search text literally (no regex)', () => {
    expect(filterLines(lines, '', '.*')).toEqual([]);
    expect(filterLines(lines, '', '<script>').map((l) => l.seq)).toEqual([5]);
  });

  it('lists the source groups seen', () => {
    expect(sourceGroups(lines)).toEqual(['build', 'web', 'worker']);
  });

  it('keeps only the newest lines beyond the bound', () => {
    const kept = appendBounded(lines.slice(0, 3), lines.slice(3), 4);
    expect(kept.map((l) => l.seq)).toEqual([2, 3, 4, 5]);
  });
});
