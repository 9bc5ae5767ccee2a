// Project logs: rotation keeps the disk bounded, tails span rotated files, filters and followers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchesLogQuery, ProjectLog } from '../src/store/logs.js';

describe('ProjectLog', () => {
  it('rotates at the size bound, keeps at most 3 files, and reads tails across them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plog-'));
    const log = new ProjectLog(dir, 2000, 3);
    for (let i = 1; i <= 200; i++) {
      log.append(i % 2 ? 'web.1' : 'build', `line ${i}`, 1);
      log.flush();
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['project.log', 'project.log.1', 'project.log.2']);
    expect(log.diskBytes()).toBeLessThanOrEqual(3 * 2100);
    // A fresh reader (as after a restart) finds the newest lines on disk, oldest first.
    const reopened = new ProjectLog(dir, 2000, 3);
    expect(reopened.read({ sources: [], tail: 3 }).map((e) => e.text)).toEqual([
      'line 198',
      'line 199',
      'line 200',
    ]);
    expect(reopened.read({ sources: ['web'], tail: 2 }).map((e) => `${e.source} ${e.text}`)).toEqual([
      'web.1 line 197',
      'web.1 line 199',
    ]);
    expect(reopened.read({ sources: [], tail: 0 })).toEqual([]);
  });

  it('hands new lines to followers until they leave', () => {
    const log = new ProjectLog(fs.mkdtempSync(path.join(os.tmpdir(), 'plog-')));
    const seen: string[] = [];
    const stop = log.follow((e) => seen.push(e.text));
    log.append('platform', 'a');
    stop();
    log.append('platform', 'b');
    expect(seen).toEqual(['a']);
  });

  it.each([
    [[], 'web.1', true],
    [['web'], 'web.1', true],
    [['web'], 'web', true],
    [['web'], 'webhook.1', false],
    [['web.2'], 'web.1', false],
    [['build', 'release'], 'release', true],
    [['router'], 'platform', false],
  ])('sources %j match %s: %s', (sources, source, expected) => {
    expect(matchesLogQuery({ time: new Date(), source, text: '', deploymentNumber: 0 }, { sources })).toBe(
      expected,
    );
  });

  it('filters by time', () => {
    const e = { time: new Date('2026-01-02T00:00:00Z'), source: 'web.1', text: '', deploymentNumber: 1 };
    expect(matchesLogQuery(e, { sources: [], since: new Date('2026-01-01T00:00:00Z') })).toBe(true);
    expect(matchesLogQuery(e, { sources: [], since: new Date('2026-01-03T00:00:00Z') })).toBe(false);
  });
});
