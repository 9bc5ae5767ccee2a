// The haproxy plane's access log read straight from the ring's backing file (ringfile.ts): the
// framing of HAProxy 2.6's ring, its header checked, and a real HAProxy writing while the router
// reads — lines in order across many laps of a small ring, none handed over half when the reader
// falls a whole ring behind, the lines of a SIGKILLed worker still read, and the fallback to the
// Runtime API stream for a file that is not a ring this reader knows.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@paastech/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { accessField, emptyAccessLine, type RingSink, scanAccessLine } from '../src/haproxy/ring.js';
import {
  closeRingDir,
  makeRingFile,
  openRingDir,
  RING_DIR_RECORD,
  removeRingFile,
  removeRingFiles,
  ringDirUsable,
} from '../src/haproxy/ringdir.js';
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

const silent = createLogger('router', { level: 'silent', format: 'json' });

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
    line(buf, start, end) {
      if (!scanAccessLine(buf, start, end, out)) return false;
      ids.push(Number(accessField(buf, out, 'requestId')));
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
  // Made and filled by the router before HAProxy maps it, as the plane does (ringdir.ts).
  const file = makeRingFile(dir, 'a1', ringBytes, silent) as string;
  const inode = fs.statSync(file).ino;
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
  // HAProxy took the file as it was (renamed none: the ring in it was empty).
  expect(fs.statSync(file).ino).toBe(inode);
  expect(fs.existsSync(`${file}.bak`)).toBe(false);
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
    await follower.attach(h.file);
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

  it('hands over to the Runtime API stream when a ring has no file, or its file is not a ring it knows', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'access-1.ring');
    fs.writeFileSync(file, Buffer.alloc(8192, 7));
    const log = logCapture();
    let attached = 0;
    const follower = new RingFileFollower(
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
    // A ring kept in HAProxy's memory (no file could be made for it): the stream, nothing said.
    await follower.attach(undefined);
    expect(attached).toBe(1);
    expect(log.lines).toEqual([]);
    // A file of another layout: the stream, said once, and for every later worker too.
    expect(follower.wantsFiles).toBe(true);
    await follower.attach(file);
    // The plane makes no more files, and this one's name is gone (its worker keeps its mapping).
    expect(follower.wantsFiles).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
    await follower.attach(path.join(dir, 'access-2.ring'));
    follower.close();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(attached).toBe(3);
    expect(log.lines.filter((l) => l.includes('not the layout of HAProxy 2.6'))).toHaveLength(1);
  });
});

describe('the ring directory and files (ringdir.ts)', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const dirs = () => {
    const shm = tempDir();
    const routerDir = tempDir();
    made.push(shm, routerDir);
    return { shm, routerDir };
  };

  it('makes a directory of its own (random name, 0700, owner file), recorded in the router directory; the next start replaces it', () => {
    const { shm, routerDir } = dirs();
    const one = openRingDir(routerDir, silent, shm);
    expect(path.dirname(one)).toBe(shm);
    expect(path.basename(one)).toMatch(/^paastech-router-[A-Za-z0-9]{6}$/);
    expect(fs.statSync(one).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(one, 'owner'), 'utf8')).toBe(routerDir);
    expect(fs.readFileSync(path.join(routerDir, RING_DIR_RECORD), 'utf8')).toBe(one);
    const file = makeRingFile(one, 'ab12', 3 << 20, silent) as string;
    expect(fs.statSync(file).size).toBe(3 << 20);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Allocated, not sparse: HAProxy never writes a page the file system has no room for.
    expect(fs.statSync(file).blocks * 512).toBeGreaterThanOrEqual(3 << 20);
    // Made exclusively: never one a worker maps already.
    expect(makeRingFile(one, 'ab12', 1 << 20, silent)).toBeUndefined();
    expect(fs.statSync(file).size).toBe(3 << 20);
    const two = openRingDir(routerDir, silent, shm);
    expect(two).not.toBe(one);
    expect(fs.existsSync(one)).toBe(false);
    closeRingDir(two, routerDir, silent, shm);
    expect(fs.readdirSync(shm)).toEqual([]);
    expect(fs.existsSync(path.join(routerDir, RING_DIR_RECORD))).toBe(false);
  });

  it.each([
    {
      name: 'a symlink to someone else’s directory',
      plant: (shm: string, victim: string) =>
        fs.symlinkSync(victim, path.join(shm, 'paastech-router-aaaaaa')),
    },
    {
      name: 'a directory readable by others (not 0700)',
      plant: (shm: string) => fs.mkdirSync(path.join(shm, 'paastech-router-bbbbbb'), { mode: 0o755 }),
    },
    {
      name: 'a directory not of our naming',
      plant: (shm: string) => fs.mkdirSync(path.join(shm, 'paastech-router-c'), { mode: 0o700 }),
    },
  ])('removes nothing recorded that is not its own: $name', ({ plant }) => {
    const { shm, routerDir } = dirs();
    const victim = tempDir();
    made.push(victim);
    fs.writeFileSync(path.join(victim, 'access-00.ring'), 'precious');
    fs.writeFileSync(path.join(victim, 'owner'), 'precious');
    plant(shm, victim);
    const planted = fs.readdirSync(shm)[0] as string;
    if (fs.lstatSync(path.join(shm, planted)).isDirectory()) {
      fs.writeFileSync(path.join(shm, planted, 'access-00.ring'), 'x');
      fs.writeFileSync(path.join(shm, planted, 'owner'), '/no/such/router/dir');
    }
    // Recorded as if this router had made it (a record in a data dir someone could write).
    fs.writeFileSync(path.join(routerDir, RING_DIR_RECORD), path.join(shm, planted));
    const mine = openRingDir(routerDir, silent, shm);
    expect(fs.readFileSync(path.join(victim, 'access-00.ring'), 'utf8')).toBe('precious');
    expect(fs.readFileSync(path.join(victim, 'owner'), 'utf8')).toBe('precious');
    expect(fs.lstatSync(path.join(shm, planted))).toBeDefined();
    expect(mine).not.toBe(path.join(shm, planted));
  });

  it('removes the recorded directory only when it serves this router directory (a copied data dir names another router’s)', () => {
    const { shm, routerDir } = dirs();
    const other = tempDir();
    made.push(other);
    const theirs = openRingDir(other, silent, shm);
    fs.writeFileSync(path.join(routerDir, RING_DIR_RECORD), theirs);
    const mine = openRingDir(routerDir, silent, shm);
    expect(fs.existsSync(theirs)).toBe(true);
    expect(mine).not.toBe(theirs);
  });

  it('takes a new file only in a directory still its own; prunes files no worker took; removes files only there', () => {
    const { shm, routerDir } = dirs();
    const dir = openRingDir(routerDir, silent, shm);
    expect(ringDirUsable(dir, routerDir, shm)).toBe(true);
    expect(ringDirUsable(routerDir, routerDir, shm)).toBe(true);
    const kept = makeRingFile(dir, 'a1', 4096, silent) as string;
    const failed = makeRingFile(dir, 'a2', 4096, silent) as string;
    removeRingFiles(dir, new Set([kept]));
    expect(fs.readdirSync(dir).sort()).toEqual(['access-a1.ring', 'owner']);
    // Gone, then made again by someone else (same name): not this router's any more.
    closeRingDir(dir, routerDir, silent, shm);
    fs.mkdirSync(dir, { mode: 0o700 });
    expect(ringDirUsable(dir, routerDir, shm)).toBe(false);
    fs.writeFileSync(path.join(dir, 'owner'), '/elsewhere');
    expect(ringDirUsable(dir, routerDir, shm)).toBe(false);
    fs.chmodSync(dir, 0o777);
    fs.writeFileSync(kept, 'theirs');
    removeRingFile(kept, shm);
    expect(fs.readFileSync(kept, 'utf8')).toBe('theirs');
    expect(fs.existsSync(failed)).toBe(false);
  });

  it('sweeps the directories of routers whose data dir is gone, and only those', () => {
    const { shm, routerDir } = dirs();
    const alive = tempDir();
    made.push(alive);
    const plant = (name: string, owner?: string, extra?: string) => {
      const dir = path.join(shm, name);
      fs.mkdirSync(dir, { mode: 0o700 });
      fs.writeFileSync(path.join(dir, 'access-1f.ring'), 'x');
      if (owner !== undefined) fs.writeFileSync(path.join(dir, 'owner'), owner);
      if (extra) fs.writeFileSync(path.join(dir, extra), 'keep');
      return dir;
    };
    const gone = plant('paastech-router-gone01', '/no/such/data/dir/router');
    const kept = plant('paastech-router-kept01', alive);
    const young = plant('paastech-router-young1'); // no owner yet: another router may be making it
    const foreign = plant('paastech-router-other1', '/no/such/data/dir/router', 'notes.txt');
    openRingDir(routerDir, silent, shm);
    expect(fs.existsSync(gone)).toBe(false);
    expect(fs.existsSync(kept)).toBe(true);
    expect(fs.existsSync(young)).toBe(true);
    // A file not of our naming is never removed (nor, then, its directory).
    expect(fs.readFileSync(path.join(foreign, 'notes.txt'), 'utf8')).toBe('keep');
  });

  it.skipIf(process.getuid?.() !== 0)('says no room, and leaves no file, on a full file system', () => {
    const mount = tempDir();
    made.push(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
    try {
      const log = logCapture();
      expect(makeRingFile(mount, 'cd34', 4 << 20, log.logger)).toBeUndefined();
      expect(fs.readdirSync(mount)).toEqual([]);
      expect(log.lines.some((l) => l.includes('ENOSPC'))).toBe(true);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
