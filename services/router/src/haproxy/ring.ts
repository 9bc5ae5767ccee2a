// HAProxy's access log, in the format the haproxy plane gives it (ACCESS_LOG_FORMAT in config.ts):
// the strict scanner the router counts lines with (no JSON.parse, no object per line), how a
// chunk of lines is handed over (handOver), and the fallback reader of HAProxy's ring over the
// Runtime API. The plane reads the ring from its file (ringfile.ts); it comes here when that file
// is not HAProxy 2.6's layout or there was no room for it: one long-lived `show events <ring> -w`
// per HAProxy worker. HAProxy writes a line into memory per request (no syscall); the router gets
// them in chunks of many lines, counts them and hands the chunk's access-log lines to access.log
// as HAProxy wrote them. A stream that has caught up pauses reading for BATCH_MS, so at any rate
// the lines arrive in few large reads.
//
// Invariants (the stream): every worker that served has one stream, attached as soon as it
// answers, reading its ring from the start (a new worker's ring is empty when it starts, so
// nothing is read twice). A stream that breaks while its worker lives is attached again from the
// ring's end (`-n`): the lines of that gap are lost to the counters. A worker that soft-stops
// (reload, stop) is read until it has no TCP connection left — all its requests finished and
// logged — then let go, so the stream does not hold it up to hard-stop-after. Lines in the ring of
// a worker that died (crash, SIGKILL) and not yet read, and lines overwritten while the router did
// not read (ring overrun), are lost.
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
export const BATCH_MS = 50;
/** HAProxy's notice that a proxy stopped (the worker soft-stops). */
const STOPPED = /^Proxy \S+ stopped/;

/** The string fields of an access line, in ACCESS_LOG_FORMAT's order (indexes into AccessLine.spans). */
export const FIELD = {
  project: 0,
  method: 1,
  upstream: 2,
  requestId: 3,
  termination: 4,
  host: 5,
} as const;
export type AccessField = keyof typeof FIELD;

/**
 * One line of HAProxy's access log (ACCESS_LOG_FORMAT in config.ts), checked field by field. The
 * line is scanned in HAProxy's bytes as read (no string is made of them) and the string fields are
 * not copied out: `spans` holds where each one starts and ends (see `accessField`), so a line costs
 * no allocation.
 */
export interface AccessLine {
  time: number;
  status: number;
  bytes: number;
  bytesIn: number;
  durationMs: number;
  /** [start, end) in the scanned bytes of each string field, at 2 × its FIELD index. */
  spans: Int32Array;
  /** True when the host held a JSON escape: no route has such a host; it reads as ''. */
  hostEscaped: boolean;
}

/** A fresh record for scanAccessLine to fill (one is reused for every line of a stream). */
export function emptyAccessLine(): AccessLine {
  return {
    time: 0,
    status: 0,
    bytes: 0,
    bytesIn: 0,
    durationMs: 0,
    spans: new Int32Array(12),
    hostEscaped: false,
  };
}

/** The value of string field `f` of the line scanned from `buf` into `l` (latin1, as HAProxy wrote it). */
export function accessField(buf: Buffer, l: AccessLine, f: AccessField): string {
  if (f === 'host' && l.hostEscaped) return '';
  const i = FIELD[f] * 2;
  return buf.toString('latin1', l.spans[i], l.spans[i + 1]);
}

/** True when string field `f` of the line scanned from `b` into `l` is exactly `value` (ASCII). */
export function accessFieldIs(b: Uint8Array, l: AccessLine, f: AccessField, value: string): boolean {
  const i = FIELD[f] * 2;
  const start = l.spans[i] as number;
  if ((l.spans[i + 1] as number) - start !== value.length) return false;
  for (let j = 0; j < value.length; j++) if (b[start + j] !== value.charCodeAt(j)) return false;
  return true;
}

/** A key the scan moves past: its length and the two bytes it compares. */
interface Key {
  length: number;
  /** Its third character (the first after ',"'). */
  third: number;
  last: number;
}
function k(text: string): Key {
  return { length: text.length, third: text.charCodeAt(2), last: text.charCodeAt(text.length - 1) };
}

/** The start of every line, and what precedes each field read, in ACCESS_LOG_FORMAT's order. */
const LEAD = '{"time":';
const K_PROJECT = k(',"project":"');
const K_METHOD = k(',"method":"');
const K_STATUS = k(',"status":');
const K_BYTES = k(',"bytes":');
const K_BYTES_IN = k(',"bytesIn":');
const K_DURATION = k(',"durationMs":');
const K_UPSTREAM = k(',"upstream":"');
const K_REQUEST_ID = k(',"requestId":"');
const K_TERMINATION = k(',"termination":"');
const K_HOST = k(',"host":"');
const TAIL = '"}';
/** Longest number a field may hold (HAProxy prints 64-bit counters; beyond 2^53 is not a count). */
const MAX_DIGITS = 15;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;

/**
 * The steps of a scan take the position the step before stopped at (the ',' after a value, or the
 * start of a value after a key) and return where they stop; -1 once a step failed, and every later
 * step then fails too, so a scan reads as the format does and is checked once at the end. Positions
 * are passed, not kept in module state: V8 then keeps the whole scan in registers (a module-level
 * `let` cost ~3x the instructions per line under callgrind).
 *
 * The scan reads HAProxy's bytes where they were read into (decoding a read's lines into one string
 * first cost about as much as the scan), and touches as few of them as it can (tens of thousands of
 * lines a second): keys by their length and two bytes; values byte by byte up to their end.
 */

/** The value of the last int() step (a typed array: no allocation, no module `let`). */
const NUM = new Float64Array(1);

/**
 * Moves past key `key`, which must start at `p`. Its ',' was checked by the value before it; of the
 * rest only its length and two bytes are compared: a line is always HAProxy's, made from
 * ACCESS_LOG_FORMAT, and a format out of step with the keys fails on their lengths.
 */
function key(b: Uint8Array, p: number, end: number, key: Key): number {
  const last = p + key.length - 1;
  return p >= 0 && last < end && b[p + 2] === key.third && b[last] === key.last ? last + 1 : -1;
}

/** A decimal integer (optionally negative) at `p`, followed by ','; its value goes to NUM[0]. */
function int(b: Uint8Array, p: number, end: number): number {
  if (p < 0) return -1;
  const neg = b[p] === 45; // '-'
  const from = neg ? p + 1 : p;
  let v = 0;
  let i = from;
  for (; i < end; i++) {
    const c = (b[i] as number) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  NUM[0] = neg ? -v : v;
  return i > from && i - from <= MAX_DIGITS && b[i] === COMMA ? i : -1;
}

/**
 * A string value at `p` up to its closing '"', which must be followed by ','; its span goes to
 * `spans[2f]`, `spans[2f + 1]`. A backslash fails it (values before the host are never escaped).
 */
function str(b: Uint8Array, p: number, end: number, spans: Int32Array, f: number): number {
  if (p < 0) return -1;
  let q = p;
  for (; q < end; q++) {
    const c = b[q];
    if (c === QUOTE) break;
    if (c === BACKSLASH) return -1;
  }
  if (q >= end || b[q + 1] !== COMMA) return -1;
  spans[2 * f] = p;
  spans[2 * f + 1] = q;
  return q + 1;
}

/**
 * Scans the access-log line `b[start, stop)` (no newline) into `out`; false for anything else
 * (HAProxy's notices, cut or odd lines), leaving `out` in an unspecified state. Every line is
 * HAProxy's, made from ACCESS_LOG_FORMAT, and there are tens of thousands a second, so this is a
 * cheap positional scan rather than a JSON parser: the line must start like the format (its
 * length, '{', 't' and ':' of `{"time":`) and end with '"}', the fields come in the format's order,
 * numbers are decimal integers, and values other than the host hold no quote or backslash. The
 * host — the only free text, JSON-escaped by HAProxy unless a route has it — is last, so nothing in
 * it can pass for another field; one with an escape is no host any route could have, so it is read
 * as ''.
 */
export function scanAccessLine(b: Uint8Array, start: number, stop: number, out: AccessLine): boolean {
  const end = stop - TAIL.length;
  if (
    end - start < LEAD.length ||
    b[start] !== 123 || // '{'
    b[start + 2] !== 116 || // 't'
    b[start + LEAD.length - 1] !== 58 || // ':'
    b[end] !== QUOTE ||
    b[end + 1] !== 125 // '}'
  )
    return false;
  const spans = out.spans;
  let p = int(b, start + LEAD.length, end);
  out.time = NUM[0] as number;
  p = str(b, key(b, p, end, K_PROJECT), end, spans, FIELD.project); // access.log keeps it; the counters use the route of the host
  p = str(b, key(b, p, end, K_METHOD), end, spans, FIELD.method);
  p = int(b, key(b, p, end, K_STATUS), end);
  out.status = NUM[0] as number;
  p = int(b, key(b, p, end, K_BYTES), end);
  out.bytes = NUM[0] as number;
  p = int(b, key(b, p, end, K_BYTES_IN), end);
  out.bytesIn = NUM[0] as number;
  p = int(b, key(b, p, end, K_DURATION), end);
  out.durationMs = NUM[0] as number;
  p = str(b, key(b, p, end, K_UPSTREAM), end, spans, FIELD.upstream);
  p = str(b, key(b, p, end, K_REQUEST_ID), end, spans, FIELD.requestId);
  p = str(b, key(b, p, end, K_TERMINATION), end, spans, FIELD.termination);
  const host = key(b, p, end, K_HOST);
  if (host < 0) return false;
  // The host runs to the line's closing quote: bare (a routed host, [a-z0-9.-]) unless it holds an
  // escape (HAProxy's json() of any other host), so a quote in it is only allowed beside a backslash.
  let escaped = false;
  let quoted = false;
  for (let i = host; i < end; i++) {
    const c = b[i];
    if (c === BACKSLASH) escaped = true;
    else if (c === QUOTE) quoted = true;
  }
  if (quoted && !escaped) return false;
  spans[2 * FIELD.host] = host;
  spans[2 * FIELD.host + 1] = end;
  out.hostEscaped = escaped;
  return true;
}

/** Where a ring stream hands what it reads. */
export interface RingSink {
  /**
   * One line `buf[start, end)` (HAProxy's bytes, no newline) that starts with '{'; true when it is
   * an access-log line, which then also reaches `lines`.
   */
  line(buf: Buffer, start: number, end: number): boolean;
  /**
   * `count` access-log lines as HAProxy wrote them, each ending with a newline (for access.log);
   * `bytes` is the reader's and valid only during the call (the file reader reuses its buffer).
   */
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

/**
 * Hands `sink` the newline-ended lines of `buf[0, length)`: runs of access-log lines as they are,
 * in one piece each. True when one of the other lines is HAProxy's notice that a proxy stopped.
 */
export function handOver(buf: Buffer, length: number, sink: RingSink): boolean {
  let stopped = false;
  let runStart = 0;
  let run = 0;
  let start = 0;
  while (start < length) {
    let nl = buf.indexOf(10, start);
    if (nl < 0 || nl > length) nl = length;
    if (buf[start] === 123 && sink.line(buf, start, nl)) run++;
    else {
      if (run > 0) sink.lines(buf.subarray(runStart, start), run);
      run = 0;
      runStart = nl + 1;
      if (STOPPED.test(buf.toString('latin1', start, Math.min(nl, start + 200)))) stopped = true;
    }
    start = nl + 1;
  }
  if (run > 0) sink.lines(buf.subarray(runStart, length), run);
  return stopped;
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

  /** Hands over the lines of `buf[0, length)`; notes the worker's notice that it stops. */
  private events(buf: Buffer, length: number): void {
    if (handOver(buf, length, this.sink)) this.stopping = true;
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
