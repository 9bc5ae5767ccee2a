// Logs of one project: every line has a time, a source (build, release, web.1, router, platform)
// and a deployment number. Kept on disk as JSON lines, rotated (bounded size), plus a recent window
// in memory for fast tails and live followers; lines written before a restart stay readable.
import fs from 'node:fs';
import path from 'node:path';

export interface LogEntry {
  time: Date;
  source: string;
  text: string;
  deploymentNumber: number;
}

export interface LogQuery {
  /** Sources to keep; a process type ("web") matches its instances ("web.1"). Empty keeps all. */
  sources: string[];
  tail: number;
  since?: Date;
}

const WINDOW = 2000;

/** True when `entry` passes the source and time filters of `q`. */
export function matchesLogQuery(entry: LogEntry, q: Pick<LogQuery, 'sources' | 'since'>): boolean {
  if (q.since && entry.time < q.since) return false;
  if (q.sources.length === 0) return true;
  return q.sources.some((s) => entry.source === s || entry.source.startsWith(`${s}.`));
}

/** The rotated log files and memory window of one project. */
export class ProjectLog {
  private readonly window: LogEntry[] = [];
  private readonly followers = new Set<(e: LogEntry) => void>();
  private pending: string[] = [];
  private size: number;
  private flushScheduled = false;

  constructor(
    private readonly dir: string,
    private readonly maxFileBytes = 4 * 1024 * 1024,
    private readonly keepFiles = 3,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.size = fileSize(this.file(0));
  }

  /** Path of the current file (0) or of the n-th rotated one. */
  private file(n: number): string {
    return path.join(this.dir, n === 0 ? 'project.log' : `project.log.${n}`);
  }

  /** Records one line and hands it to followers. */
  append(source: string, text: string, deploymentNumber = 0): void {
    const entry: LogEntry = { time: new Date(), source, text, deploymentNumber };
    this.window.push(entry);
    if (this.window.length > WINDOW) this.window.splice(0, this.window.length - WINDOW);
    this.pending.push(
      `${JSON.stringify({ t: entry.time.toISOString(), s: source, d: deploymentNumber, x: text })}\n`,
    );
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    for (const f of this.followers) f(entry);
  }

  /** Writes pending lines, rotating when the current file is full. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    if (this.size + data.length > this.maxFileBytes && this.size > 0) this.rotate();
    try {
      fs.appendFileSync(this.file(0), data);
      this.size += Buffer.byteLength(data);
    } catch {
      // project deleted meanwhile: its log goes with it
    }
  }

  /** Shifts project.log → .1 → .2 …, dropping the oldest. */
  private rotate(): void {
    for (let n = this.keepFiles - 1; n >= 1; n--) {
      if (fs.existsSync(this.file(n - 1))) fs.renameSync(this.file(n - 1), this.file(n));
    }
    this.size = 0;
  }

  /** The last `q.tail` matching lines, oldest first (from memory when it holds enough). */
  read(q: LogQuery): LogEntry[] {
    if (q.tail <= 0) return [];
    const inWindow = this.window.filter((e) => matchesLogQuery(e, q));
    if (inWindow.length >= q.tail) return inWindow.slice(-q.tail);
    this.flush();
    const all: LogEntry[] = [];
    for (let n = this.keepFiles - 1; n >= 0; n--)
      all.push(...readFile(this.file(n)).filter((e) => matchesLogQuery(e, q)));
    return all.slice(-q.tail);
  }

  /** Calls `cb` for every new line until the returned function is called. */
  follow(cb: (e: LogEntry) => void): () => void {
    this.followers.add(cb);
    return () => this.followers.delete(cb);
  }

  /** Bytes on disk. */
  diskBytes(): number {
    let total = 0;
    for (let n = 0; n < this.keepFiles; n++) total += fileSize(this.file(n));
    return total;
  }
}

/** Size of a file, 0 when absent. */
function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Parses one log file; unreadable lines (a torn write at a crash) are skipped. */
function readFile(file: string): LogEntry[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const o = JSON.parse(line) as { t: string; s: string; d: number; x: string };
      out.push({ time: new Date(o.t), source: o.s, text: o.x, deploymentNumber: o.d });
    } catch {
      // torn line
    }
  }
  return out;
}
