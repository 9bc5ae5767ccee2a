// Reads HAProxy's access log straight out of its ring's `backing-file` (haproxy.cfg's `ring`
// section, config.ts). HAProxy keeps the ring in that file, mapped into its memory, and copies one
// line into it per request; every BATCH_MS the router reads what is new with a positioned read.
// HAProxy wakes no reader and sends nothing per request (a `show events -w` stream over the Runtime
// API, RingFollower in ring.ts, costs HAProxy a wake-up of its reader per request), and the router
// makes one read per interval whatever the rate.
//
// The file is HAProxy 2.6's `struct ring` (RING_HEADER_BYTES; its `struct buffer` first: size,
// area, data, head; then `ofs`, the absolute offset of the head) followed by the ring's storage:
// [RC][VI][PL][RC][VI][PL]…[RC], where RC is a one-byte reader count, VI a varint length and PL a
// line (ring-t.h). Positions below are absolute offsets in that stream (`ofs + data` is the end of
// what is written); offset x is at byte RING_HEADER_BYTES + x % size of the file.
//
// Invariants:
// - HAProxy writes a new file at every start and reload (it renames the one there to `.bak`). The
//   router keeps each file it opened until the worker writing it has exited, then reads it a last
//   time: the lines of a worker that stopped (reload, stop) or died (crash, SIGKILL) are all read.
// - HAProxy writes while the router reads, without a lock the router can take. Only whole lines are
//   handed over: a line counts once the reader count after it is written (HAProxy grows `data` as it
//   writes). Bytes HAProxy dropped from the ring's head while the router was reading them may have
//   been overwritten: they are skipped from the head HAProxy reports after the read, counted as lost
//   (the router fell a whole ring behind), never handed over.
// - A file whose header is not HAProxy 2.6's layout is not read: the access log then comes over the
//   Runtime API (the fallback the caller gives), as before this reader existed.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '@paastech/kit';
import { BATCH_MS, handOver, type RingSink } from './ring.js';

/** sizeof(struct ring) in HAProxy 2.6 on a 64-bit host: where the storage area starts. */
export const RING_HEADER_BYTES = 72;

/** The fields of the ring's header the reader uses. */
export interface RingHeader {
  /** Size of the storage area. */
  size: number;
  /** Bytes in the ring, from its head. */
  data: number;
  /** Index of the head in the storage area. */
  head: number;
  /** Absolute offset of the head (bytes ever dropped from the ring). */
  ofs: number;
}

/** Reads and checks the header of the ring file `fd` of `fileBytes` bytes; undefined if not 2.6's. */
export function readRingHeader(
  fd: number,
  fileBytes: number,
  into = Buffer.alloc(RING_HEADER_BYTES),
): RingHeader | undefined {
  if (fs.readSync(fd, into, 0, RING_HEADER_BYTES, 0) !== RING_HEADER_BYTES) return undefined;
  const size = Number(into.readBigUInt64LE(0));
  const data = Number(into.readBigUInt64LE(16));
  const head = Number(into.readBigUInt64LE(24));
  const ofs = Number(into.readBigUInt64LE(32));
  // The area follows the header to the file's end; the head is where its absolute offset says; at
  // least the head's reader count is in the ring.
  if (size + RING_HEADER_BYTES !== fileBytes || size <= 0) return undefined;
  if (data < 1 || data > size || head >= size || ofs % size !== head) return undefined;
  return { size, data, head, ofs };
}

/** Reads exactly `length` bytes of `fd` at `position` into `buf` at `offset`. */
function readExactly(fd: number, buf: Buffer, offset: number, length: number, position: number): boolean {
  for (let done = 0; done < length; ) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/**
 * The lines of a ring read from `buf[p, n)`, where `buf[p]` is a reader count: each line moved to
 * the front of `buf` with a newline after it. Returns the bytes of lines and where reading stopped
 * (the reader count of the first line not whole in `buf`), or `bad` when the framing makes no
 * sense (a length past the ring: not a ring this reader knows).
 */
export function unframe(
  buf: Buffer,
  p: number,
  n: number,
  size: number,
): { out: number; stop: number; lines: number; bad: boolean } {
  let out = 0;
  let lines = 0;
  for (;;) {
    let q = p + 1;
    if (q >= n) break;
    // HAProxy's varint: below 240 in one byte; else 4 bits here and 7 in each byte after, the
    // last one below 128.
    let len = buf[q++] as number;
    if (len >= 240) {
      let shift = 4;
      let c = 128;
      while (c >= 128 && q < n && shift <= 46) {
        c = buf[q++] as number;
        len += c * 2 ** shift;
        shift += 7;
      }
      if (c >= 128) {
        if (shift > 46) return { out, stop: p, lines, bad: true };
        break; // the rest of the length is not written yet
      }
    }
    if (len >= size) return { out, stop: p, lines, bad: true };
    const end = q + len;
    if (end >= n) break; // the line, or the reader count after it, is not written yet
    // The destination is never past the source (each line drops at least two framing bytes and
    // gains one newline): copyWithin moves it like memmove.
    buf.copyWithin(out, q, end);
    out += len;
    buf[out++] = 10;
    lines++;
    p = end;
  }
  return { out, stop: p, lines, bad: false };
}

/** One ring file HAProxy writes (one start or reload), with where the router got to in it. */
interface OpenRing {
  fd: number;
  ino: number;
  fileBytes: number;
  /** The worker writing it (undefined: none known, read once more and closed). */
  pid: number | undefined;
  /** Absolute offset of the next reader count to read. */
  pos: number;
}

/** True while process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The part of RingFollower's interface the haproxy plane uses. */
export interface AccessLogReader {
  attach(inFile?: boolean): void | Promise<void>;
  workerStopping(pid?: number): void;
  close(): void;
}

/** Follows the ring files of every HAProxy worker (see the module comment). */
export class RingFileFollower implements AccessLogReader {
  private readonly rings: OpenRing[] = [];
  private readonly header = Buffer.alloc(RING_HEADER_BYTES);
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private fallback: AccessLogReader | undefined;
  /** Set once a ring file was not HAProxy 2.6's: every later worker is read over the Runtime API. */
  private layoutUnknown = false;
  /** Bytes of lines lost since the last warning (the router fell a whole ring behind). */
  private lost = 0;
  /** Bytes of lines lost since the start. */
  private lostTotal = 0;

  constructor(
    private readonly file: string,
    private readonly sink: RingSink,
    /** The pid of the worker answering on the Runtime API now, if any. */
    private readonly currentPid: () => Promise<number | undefined>,
    /** The reader to use when the file is not a ring this reader knows. */
    private readonly makeFallback: () => AccessLogReader,
    private readonly logger: Logger,
  ) {}

  /**
   * Follows the worker answering now (after a start, restart or reload): from its ring file when
   * `inFile` (haproxy.cfg has a `backing-file`) and the file is a ring this reader knows, else over
   * the Runtime API.
   */
  async attach(inFile = true): Promise<void> {
    if (this.closed) return;
    if (!inFile || this.layoutUnknown) return this.stream().attach();
    const pid = await this.currentPid();
    if (this.closed) return;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (err) {
      this.logger.warn(
        { file: this.file, err: (err as Error).message },
        'cannot open the access-log ring file',
      );
      return this.stream().attach();
    }
    const st = fs.fstatSync(fd);
    if (this.rings.some((r) => r.ino === st.ino)) {
      fs.closeSync(fd);
      return;
    }
    const h = readRingHeader(fd, st.size, this.header);
    if (!h) {
      fs.closeSync(fd);
      this.layoutUnknown = true;
      this.logger.warn(
        { file: this.file },
        'the access-log ring file is not the layout of HAProxy 2.6; reading the access log over the Runtime API',
      );
      return this.stream().attach();
    }
    // Every page of the file allocated now (the area's contents stay as they are): a page HAProxy
    // first wrote once the file system is full would be a SIGBUS (plane.ts checked for room first).
    execFile('fallocate', ['--length', String(st.size), this.file], (err) => {
      if (err)
        this.logger.warn({ err: err.message, file: this.file }, 'cannot allocate the access-log ring file');
    });
    // From the ring's head: a new file holds this worker's lines only.
    this.rings.push({ fd, ino: st.ino, fileBytes: st.size, pid, pos: h.ofs });
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), BATCH_MS);
      this.timer.unref();
    }
  }

  /** Stopping workers are read until they exit (this reader needs no notice); for the fallback. */
  workerStopping(pid?: number): void {
    this.fallback?.workerStopping(pid);
  }

  /** Reads every file a last time and closes them; nothing is read after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const r of this.rings.splice(0)) {
      this.read(r);
      fs.closeSync(r.fd);
    }
    this.fallback?.close();
    this.warnLost();
  }

  /** Reads what is new in every file; closes those whose worker has exited, after a last read. */
  private poll(): void {
    for (const r of [...this.rings]) {
      // Checked before the read: what the worker wrote before it exited is in this read.
      const gone = r.pid === undefined || !alive(r.pid);
      this.read(r);
      if (!gone) continue;
      fs.closeSync(r.fd);
      this.rings.splice(this.rings.indexOf(r), 1);
      this.removeBackup(r.ino);
    }
    this.warnLost();
  }

  /** HAProxy renamed the file of an earlier start `.bak`: once read to its end, it frees memory. */
  private removeBackup(ino: number): void {
    const bak = `${this.file}.bak`;
    try {
      if (fs.statSync(bak).ino === ino) fs.rmSync(bak);
    } catch {
      // No backup, or not ours.
    }
  }

  /** Hands over the whole lines written in `r` since the last read. */
  private read(r: OpenRing): void {
    const h = readRingHeader(r.fd, r.fileBytes, this.header);
    if (!h) return;
    if (r.pos < h.ofs) {
      this.lost += h.ofs - r.pos;
      r.pos = h.ofs;
    }
    const n = h.ofs + h.data - r.pos;
    if (n <= 1) return; // only the reader count at r.pos
    // A new buffer every read: the access log keeps the lines handed over until it flushes them.
    const buf = Buffer.allocUnsafe(n);
    const at = r.pos % h.size;
    const first = Math.min(n, h.size - at);
    if (!readExactly(r.fd, buf, 0, first, RING_HEADER_BYTES + at)) return;
    if (first < n && !readExactly(r.fd, buf, first, n - first, RING_HEADER_BYTES)) return;
    // What HAProxy dropped from the head meanwhile may hold newer bytes now: start at its head.
    const after = readRingHeader(r.fd, r.fileBytes, this.header);
    if (!after) return;
    let from = 0;
    if (after.ofs > r.pos) {
      from = Math.min(after.ofs - r.pos, n);
      this.lost += from;
      if (from >= n) {
        r.pos = after.ofs;
        return;
      }
    }
    const got = unframe(buf, from, n, h.size);
    if (got.bad) {
      // Not a framing this reader knows (or a bug): skip what was read, say so once per read.
      this.logger.error(
        { file: this.file, at: r.pos + got.stop },
        'unreadable line in the access-log ring; skipped',
      );
      this.lost += n - got.stop;
      r.pos += n - 1;
    } else r.pos += got.stop;
    if (got.out > 0) handOver(buf, got.out, this.sink);
  }

  /** Bytes of lines lost since the start (overwritten before the router read them). */
  get lostBytes(): number {
    return this.lostTotal + this.lost;
  }

  private warnLost(): void {
    if (this.lost === 0) return;
    this.lostTotal += this.lost;
    this.logger.warn(
      { bytes: this.lost },
      'access-log lines lost: the router fell a whole ring behind HAProxy (counters and access.log miss them)',
    );
    this.lost = 0;
  }

  /** The Runtime API reader, made the first time a worker's ring is not read from its file. */
  private stream(): AccessLogReader {
    this.fallback ??= this.makeFallback();
    return this.fallback;
  }
}
