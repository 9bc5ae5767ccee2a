// The access-log files: the batched writer of the node plane and the follower that reads what
// HAProxy writes for the haproxy plane (partial lines, rotation, HAProxy's non-append offset).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessLogWriter } from '../src/accesslog.js';
import { AccessLogFollower } from '../src/haproxy/accesslog.js';
import type { RequestRecord } from '../src/stats.js';
import { tempDir } from './support/harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp dir, removed after the test. */
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

const record = (requestId: string, projectName = 'shop'): RequestRecord => ({
  projectId: 'p',
  projectName,
  method: 'GET',
  status: 200,
  bytesIn: 0,
  bytesOut: 10,
  durationMs: 1.23456,
  upstream: '127.0.0.1:1',
  byRouter: false,
  requestId,
});

describe('access log writer (node plane)', () => {
  it('writes one JSON line per request, batched until flushed', () => {
    const file = path.join(dir(), 'router', 'access.log');
    const w = new AccessLogWriter(file);
    w.write(record('a'));
    w.write(record('b', 'we"ird\nname'));
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    w.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({ component: 'access', project: 'shop', status: 200, durationMs: 1.235 });
    expect(b.project).toBe('we"ird\nname');
    expect(b.requestId).toBe('b');
  });

  it('rotates to access.log.1 past its size limit', () => {
    const file = path.join(dir(), 'access.log');
    const w = new AccessLogWriter(file, 1000);
    for (let i = 0; i < 20; i++) w.write(record(`r${i}`));
    w.flush();
    w.write(record('after'));
    w.close();
    expect(fs.readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean)).toHaveLength(20);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).requestId).toBe('after');
  });
});

describe('access log follower (haproxy plane)', () => {
  /** A writer that behaves like HAProxy: writes at its own offset (no O_APPEND). */
  const haproxyLike = (follower: AccessLogFollower, file: string) => {
    const fd = follower.openForWriter();
    fs.closeSync(fd);
    let pos = fs.statSync(file).size;
    const out = fs.openSync(file, 'r+');
    return {
      write(text: string) {
        pos += fs.writeSync(out, text, pos);
      },
      close: () => fs.closeSync(out),
    };
  };

  it('hands over complete lines once, keeps a partial line for the next read', () => {
    const file = path.join(dir(), 'access.log');
    fs.writeFileSync(file, '{"old":1}\n');
    const seen: string[] = [];
    const f = new AccessLogFollower(file, (l) => seen.push(l), 1 << 20);
    const w = haproxyLike(f, file);
    w.write('{"a":1}\n{"b":');
    f.poll();
    expect(seen.filter(Boolean)).toEqual(['{"a":1}']);
    w.write('2}\n');
    f.poll();
    f.poll();
    expect(seen.filter(Boolean)).toEqual(['{"a":1}', '{"b":2}']);
    w.close();
  });

  it('rotates by size and keeps reading past the hole a non-append writer leaves', () => {
    const file = path.join(dir(), 'access.log');
    const seen: string[] = [];
    const f = new AccessLogFollower(file, (l) => seen.push(l), 100);
    const w = haproxyLike(f, file);
    const lines = Array.from({ length: 5 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(20)}"}\n`);
    for (const l of lines) w.write(l);
    f.poll();
    // Rotated: the lines moved to access.log.1 and the file was emptied (its blocks freed).
    expect(fs.readFileSync(`${file}.1`, 'utf8')).toContain('"n":4');
    w.write('{"n":5}\n');
    f.poll();
    expect(seen.filter(Boolean).map((l) => JSON.parse(l).n)).toEqual([0, 1, 2, 3, 4, 5]);
    w.close();
  });
});
