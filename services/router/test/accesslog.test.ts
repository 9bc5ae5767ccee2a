// The access-log file both data planes write through: batched lines, rotation by size, and a full
// disk that drops lines instead of taking the router down.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessLogWriter } from '../src/accesslog.js';
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

/** The requestId of every line of `file`. */
function requestIds(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l).requestId);
}

describe('access log writer', () => {
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
    expect(a).toMatchObject({ project: 'shop', status: 200, durationMs: 1.235 });
    // The fields of the haproxy plane's lines that the node plane has too, in the same order.
    expect(Object.keys(a)).toEqual([
      'time',
      'project',
      'method',
      'status',
      'bytes',
      'bytesIn',
      'durationMs',
      'upstream',
      'requestId',
    ]);
    expect(b.project).toBe('we"ird\nname');
    expect(b.requestId).toBe('b');
  });

  it('writes ready-made lines as they are, in order with the lines it makes itself', () => {
    const file = path.join(dir(), 'access.log');
    const w = new AccessLogWriter(file);
    w.write(record('a'));
    w.writeLines(Buffer.from('{"requestId":"h1"}\n{"requestId":"h2"}\n'), 2);
    w.write(record('b'));
    w.write(record('c'));
    w.writeLines(Buffer.from('{"requestId":"h3"}\n'), 1);
    w.writeLines(Buffer.alloc(0), 0);
    w.close();
    const ids = requestIds(file);
    expect(ids).toEqual(['a', 'h1', 'h2', 'b', 'c', 'h3']);
  });

  it.each([
    ['a small chunk (copied, written later)', 3],
    ['a chunk of 64 KiB or more (written at once)', 2_000],
  ])('is done with the bytes of ready-made lines when writeLines returns: %s', (_name, lines) => {
    const file = path.join(dir(), 'access.log');
    const w = new AccessLogWriter(file);
    w.write(record('before'));
    // The haproxy plane reads every batch into the same buffer: overwrite it after each call.
    const reused = Buffer.alloc(lines * 40);
    for (const batch of ['x', 'y']) {
      const text = Array.from({ length: lines }, (_, i) => `{"requestId":"${batch}${i}"}`.padEnd(39)).join(
        '\n',
      );
      const n = reused.write(`${text}\n`, 'latin1');
      w.writeLines(reused.subarray(0, n), lines);
      reused.fill('#');
    }
    w.close();
    const ids = requestIds(file);
    expect(ids).toEqual([
      'before',
      ...['x', 'y'].flatMap((b) => Array.from({ length: lines }, (_, i) => `${b}${i}`)),
    ]);
  });

  it('writes a flush of more pieces than one writev takes', () => {
    const file = path.join(dir(), 'access.log');
    const w = new AccessLogWriter(file);
    for (let i = 0; i < 300; i++) {
      w.writeLines(Buffer.from(`{"n":${i}}\n`), 1);
      w.write(record(`r${i}`));
    }
    w.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(600);
    expect(JSON.parse(lines[598] as string)).toEqual({ n: 299 });
    expect(JSON.parse(lines[599] as string).requestId).toBe('r299');
  });

  it('rotates to access.log.1 past its size limit', () => {
    const file = path.join(dir(), 'access.log');
    const w = new AccessLogWriter(file, undefined, 1000);
    for (let i = 0; i < 20; i++) w.write(record(`r${i}`));
    w.flush();
    w.write(record('after'));
    w.close();
    expect(fs.readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean)).toHaveLength(20);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).requestId).toBe('after');
  });

  it('shares one file between processes: the rotating writer moves it when others filled it, they reopen', () => {
    const file = path.join(dir(), 'access.log');
    // The primary rotates; a worker never does (its limit is infinite) and reopens when told.
    const primary = new AccessLogWriter(file, undefined, 1000);
    const worker = new AccessLogWriter(file, undefined, Number.POSITIVE_INFINITY);
    expect(primary.rotateIfFull()).toBe(false);
    for (let i = 0; i < 20; i++) worker.write(record(`w${i}`));
    worker.flush();
    expect(primary.rotateIfFull()).toBe(true);
    // Lines the worker writes before it reopens still land, in the rotated file.
    worker.write(record('late'));
    worker.flush();
    worker.reopen();
    worker.write(record('new'));
    worker.close();
    primary.close();
    const old = fs.readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean);
    expect(old).toHaveLength(21);
    expect(JSON.parse(old[20] as string).requestId).toBe('late');
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).requestId).toBe('new');
    expect(primary.rotateIfFull()).toBe(false); // closed: nothing
  });

  it('drops the lines of a write that fails (disk full) and reports it at most once a minute, never throwing', () => {
    // Every write to /dev/full fails with ENOSPC.
    const reports: Array<{ code: string | undefined; droppedLines: number }> = [];
    const w = new AccessLogWriter('/dev/full', (err, droppedLines) =>
      reports.push({ code: (err as NodeJS.ErrnoException).code, droppedLines }),
    );
    for (let i = 0; i < 3; i++) w.write(record(`r${i}`));
    w.writeLines(Buffer.from('{"a":1}\n{"a":2}\n'), 2);
    expect(() => w.flush()).not.toThrow();
    expect(reports).toEqual([{ code: 'ENOSPC', droppedLines: 5 }]);
    w.write(record('again'));
    expect(() => w.close()).not.toThrow();
    expect(reports).toHaveLength(1);
  });
});
