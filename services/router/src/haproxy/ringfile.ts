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
// - Every HAProxy start and reload has a file of its own (the router makes it: ringdir.ts). The
//   router keeps each file until the worker writing it has exited, then reads it a last time and
//   removes it: the lines of a worker that stopped (reload, stop) or died (crash, SIGKILL) are all
//   read.
// - HAProxy writes while the router reads, without a lock the router can take. Only whole lines are
//   handed over: a line counts once the reader count after it is written (HAProxy grows `data` as it
//   writes, after the bytes; x86 keeps stores in order, which is why ringdir.ts allows ring files
//   on x64 only). Bytes HAProxy dropped from the ring's head while the router was reading them may
//   have been overwritten: they are skipped from the head HAProxy reports after the read, counted
//   as lost (the router fell a whole ring behind; said at most every 10 s), never handed over.
// - A file whose header is not HAProxy 2.6's layout is not read: the access log then comes over the
//   Runtime API (the fallback the caller gives), as before this reader existed.
import fs from 'node:fs';
import type { Logger } from '@paastech/kit';
import { BATCH_MS, handOver, type RingSink } from './ring.js';
import { removeRingFile } from './ringdir.js';

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
  file: string;
  fd: number;
  fileBytes: number;
  /** The worker writing it (undefined: not known; read until a newer file is attached). */
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
  /** Follows the worker answering now; `file`: its ring file, if its ring has one. */
  attach(file?: string): void | Promise<void>;
  workerStopping(pid?: number): void;
  close(): void;
}

/** At most one warning about lost lines in this long (each says how many bytes since the last). */
const LOST_WARNING_MS = 10_000;

/** Follows the ring files of every HAProxy worker (see the module comment). */
export class RingFileFollower implements AccessLogReader {
  private readonly rings: OpenRing[] = [];
  private readonly header = Buffer.alloc(RING_HEADER_BYTES);
  /** Where each read goes (see read()). */
  private buf = Buffer.allocUnsafe(64 * 1024);
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private fallback: AccessLogReader | undefined;
  /** Set once a ring file was not HAProxy 2.6's: every later worker is read over the Runtime API. */
  private layoutUnknown = false;
  /** Bytes of lines lost since the last warning (the router fell a whole ring behind). */
  private lost = 0;
  /** Bytes of lines lost since the start. */
  private lostTotal = 0;
  private lastLostWarning = 0;

  constructor(
    private readonly sink: RingSink,
    /** The pid of the worker answering on the Runtime API now, if any. */
    private readonly currentPid: () => Promise<number | undefined>,
    /** The reader to use when a ring has no file, or its file is not a ring this reader knows. */
    private readonly makeFallback: () => AccessLogReader,
    private readonly logger: Logger,
  ) {}

  /**
   * Follows the worker answering now (after a start, restart or reload): from `file`, its ring
   * file (haproxy.cfg's `backing-file`), when it has one and it is a ring this reader knows, else
   * over the Runtime API. The file is removed once its worker has exited and it was read.
   */
  async attach(file?: string): Promise<void> {
    if (this.closed) return;
    if (file === undefined || this.layoutUnknown) return this.stream().attach();
    if (this.rings.some((r) => r.file === file)) return;
    // The worker that writes the file: read until it exits. The Runtime API just answered the
    // caller; a failed ask is asked again.
    let pid = await this.currentPid();
    for (let i = 0; pid === undefined && i < 5 && !this.closed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pid = await this.currentPid();
    }
    if (this.closed) return;
    if (pid === undefined)
      this.logger.warn(
        { file },
        'haproxy worker unknown: its access-log ring is read until the next one starts',
      );
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      this.logger.warn({ file, err: (err as Error).message }, 'cannot open the access-log ring file');
      return this.stream().attach();
    }
    const fileBytes = fs.fstatSync(fd).size;
    const h = readRingHeader(fd, fileBytes, this.header);
    if (!h) {
      fs.closeSync(fd);
      // Not read from its file: its worker keeps its mapping; the name goes now.
      removeRingFile(file);
      this.layoutUnknown = true;
      this.logger.warn(
        { file },
        'the access-log ring file is not the layout of HAProxy 2.6; reading the access log over the Runtime API',
      );
      return this.stream().attach();
    }
    // From the ring's head: a new file holds this worker's lines only.
    this.rings.push({ file, fd, fileBytes, pid, pos: h.ofs });
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), BATCH_MS);
      this.timer.unref();
    }
  }

  /** The ring files being read (a file the plane made and no worker's ring was attached to is not). */
  files(): ReadonlySet<string> {
    return new Set(this.rings.map((r) => r.file));
  }

  /** False once ring files proved unreadable here (another HAProxy's layout): make no more. */
  get wantsFiles(): boolean {
    return !this.layoutUnknown;
  }

  /** Stopping workers are read until they exit (this reader needs no notice); for the fallback. */
  workerStopping(pid?: number): void {
    this.fallback?.workerStopping(pid);
  }

  /** Reads every file a last time, closes and removes them; nothing is read after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const r of this.rings.splice(0)) {
      this.guarded(r, () => this.read(r));
      this.guarded(r, () => this.release(r));
    }
    this.fallback?.close();
    this.warnLost(true);
  }

  /** Bytes of lines lost since the start (overwritten before the router read them). */
  get lostBytes(): number {
    return this.lostTotal + this.lost;
  }

  /** Reads what is new in every file; lets go of those whose worker has exited, after a last read. */
  private poll(): void {
    for (const r of [...this.rings]) {
      // Checked before the read: what the worker wrote before it exited is in this read. A file
      // whose worker is unknown is read until a newer one is attached.
      const gone = r.pid === undefined ? r !== this.rings[this.rings.length - 1] : !alive(r.pid);
      this.guarded(r, () => this.read(r));
      if (!gone) continue;
      this.rings.splice(this.rings.indexOf(r), 1);
      this.guarded(r, () => this.release(r));
    }
    if (this.rings.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.warnLost(false);
  }

  /** Runs `work` on `r`; a file-system error is logged, never thrown (a timer's throw ends the router). */
  private guarded(r: OpenRing, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.logger.error(
        { file: r.file, err: (err as Error).message },
        'reading the access-log ring file failed',
      );
    }
  }

  private release(r: OpenRing): void {
    fs.closeSync(r.fd);
    removeRingFile(r.file);
  }

  /** Hands over the whole lines written in `r` since the last read. */
  private read(r: OpenRing): void {
    const h = readRingHeader(r.fd, r.fileBytes, this.header);
    if (!h) return;
    if (h.ofs + h.data < r.pos) {
      // Behind where the router got to: the file was started anew under it (not by HAProxy 2.6 as
      // the plane runs it). Read it again from its head.
      this.logger.warn(
        { file: r.file },
        'the access-log ring went backwards; reading it again from its head',
      );
      r.pos = h.ofs;
    }
    if (r.pos < h.ofs) {
      this.lost += h.ofs - r.pos;
      r.pos = h.ofs;
    }
    const n = h.ofs + h.data - r.pos;
    if (n <= 1) return; // only the reader count at r.pos
    // One buffer for every read, grown when a read needs more (the sink is done with the lines
    // when handOver returns: AccessLogSink.writeLines): no new memory for the garbage collector
    // every 50 ms (a CPU profile under wrk put allocation and collection at ~20 % of the router's time).
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    const buf = this.buf;
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
        { file: r.file, at: r.pos + got.stop },
        'unreadable line in the access-log ring; skipped',
      );
      this.lost += n - got.stop;
      r.pos += n - 1;
    } else r.pos += got.stop;
    if (got.out > 0) handOver(buf, got.out, this.sink);
  }

  /** Says how many bytes of lines were lost, at most every LOST_WARNING_MS (`now`: at once). */
  private warnLost(now: boolean): void {
    if (this.lost === 0) return;
    if (!now && Date.now() - this.lastLostWarning < LOST_WARNING_MS) return;
    this.logger.warn(
      { bytes: this.lost },
      'access-log lines lost: the router fell a whole ring behind HAProxy (counters and access.log miss them)',
    );
    this.lastLostWarning = Date.now();
    this.lostTotal += this.lost;
    this.lost = 0;
  }

  /** The Runtime API reader, made the first time a worker's ring is not read from its file. */
  private stream(): AccessLogReader {
    this.fallback ??= this.makeFallback();
    return this.fallback;
  }
}
