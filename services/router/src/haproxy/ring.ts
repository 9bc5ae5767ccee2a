// Reads HAProxy's access log from its in-memory ring (the `ring` section of haproxy.cfg) over the
// Runtime API: one long-lived `show events <ring> -w` per HAProxy worker. HAProxy writes a line into
// memory per request (no syscall); the router gets them in chunks of many lines.
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
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '@paastech/kit';

/** How often a soft-stopping worker is checked for connections left. */
const DRAIN_CHECK_MS = 100;
/** Wait before attaching again to a worker whose stream broke. */
const REATTACH_MS = 200;

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

const STRING_FIELDS = ['host', 'backend', 'method', 'upstream', 'requestId', 'termination'] as const;
const NUMBER_FIELDS = ['status', 'bytes', 'bytesIn', 'durationMs'] as const;

/** Parses one access-log line; undefined for anything else (HAProxy's notices, cut or odd lines). */
export function parseAccessLine(line: string): AccessLine | undefined {
  if (line.charCodeAt(0) !== 123) return undefined; // HAProxy's own notices are not "{" lines
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.component !== 'access') return undefined;
  for (const k of STRING_FIELDS) if (typeof o[k] !== 'string') return undefined;
  for (const k of NUMBER_FIELDS) if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) return undefined;
  return o as unknown as AccessLine;
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
  private rest = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly socket: net.Socket;

  constructor(
    socketPath: string,
    ring: string,
    fromEnd: boolean,
    private readonly onLine: (line: string) => void,
    private readonly onNamed: (s: RingStream) => void,
    onEnd: (s: RingStream) => void,
  ) {
    this.socket = net.connect(socketPath);
    this.socket.on('connect', () =>
      this.socket.write(`show info; show events ${ring} -w${fromEnd ? 'n' : ''}\n`),
    );
    this.socket.on('data', (b: Buffer) => this.split(this.decoder.write(b)));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => onEnd(this));
  }

  /** Hands over the complete lines of `chunk` (after the partial line kept from the last one). */
  private split(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl);
      start = nl + 1;
      if (this.duplicate) return;
      if (!this.named) this.info(line);
      else if (line.charCodeAt(0) === 123) this.onLine(line);
      else if (/^Proxy \S+ stopped/.test(line)) this.stopping = true;
    }
    this.rest = text.slice(start);
  }

  /** Reads a line of `show info`: it comes before any event, so a duplicate hands over nothing. */
  private info(line: string): void {
    if (line.startsWith('Pid: ')) this.pid = Number(line.slice(5));
    else if (line === 'Stopping: 1') this.stopping = true;
    else if (line === '') {
      this.named = true;
      this.onNamed(this);
    }
  }

  /** Ends the stream (HAProxy ends the command when the connection closes). */
  close(): void {
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
    private readonly onLine: (line: string) => void,
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
      this.onLine,
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
