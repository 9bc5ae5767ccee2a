// The access log of both data planes: one JSON line per request in <data dir>/router/access.log
// (the haproxy plane feeds it the lines it reads from HAProxy's memory ring), written in batches
// rather than one log call and one write per request, and rotated by size.
import fs from 'node:fs';
import path from 'node:path';
import type { RequestRecord } from './stats.js';

/** Where both data planes keep the access log. */
export function accessLogPath(dataDir: string): string {
  return path.join(dataDir, 'router', 'access.log');
}

/** The node plane's access-log line of one finished request (newline-terminated JSON). */
export function accessLine(r: RequestRecord): string {
  return `{"time":${Date.now()},"project":${JSON.stringify(r.projectName)},"method":${JSON.stringify(r.method)},"status":${r.status},"bytes":${r.bytesOut},"bytesIn":${r.bytesIn},"durationMs":${Math.round(r.durationMs * 1000) / 1000},"upstream":${JSON.stringify(r.upstream)},"requestId":${JSON.stringify(r.requestId)}}\n`;
}

/** Buffered lines are written once they reach this size… */
const FLUSH_BYTES = 64 * 1024;
/** …or after this long. */
const FLUSH_MS = 200;
/** Most pieces written with one writev (Linux's IOV_MAX is 1024). */
const MAX_IOVECS = 64;
/** A failing write (disk full, file system gone) is reported at most this often. */
const ERROR_REPORT_MS = 60_000;

/** Reports lines lost to a failing write: the error, and how many lines since the last report. */
export type AccessLogErrorReporter = (err: Error, droppedLines: number) => void;

export class AccessLogWriter {
  /** Lines not yet written: strings (the node plane's) and chunks of ready-made lines (HAProxy's). */
  private pending: Array<string | Buffer> = [];
  private pendingLines = 0;
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private fd: number;
  private size: number;
  private closed = false;
  private dropped = 0;
  private lastReport = Number.NEGATIVE_INFINITY;

  /** `onError` hears of lines lost to a failing write (throttled); the writer itself never throws then. */
  constructor(
    private readonly file: string,
    private readonly onError: AccessLogErrorReporter = () => {},
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Queues the line of one finished request (none once closed). */
  write(r: RequestRecord): void {
    if (this.closed) return;
    const line = accessLine(r);
    this.queue(line, line.length, 1);
  }

  /**
   * Takes `lines` complete, newline-terminated lines as they are (the haproxy plane's). The caller
   * may reuse `bytes` once this returns: a chunk of FLUSH_BYTES or more is written now (with what
   * was queued before it), a smaller one is copied.
   */
  writeLines(bytes: Buffer, lines: number): void {
    if (this.closed || bytes.length === 0) return;
    this.queue(bytes.length < FLUSH_BYTES ? Buffer.from(bytes) : bytes, bytes.length, lines);
  }

  private queue(item: string | Buffer, bytes: number, lines: number): void {
    this.pending.push(item);
    this.pendingBytes += bytes;
    this.pendingLines += lines;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes the queued lines (one write), rotating to `<file>.1` past maxBytes. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const chunks = toBuffers(this.pending);
    const lines = this.pendingLines;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingLines = 0;
    try {
      this.size +=
        chunks.length === 1
          ? fs.writeSync(this.fd, chunks[0] as Buffer)
          : chunks.length <= MAX_IOVECS
            ? fs.writevSync(this.fd, chunks)
            : fs.writeSync(this.fd, Buffer.concat(chunks));
      if (this.size >= this.maxBytes) this.rotate();
    } catch (err) {
      // A full disk must not take the router down: the lines are dropped (the counters keep them)
      // and the next batch tries again.
      this.dropped += lines;
      const now = Date.now();
      if (now - this.lastReport >= ERROR_REPORT_MS) {
        this.lastReport = now;
        this.onError(err as Error, this.dropped);
        this.dropped = 0;
      }
    }
  }

  /**
   * Rotates when the file (written by other processes too: the node plane's workers) has reached
   * maxBytes; true when it did.
   */
  rotateIfFull(): boolean {
    if (this.closed) return false;
    try {
      if (fs.statSync(this.file).size < this.maxBytes) return false;
      this.flush();
      this.rotate();
      return true;
    } catch {
      return false;
    }
  }

  /** Opens the file again by name (another process has rotated it); pending lines go to the new one. */
  reopen(): void {
    if (this.closed) return;
    try {
      const fd = fs.openSync(this.file, 'a', 0o600);
      fs.closeSync(this.fd);
      this.fd = fd;
      this.size = fs.fstatSync(fd).size;
    } catch (err) {
      this.onError(err as Error, 0);
    }
  }

  /** Moves the file to `<file>.1` and starts a new one; the fd stays usable if a step fails. */
  private rotate(): void {
    fs.renameSync(this.file, `${this.file}.1`);
    const fd = fs.openSync(this.file, 'a', 0o600);
    fs.closeSync(this.fd);
    this.fd = fd;
    this.size = 0;
  }

  /** Writes what is queued and closes the file (once: a router may be stopped twice). */
  close(): void {
    if (this.closed) return;
    this.flush();
    fs.closeSync(this.fd);
    this.closed = true;
  }
}

/** The queued items as buffers, consecutive strings joined into one. */
function toBuffers(items: Array<string | Buffer>): Buffer[] {
  const out: Buffer[] = [];
  let strings: string[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      strings.push(item);
      continue;
    }
    if (strings.length > 0) out.push(Buffer.from(strings.join('')));
    strings = [];
    out.push(item);
  }
  if (strings.length > 0) out.push(Buffer.from(strings.join('')));
  return out;
}
