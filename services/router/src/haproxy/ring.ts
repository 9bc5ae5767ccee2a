// Reads HAProxy's access log from its in-memory ring (the `ring` section of haproxy.cfg) over the
// Runtime API: one long-lived `show events <ring> -w` per HAProxy worker. HAProxy writes a line into
// memory per request (no syscall); the router gets them in chunks of many lines, counts them with a
// strict scanner (no JSON.parse, no object per line) and hands the chunk's access-log lines to
// access.log as HAProxy wrote them. A stream that has caught up pauses reading for BATCH_MS, so at
// any rate the lines arrive in few large reads.
//
// Invariants: every worker that served has one stream, attached as soon as it answers, reading its
// ring from the start (a new worker's ring is empty when it starts, so nothing is read twice). A
// stream that breaks while its worker lives is attached again from the ring's end (`-n`): the lines
// of that gap are lost to the counters. A worker that soft-stops (reload, stop) is read until it has
// no TCP connection left — all its requests finished and logged — then let go, so the stream does
// not hold it up to hard-stop-after. Lines in the ring of a worker that died (crash, SIGKILL) and not
// yet read, and lines overwritten while the router did not read (ring overrun), are lost.
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '@paastech/kit';

/** How often a soft-stopping worker is checked for connections left. */
const DRAIN_CHECK_MS = 100;
/** Wait before attaching again to a worker whose stream broke. */
const REATTACH_MS = 200;
/** A read shorter than this means the stream caught up with the ring… */
const SHORT_READ_BYTES = 16 * 1024;
/** …and reading pauses this long (less than DRAIN_CHECK_MS: a stopping worker's last lines are read). */
const BATCH_MS = 50;
/** HAProxy's notice that a proxy stopped (the worker soft-stops). */
const STOPPED = /^Proxy \S+ stopped/;

/** One line of HAProxy's access log (ACCESS_LOG_FORMAT in config.ts), checked field by field. */
export interface AccessLine {
  host: string;
  backend: string;
  method: string;
  status: number;
  bytes: number;
  bytesIn: number;
  durationMs: number;
  upstream: string;
  requestId: string;
  termination: string;
}

/** A fresh record for scanAccessLine to fill (one is reused for every line of a stream). */
export function emptyAccessLine(): AccessLine {
  return {
    host: '',
    backend: '',
    method: '',
    status: 0,
    bytes: 0,
    bytesIn: 0,
    durationMs: 0,
    upstream: '',
    requestId: '',
    termination: '',
  };
}

/** The start of every line, and what precedes each field read, in ACCESS_LOG_FORMAT's order. */
const LEAD = '{"level":30,"time":';
const K_PROJECT = ',"service":"router","component":"access","project":"';
const K_BACKEND = ',"backend":"';
const K_METHOD = ',"method":"';
const K_STATUS = ',"status":';
const K_BYTES = ',"bytes":';
const K_BYTES_IN = ',"bytesIn":';
const K_DURATION = ',"durationMs":';
const K_UPSTREAM = ',"upstream":"';
const K_REQUEST_ID = ',"requestId":"';
const K_TERMINATION = ',"termination":"';
const K_HOST = ',"msg":"request","host":"';
const TAIL = '"}';
/** Longest number a field may hold (HAProxy prints 64-bit counters; beyond 2^53 is not a count). */
const MAX_DIGITS = 15;

/**
 * A cursor over one line with a sticky failure: once a step fails, `ok` stays false and later steps
 * do nothing, so a scan reads as the format does and is checked once at the end.
 */
class Cursor {
  t = '';
  p = 0;
  end = 0;
  ok = true;

  reset(t: string, p: number, end: number): void {
    this.t = t;
    this.p = p;
    this.end = end;
    this.ok = true;
  }

  /**
   * Moves past `k`, which must start right here. Only its length and three characters are compared
   * (comparing every key in full costs more than the rest of the scan): a line is always HAProxy's,
   * made from ACCESS_LOG_FORMAT, and a format out of step with the keys fails on their lengths.
   */
  skip(k: string): void {
    const last = this.p + k.length - 1;
    const t = this.t;
    if (
      !this.ok ||
      last >= this.end ||
      t.charCodeAt(this.p) !== k.charCodeAt(0) ||
      t.charCodeAt(this.p + 2) !== k.charCodeAt(2) ||
      t.charCodeAt(last) !== k.charCodeAt(k.length - 1)
    ) {
      this.ok = false;
      return;
    }
    this.p = last + 1;
  }

  /** A decimal integer (optionally negative) followed by ',', after `key` when given. */
  number(key?: string): number {
    if (key !== undefined) this.skip(key);
    if (!this.ok) return 0;
    const t = this.t;
    const neg = t.charCodeAt(this.p) === 45; // '-'
    const from = neg ? this.p + 1 : this.p;
    let v = 0;
    let i = from;
    for (; i < this.end; i++) {
      const c = t.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    this.ok = i > from && i - from <= MAX_DIGITS && t.charCodeAt(i) === 44;
    this.p = i;
    return neg ? -v : v;
  }

  /** A string value after `key`, up to its closing '"' (followed by ','), holding no backslash. */
  string(key: string): string {
    this.skip(key);
    if (!this.ok) return '';
    const q = this.t.indexOf('"', this.p);
    if (q < 0 || q >= this.end || this.t.charCodeAt(q + 1) !== 44) {
      this.ok = false;
      return '';
    }
    const v = this.t.slice(this.p, q);
    this.p = q + 1;
    if (v.includes('\\')) this.ok = false;
    return v;
  }
}

const cursor = new Cursor();

/**
 * Scans the access-log line `t[start, stop)` (no newline) into `out`; false for anything else
 * (HAProxy's notices, cut or odd lines), leaving `out` in an unspecified state. Every line is
 * HAProxy's, made from ACCESS_LOG_FORMAT, and there are tens of thousands a second, so this is a
 * cheap positional scan rather than a JSON parser: the line must start like the format and end with
 * '"}', the fields come in the format's order, numbers are decimal integers, and values other than
 * the host hold no quote or backslash. The host — the only free text, JSON-escaped by HAProxy — is
 * last, so nothing in it can pass for another field; one with an escape is no host any route could
 * have, so it is read as ''.
 */
export function scanAccessLine(t: string, start: number, stop: number, out: AccessLine): boolean {
  const end = stop - TAIL.length;
  if (end - start < LEAD.length || !t.startsWith(LEAD, start) || !t.startsWith(TAIL, end)) return false;
  const c = cursor;
  c.reset(t, start + LEAD.length, end);
  c.number(); // time
  c.string(K_PROJECT); // access.log keeps it; the counters use the route of the host
  const backend = c.string(K_BACKEND);
  const method = c.string(K_METHOD);
  const status = c.number(K_STATUS);
  const bytes = c.number(K_BYTES);
  const bytesIn = c.number(K_BYTES_IN);
  const durationMs = c.number(K_DURATION);
  const upstream = c.string(K_UPSTREAM);
  const requestId = c.string(K_REQUEST_ID);
  const termination = c.string(K_TERMINATION);
  c.skip(K_HOST);
  const ok = c.ok;
  const hostStart = c.p;
  c.t = '';
  if (!ok) return false;
  const host = t.slice(hostStart, end);
  const escaped = host.includes('\\');
  if (!escaped && host.includes('"')) return false;
  out.host = escaped ? '' : host;
  out.backend = backend;
  out.method = method;
  out.status = status;
  out.bytes = bytes;
  out.bytesIn = bytesIn;
  out.durationMs = durationMs;
  out.upstream = upstream;
  out.requestId = requestId;
  out.termination = termination;
  return true;
}

/** Where a ring stream hands what it reads. */
export interface RingSink {
  /**
   * One line `text[start, end)` (the latin1 text of HAProxy's bytes, no newline) that starts with
   * '{'; true when it is an access-log line, which then also reaches `lines` as bytes.
   */
  line(text: string, start: number, end: number): boolean;
  /** `count` access-log lines as HAProxy wrote them, each ending with a newline (for access.log). */
  lines(bytes: Buffer, count: number): void;
}

/**
 * True when process `pid` holds a client connection: a TCP socket on one of the listening `ports`,
 * other than the listener (a request may be in flight). Idle connections to instances do not count.
 */
export function hasClientConnections(pid: number, ports: number[]): boolean {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // Closed meanwhile.
    }
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // cols[1] is the local address (hex ip:port), cols[3] the state (0A = LISTEN), cols[9] the inode.
      if (cols.length < 10 || cols[3] === '0A' || !inodes.has(cols[9] as string)) continue;
      if (ports.includes(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16))) return true;
    }
  }
  return false;
}

/** One `show info; show events <ring> -w` connection to one HAProxy worker. */
class RingStream {
  /** The worker's pid, from `show info` (first thing on the stream). */
  pid: number | undefined;
  /** True once `show info` was read (it ends with an empty line; events follow). */
  named = false;
  /** Set once the worker announced it stops (soft stop after a reload or a stop). */
  stopping = false;
  /** Checks in a row that found the stopping worker with no connection. */
  idleChecks = 0;
  /** Set when another stream already reads this worker: this one hands nothing over. */
  duplicate = false;
  /** Bytes after the last newline read (a line HAProxy has not finished sending). */
  private rest: Buffer | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private readonly socket: net.Socket;

  constructor(
    socketPath: string,
    ring: string,
    fromEnd: boolean,
    private readonly sink: RingSink,
    private readonly onNamed: (s: RingStream) => void,
    onEnd: (s: RingStream) => void,
  ) {
    this.socket = net.connect(socketPath);
    this.socket.on('connect', () =>
      this.socket.write(`show info; show events ${ring} -w${fromEnd ? 'n' : ''}\n`),
    );
    this.socket.on('data', (b: Buffer) => this.read(b));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      clearTimeout(this.resumeTimer);
      onEnd(this);
    });
  }

  /**
   * Takes a chunk: complete lines are handed over, a partial one kept. A short chunk means the
   * stream has caught up: reading pauses for BATCH_MS so lines gather into few large reads (HAProxy
   * keeps them in its ring meanwhile) instead of one wake-up per request.
   */
  private read(chunk: Buffer): void {
    if (this.duplicate) return;
    let buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    if (!this.named) buf = this.info(buf);
    const last = buf.lastIndexOf(10);
    if (last < 0) this.rest = Buffer.from(buf);
    else {
      if (last + 1 < buf.length) this.rest = Buffer.from(buf.subarray(last + 1));
      this.events(buf, last + 1);
    }
    if (chunk.length < SHORT_READ_BYTES && !this.resumeTimer && !this.duplicate) {
      this.socket.pause();
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined;
        this.socket.resume();
      }, BATCH_MS);
    }
  }

  /** Hands over the lines of `buf[0, length)`: runs of access-log lines as they are, in one piece. */
  private events(buf: Buffer, length: number): void {
    const text = buf.toString('latin1', 0, length);
    let runStart = 0;
    let run = 0;
    let start = 0;
    while (start < length) {
      const nl = text.indexOf('\n', start);
      if (text.charCodeAt(start) === 123 && this.sink.line(text, start, nl)) run++;
      else {
        if (run > 0) this.sink.lines(buf.subarray(runStart, start), run);
        run = 0;
        runStart = nl + 1;
        if (STOPPED.test(text.slice(start, Math.min(nl, start + 200)))) this.stopping = true;
      }
      start = nl + 1;
    }
    if (run > 0) this.sink.lines(buf.subarray(runStart, length), run);
  }

  /** Reads the lines of `show info` at the start of `buf`; returns what follows them (events). */
  private info(buf: Buffer): Buffer {
    let start = 0;
    for (let nl = buf.indexOf(10); nl >= 0 && !this.named; nl = buf.indexOf(10, start)) {
      const line = buf.toString('latin1', start, nl);
      start = nl + 1;
      if (line.startsWith('Pid: ')) this.pid = Number(line.slice(5));
      else if (line === 'Stopping: 1') this.stopping = true;
      else if (line === '') {
        this.named = true;
        // A duplicate is closed here, before any of its events count.
        this.onNamed(this);
      }
    }
    return this.duplicate ? buf.subarray(buf.length) : buf.subarray(start);
  }

  /** Ends the stream (HAProxy ends the command when the connection closes). */
  close(): void {
    clearTimeout(this.resumeTimer);
    this.socket.destroy();
  }
}

/** Follows the access-log ring of every HAProxy worker, reattaching as workers come and go. */
export class RingFollower {
  private readonly streams = new Set<RingStream>();
  private closed = false;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly ring: string,
    private readonly sink: RingSink,
    /** The pid of the worker answering on the socket now, if any. */
    private readonly currentPid: () => Promise<number | undefined>,
    /** The ports clients connect to (a stopping worker with connections there is still serving). */
    private readonly ports: () => number[],
    private readonly logger: Logger,
  ) {}

  /** Attaches to the worker answering now (after a start, restart or reload). */
  attach(fromEnd = false): void {
    if (this.closed) return;
    const s = new RingStream(
      this.socketPath,
      this.ring,
      fromEnd,
      this.sink,
      (named) => this.named(named),
      (ended) => this.ended(ended),
    );
    this.streams.add(s);
    if (!this.drainTimer) {
      this.drainTimer = setInterval(() => this.letGoOfStopped(), DRAIN_CHECK_MS);
      this.drainTimer.unref();
    }
  }

  /** Marks the streams of worker `pid` (all when undefined) as stopping: let go once idle. */
  workerStopping(pid?: number): void {
    for (const s of this.streams) if (pid === undefined || s.pid === pid) s.stopping = true;
  }

  /** Ends every stream; no reattaching after this. */
  close(): void {
    this.closed = true;
    clearInterval(this.drainTimer);
    for (const s of this.streams) s.close();
    this.streams.clear();
  }

  /** Closes the streams of stopping workers with nothing in flight (so they can exit). */
  private letGoOfStopped(): void {
    for (const s of this.streams) {
      if (!s.stopping || s.pid === undefined) continue;
      if (hasClientConnections(s.pid, this.ports())) {
        s.idleChecks = 0;
        continue;
      }
      // Lines of the last requests are in the ring before their connections close; give the
      // stream one more check period to carry them.
      if (++s.idleChecks >= 2) s.close();
    }
  }

  /**
   * A stream learnt its worker: a second stream on the same worker is closed before it counts. Just
   * after a reload, the old worker may still take the connection: then attach again, until a stream
   * reads the worker that serves.
   */
  private named(s: RingStream): void {
    if ([...this.streams].some((o) => o !== s && o.named && o.pid === s.pid && !o.duplicate)) {
      s.duplicate = true;
      s.close();
    }
    if (!s.stopping || this.closed) return;
    setTimeout(() => {
      const reading = [...this.streams].some((o) => !o.duplicate && !(o.named && o.stopping));
      if (!reading && !this.closed) this.attach();
    }, REATTACH_MS).unref();
  }

  /** A stream ended: attach again if its worker still serves and no other stream reads it. */
  private ended(s: RingStream): void {
    this.streams.delete(s);
    if (this.closed || s.stopping || s.duplicate) return;
    setTimeout(() => {
      if (this.closed) return;
      this.currentPid()
        .then((pid) => {
          if (this.closed || pid === undefined) return;
          if ([...this.streams].some((o) => o.pid === pid || !o.named)) return;
          this.logger.warn({ pid }, 'haproxy access-log stream ended; attaching again');
          this.attach(pid === s.pid);
        })
        .catch(() => undefined);
    }, REATTACH_MS).unref();
  }
}
