// The haproxy plane's access log read straight from the ring's backing file (ringfile.ts): the
// framing of HAProxy 2.6's ring, its header checked, and a real HAProxy writing while the router
// reads — lines in order across many laps of a small ring, none handed over half when the reader
// falls a whole ring behind, the lines of a SIGKILLed worker still read, and the fallback to the
// Runtime API stream for a file that is not a ring this reader knows.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@paastech/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { haproxyPaths } from '../src/haproxy/config.js';
import { accessField, emptyAccessLine, type RingSink, scanAccessLine } from '../src/haproxy/ring.js';
import { RING_HEADER_BYTES, RingFileFollower, readRingHeader, unframe } from '../src/haproxy/ringfile.js';
import { haproxyAvailable } from '../src/index.js';
import { tempDir, waitFor } from './support/harness.js';

/** HAProxy's varint (intops.h): below 240 in one byte; else 4 bits, then 7 per byte, last < 128. */
function varint(n: number): number[] {
  if (n < 240) return [n];
  const out = [(n | 240) & 0xff];
  let i = Math.floor((n - 240) / 16);
  while (i >= 128) {
    out.push((i | 128) & 0xff);
    i = Math.floor((i - 128) / 128);
  }
  out.push(i);
  return out;
}

/** The storage bytes of a ring holding `lines`: [RC] then [VI][PL][RC] per line. */
function framed(lines: string[]): Buffer {
  const parts: number[] = [0];
  for (const l of lines) parts.push(...varint(l.length), ...Buffer.from(l, 'latin1'), 0);
  return Buffer.from(parts);
}

describe('unframe (HAProxy 2.6 ring storage → newline-ended lines)', () => {
  const long = (n: number) => 'x'.repeat(n);
  const cases: Array<{ name: string; lines: string[]; cut?: number; want: string[]; stopAtLine: number }> = [
    {
      name: 'short lines (one-byte lengths)',
      lines: ['a', 'bc', long(239)],
      want: ['a', 'bc', long(239)],
      stopAtLine: 3,
    },
    {
      name: 'lengths of two and three bytes',
      lines: [long(240), long(350), long(4096), long(70_000)],
      want: [long(240), long(350), long(4096), long(70_000)],
      stopAtLine: 4,
    },
    { name: 'an empty line', lines: ['', 'a'], want: ['', 'a'], stopAtLine: 2 },
    {
      name: 'the last line without its reader count (still being written)',
      lines: ['a', 'b'],
      cut: 1,
      want: ['a'],
      stopAtLine: 1,
    },
    { name: 'the last line half written', lines: ['a', long(300)], cut: 101, want: ['a'], stopAtLine: 1 },
    { name: 'the last length half written', lines: ['a', long(300)], cut: 302, want: ['a'], stopAtLine: 1 },
    { name: 'only the first reader count', lines: [], want: [], stopAtLine: 0 },
  ];
  it.each(cases)('$name', ({ lines, cut, want, stopAtLine }) => {
    const whole = framed(lines);
    const n = whole.length - (cut ?? 0);
    const buf = Buffer.from(whole);
    const got = unframe(buf, 0, n, 1 << 20);
    expect(got.bad).toBe(false);
    expect(buf.toString('latin1', 0, got.out)).toBe(want.map((l) => `${l}\n`).join(''));
    expect(got.lines).toBe(want.length);
    // Where the next read starts: the reader count after the last whole line.
    expect(got.stop).toBe(framed(lines.slice(0, stopAtLine)).length - 1);
  });
  it('starts at a reader count inside the buffer', () => {
    const buf = Buffer.concat([Buffer.from('garbage'), framed(['one', 'two'])]);
    const got = unframe(buf, 7, buf.length, 1 << 20);
    expect(buf.toString('latin1', 0, got.out)).toBe('one\ntwo\n');
  });
  it.each([
    { name: 'a length past the ring', bytes: [0, ...varint(5000), 0x41], size: 4096 },
    { name: 'a length that never ends', bytes: [0, 0xf0, ...Array(10).fill(0xff), 0], size: 1 << 20 },
  ])('says bad for $name', ({ bytes, size }) => {
    expect(unframe(Buffer.from(bytes), 0, bytes.length, size).bad).toBe(true);
  });
});

/** A writable that keeps what a logger writes. */
function logCapture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('router', { level: 'info', format: 'json', destination }), lines };
}

/** A sink that scans like the haproxy plane and keeps the request ids (HAProxy's %rt here). */
function recordingSink() {
  const ids: number[] = [];
  let written = 0;
  const out = emptyAccessLine();
  const sink: RingSink = {
    line(text, start, end) {
      if (!scanAccessLine(text, start, end, out)) return false;
      ids.push(Number(accessField(text, out, 'requestId')));
      return true;
    },
    lines(_bytes, n) {
      written += n;
    },
  };
  return { sink, ids, written: () => written };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** An HAProxy (one process, no master) answering every request itself, its access log in a ring file. */
async function haproxyWithRing(dir: string, ringBytes: number) {
  const port = await freePort();
  const file = path.join(dir, 'access.ring');
  const cfg = path.join(dir, 'h.cfg');
  fs.writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 2',
      'ring access',
      '  format raw',
      '  maxlen 4096',
      `  size ${ringBytes}`,
      `  backing-file ${file}`,
      'defaults',
      '  mode http',
      '  log ring@access len 4096 format raw local0 info info',
      '  option dontlognull',
      // Lines of ~300 bytes: their lengths take two bytes in the ring.
      `  log-format '{"time":%Ts%ms,"project":"${'p'.repeat(120)}","method":"%HM","status":%ST,"bytes":%B,"bytesIn":%U,"durationMs":%Ta,"upstream":"<NOSRV>","requestId":"%rt","termination":"%tsc","host":"h"}'`,
      '  timeout connect 1s',
      '  timeout client 5s',
      '  timeout server 5s',
      'frontend f',
      `  bind 127.0.0.1:${port}`,
      '  http-request return status 200 content-type text/plain string ok',
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    10_000,
    'haproxy listening',
  );
  return { port, file, child, pid: child.pid as number };
}

/**
 * A client in another process (it runs while this one is blocked): `n` GET requests over 4
 * keep-alive connections to `port`, then SIGKILL to `killPid` if given. Exits when done.
 */
function loadInChild(port: number, n: number, killPid?: number) {
  const script = `
const net = require('node:net');
const [port, n, kill] = process.argv.slice(1).map(Number);
let sent = 0, done = 0;
for (let c = 0; c < 4; c++) {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  const next = () => { if (sent < n) { sent++; s.write('GET / HTTP/1.1\\r\\nhost: h\\r\\n\\r\\n'); } else s.end(); };
  s.on('connect', next);
  s.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\\r\\n\\r\\nok'); i >= 0; i = buf.indexOf('\\r\\n\\r\\nok')) {
      buf = buf.slice(i + 6);
      if (++done === n) { if (kill) process.kill(kill, 'SIGKILL'); process.exit(0); }
      next();
    }
  });
}`;
  return spawn(process.execPath, ['-e', script, String(port), String(n), String(killPid ?? 0)], {
    stdio: 'inherit',
  });
}

/** Blocks this thread (timers and I/O included) until `child` exits. */
function blockUntilExit(child: ReturnType<typeof spawn>, maxMs: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + maxMs;
  while (child.exitCode === null && child.signalCode === null && Date.now() < end) {
    // The exit is only seen by the event loop: poll the process table instead.
    try {
      process.kill(child.pid as number, 0);
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      if (/\) Z /.test(stat)) return;
    } catch {
      return;
    }
    Atomics.wait(cell, 0, 0, 20);
  }
}

describe.skipIf(!haproxyAvailable())('RingFileFollower on a real HAProxy', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });
  const setup = async (ringBytes: number) => {
    const dir = tempDir();
    const h = await haproxyWithRing(dir, ringBytes);
    const rec = recordingSink();
    const log = logCapture();
    const fallback = { attached: 0 };
    const follower = new RingFileFollower(
      h.file,
      rec.sink,
      async () => h.pid,
      () => ({
        attach: () => {
          fallback.attached++;
        },
        workerStopping: () => undefined,
        close: () => undefined,
      }),
      log.logger,
    );
    cleanup.push(() => {
      follower.close();
      h.child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await follower.attach();
    return { h, rec, log, follower, fallback };
  };

  it('accepts the header HAProxy 2.6 writes; refuses others', async () => {
    const { h } = await setup(64 * 1024);
    const fd = fs.openSync(h.file, 'r');
    const size = fs.fstatSync(fd).size;
    expect(readRingHeader(fd, size)).toEqual({
      size: 64 * 1024 - RING_HEADER_BYTES,
      data: 1,
      head: 0,
      ofs: 0,
    });
    expect(readRingHeader(fd, size + 8)).toBeUndefined();
    fs.closeSync(fd);
    const bad = path.join(tempDir(), 'bad.ring');
    const header = (size: bigint, data: bigint, head: bigint, ofs: bigint) => {
      const b = Buffer.alloc(4096);
      b.writeBigUInt64LE(size, 0);
      b.writeBigUInt64LE(data, 16);
      b.writeBigUInt64LE(head, 24);
      b.writeBigUInt64LE(ofs, 32);
      return b;
    };
    const area = BigInt(4096 - RING_HEADER_BYTES);
    for (const b of [
      header(area, 0n, 0n, 0n), // nothing in it, not even the head's reader count
      header(area, area + 1n, 0n, 0n), // more data than room
      header(area, 1n, 5n, 0n), // head not where its offset says
      header(area, 1n, area, area), // head past the end
      header(0n, 1n, 0n, 0n), // no area
      Buffer.alloc(40), // shorter than a header
    ]) {
      fs.writeFileSync(bad, b);
      const f = fs.openSync(bad, 'r');
      expect(readRingHeader(f, fs.fstatSync(f).size)).toBeUndefined();
      fs.closeSync(f);
    }
    fs.writeFileSync(bad, header(area, 1n, 0n, 0n));
    const f = fs.openSync(bad, 'r');
    expect(readRingHeader(f, fs.fstatSync(f).size)).toEqual({ size: Number(area), data: 1, head: 0, ofs: 0 });
    fs.closeSync(f);
  });

  it('reads every line once while the ring laps several times, and loses none', async () => {
    // 4 MiB hold ~14,000 of these lines: 60,000 requests lap it about 4 times. One client makes
    // ~10 MB of lines a second here: a read every 50 ms keeps up with hundreds of ms to spare.
    const { h, rec, follower, fallback } = await setup(4 * 1024 * 1024);
    const n = 60_000;
    const child = loadInChild(h.port, n);
    await new Promise((r) => child.once('exit', r));
    await waitFor(() => rec.ids.length >= n, 10_000, `${n} lines`).catch((e) => {
      throw new Error(`${e.message}: ${rec.ids.length} read, lost ${follower.lostBytes} bytes`);
    });
    expect(fallback.attached).toBe(0);
    expect(follower.lostBytes).toBe(0);
    // Two threads write the ring: lines come in the order requests ended, not their numbers'.
    expect([...rec.ids].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(rec.written()).toBe(n);
  });

  it('falling a whole ring behind: lines lost are said, those handed over are whole', async () => {
    const { h, rec, follower, log } = await setup(64 * 1024);
    const n = 6_000; // ~18 laps of the ring while this thread is blocked
    const child = loadInChild(h.port, n);
    blockUntilExit(child, 30_000);
    await waitFor(() => follower.lostBytes > 0 && rec.ids.includes(n - 1), 5_000, 'the last line');
    // Whole lines only (each one scanned), each once, numbers HAProxy gave.
    expect(new Set(rec.ids).size).toBe(rec.ids.length);
    expect(rec.ids.every((id) => Number.isInteger(id) && id >= 0 && id < n)).toBe(true);
    expect(rec.ids.length).toBeLessThan(n);
    expect(rec.ids.length).toBeGreaterThan(100);
    expect(log.lines.some((l) => l.includes('access-log lines lost'))).toBe(true);
  });

  it('reads the lines of a worker killed with SIGKILL before the router read them', async () => {
    const { h, rec } = await setup(1024 * 1024);
    const n = 500;
    // The client kills HAProxy right after its last answer, while this thread reads nothing.
    const child = loadInChild(h.port, n, h.pid);
    blockUntilExit(child, 30_000);
    expect(rec.ids).toEqual([]);
    await waitFor(() => rec.ids.length === n, 5_000, 'the dead worker’s lines');
    expect([...rec.ids].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('hands over to the Runtime API stream when the file is not a ring it knows, or is not used', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'access.ring');
    fs.writeFileSync(file, Buffer.alloc(8192, 7));
    const log = logCapture();
    let attached = 0;
    const follower = new RingFileFollower(
      file,
      recordingSink().sink,
      async () => 1,
      () => ({
        attach: () => {
          attached++;
        },
        workerStopping: () => undefined,
        close: () => undefined,
      }),
      log.logger,
    );
    // A ring kept in HAProxy's memory (no room for the file): the stream, and nothing said.
    await follower.attach(false);
    expect(attached).toBe(1);
    expect(log.lines).toEqual([]);
    // A file of another layout: the stream, said once, and for every later worker too.
    await follower.attach();
    fs.writeFileSync(file, Buffer.alloc(0));
    await follower.attach();
    follower.close();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(attached).toBe(3);
    expect(log.lines.filter((l) => l.includes('not the layout of HAProxy 2.6'))).toHaveLength(1);
  });
});

describe('where the ring file lives', () => {
  it('in a directory of its own under /dev/shm, one per data dir, when the host has it', () => {
    const shm = tempDir();
    const a = haproxyPaths('/srv/a', shm);
    const b = haproxyPaths('/srv/b', shm);
    expect(path.dirname(a.ringDir)).toBe(shm);
    expect(a.ringDir).not.toBe(b.ringDir);
    expect(a.ringFile).toBe(path.join(a.ringDir, 'access.ring'));
    expect(haproxyPaths('/srv/a', shm).ringFile).toBe(a.ringFile);
    fs.rmSync(shm, { recursive: true });
  });
  it('in the router directory when there is no /dev/shm', () => {
    const p = haproxyPaths('/srv/a', '/no/such/shm');
    expect(p.ringDir).toBe(p.dir);
    expect(p.ringFile).toBe(path.join(p.dir, 'access.ring'));
  });
});
