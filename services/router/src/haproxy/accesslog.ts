// Follows the access log HAProxy writes itself (its stdout, redirected by the router to a file):
// the router reads what was appended in batches — once a second, and on demand when counters are
// read — instead of waking up per request, and rotates the file by size.
//
// HAProxy sets O_NONBLOCK on its stdout with F_SETFL, which clears O_APPEND: it keeps writing at
// its own offset. So rotation copies the lines of the current generation to `<file>.1` and
// truncates the file; HAProxy's next line lands past a hole (no disk space, read as NUL bytes that
// are skipped), and the reader continues from where it was.
//
// Invariants: every complete line is handed over exactly once (a partial last line waits for the
// next read); only lines HAProxy writes between the last read and the truncation (microseconds)
// can be lost to the counters — never to requests.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Bytes read per read(2) call. */
const CHUNK_BYTES = 1 << 20;

export class AccessLogFollower {
  /** Next byte to read. */
  private offset: number;
  /** Where the current generation (the lines since the last rotation) starts. */
  private base: number;
  private rest = '';
  /** Keeps a UTF-8 character cut by a read boundary for the next read. */
  private decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);

  /** Starts at the current end of `file`: lines written by an earlier run were counted then. */
  constructor(
    private readonly file: string,
    private readonly onLine: (line: string) => void,
    private readonly maxBytes: number,
  ) {
    this.offset = sizeOf(file);
    this.base = this.offset;
  }

  /**
   * Opens the file for a new HAProxy's stdout. The newline written through O_APPEND moves the fd's
   * offset to the end (HAProxy drops O_APPEND before its first write, which would otherwise land at
   * offset 0 over older lines) and ends a line a crashed HAProxy may have left unfinished.
   */
  openForWriter(): number {
    const fd = fs.openSync(this.file, 'a', 0o600);
    fs.writeSync(fd, '\n');
    const end = sizeOf(this.file);
    if (end < this.offset) {
      // Truncated by a rotation and nothing written since: continue from the new end.
      this.offset = end - 1;
      this.base = this.offset;
    }
    return fd;
  }

  /** Hands every complete line written since the last call to onLine; rotates when too large. */
  poll(): void {
    if (sizeOf(this.file) <= this.offset) return;
    this.offset = this.drain(this.offset, (bytes) => this.split(this.decoder.write(bytes)));
    if (this.offset - this.base >= this.maxBytes) this.rotate();
  }

  /** Copies the current generation to `<file>.1` and frees it from the file (truncation). */
  private rotate(): void {
    const tmp = `${this.file}.1.tmp`;
    const out = fs.openSync(tmp, 'w', 0o600);
    try {
      this.drain(this.base, (bytes) => {
        fs.writeSync(out, bytes);
      });
    } finally {
      fs.closeSync(out);
    }
    fs.renameSync(tmp, `${this.file}.1`);
    fs.truncateSync(this.file, 0);
    this.base = this.offset;
    this.rest = '';
    this.decoder = new StringDecoder('utf8');
  }

  /** Reads the file from `from` to its end, a chunk at a time; returns the end offset. */
  private drain(from: number, use: (bytes: Buffer) => void): number {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return from;
    }
    let pos = from;
    try {
      for (;;) {
        const n = fs.readSync(fd, this.buffer, 0, CHUNK_BYTES, pos);
        if (n <= 0) break;
        pos += n;
        use(this.buffer.subarray(0, n));
        if (n < CHUNK_BYTES) break;
      }
    } finally {
      fs.closeSync(fd);
    }
    return pos;
  }

  /** Emits the complete lines of `chunk` (after what was left over), keeps the partial tail. */
  private split(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      // A line after a rotation starts past a hole of NUL bytes.
      let from = start;
      while (text.charCodeAt(from) === 0 && from < nl) from++;
      this.onLine(text.slice(from, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }
}

/** Size of `file`, 0 when it does not exist. */
function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
