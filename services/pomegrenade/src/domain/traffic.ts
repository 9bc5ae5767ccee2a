// Per-project request counts, summed from the router's reports (RoutingService.ReportRouterStats).
//
// The router sends deltas: what it saw since its previous report, only for projects that got
// traffic. Totals are the sum of every delta since this process started (kept in memory, so a
// restart starts from zero: `countedSince` says so). The last window is the latest report; a
// project absent from it had no request in it, so its window counts are zero.
//
// Counts by status class are optional (routers older than the field send none): they are summed
// only from the reports that carry them, and stay absent until one did.
//
// The latency histogram is kept for the last window only (bounds may differ between routers, so
// totals across reports would not add up); a malformed one (bounds not strictly ascending, over 64
// buckets, counts not one more than bounds) is dropped, never guessed at.

/** Answers by status class: 1xx … 5xx, the router's own pages included. */
export interface StatusClassCounts {
  informational: number;
  success: number;
  redirection: number;
  clientError: number;
  serverError: number;
}

/** Answers by duration: counts per bucket of `upperBoundsMs` (ascending), then the overflow. */
export interface LatencyHistogram {
  upperBoundsMs: number[];
  counts: number[];
}

/** More buckets than any router sends: a longer histogram is refused. */
const MAX_BUCKETS = 64;

/** The counts one report carries for one project. */
export interface TrafficCounts {
  requests: number;
  serverErrors: number;
  unavailable: number;
  bytesIn: number;
  bytesOut: number;
  /** Absent when the router did not report classes. */
  byStatusClass?: StatusClassCounts;
  /** Absent when the router did not report a histogram. */
  latency?: LatencyHistogram;
}

/** One project's traffic in the last report window. */
export interface TrafficWindow {
  start: Date;
  end: Date;
  requests: number;
  serverErrors: number;
  unavailable: number;
  byStatusClass?: StatusClassCounts;
  latency?: LatencyHistogram;
}

/** What GetProjectStatus shows of one project's traffic. */
export interface ProjectTraffic extends Omit<TrafficCounts, 'latency'> {
  countedSince: Date;
  lastWindow?: TrafficWindow;
}

/** One router report: its interval and the counts of each project that got traffic. */
export interface TrafficReport {
  start: Date;
  end: Date;
  projects: ReadonlyMap<string, TrafficCounts>;
}

/** A project's totals plus the report sequence number its last window came from. */
interface Entry {
  totals: TrafficCounts;
  window: TrafficCounts;
  seq: number;
}

const ZERO: TrafficCounts = { requests: 0, serverErrors: 0, unavailable: 0, bytesIn: 0, bytesOut: 0 };

/** Adds two sets of class counts; absent only when both are. */
function addClasses(
  a: StatusClassCounts | undefined,
  b: StatusClassCounts | undefined,
): StatusClassCounts | undefined {
  if (!a || !b) return a ?? b;
  return {
    informational: a.informational + b.informational,
    success: a.success + b.success,
    redirection: a.redirection + b.redirection,
    clientError: a.clientError + b.clientError,
    serverError: a.serverError + b.serverError,
  };
}

/** Adds two histograms with the same bounds; absent when both are, or when their bounds differ. */
function addLatency(
  a: LatencyHistogram | undefined,
  b: LatencyHistogram | undefined,
): LatencyHistogram | undefined {
  if (!a || !b) return a ?? b;
  const same =
    a.upperBoundsMs.length === b.upperBoundsMs.length &&
    a.upperBoundsMs.every((x, i) => x === b.upperBoundsMs[i]);
  if (!same) return undefined;
  return { upperBoundsMs: a.upperBoundsMs, counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)) };
}

/** Adds two sets of counts (the histograms too: the caller keeps them out of totals). */
function add(a: TrafficCounts, b: TrafficCounts): TrafficCounts {
  const sum: TrafficCounts = {
    requests: a.requests + b.requests,
    serverErrors: a.serverErrors + b.serverErrors,
    unavailable: a.unavailable + b.unavailable,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
  };
  const byStatusClass = addClasses(a.byStatusClass, b.byStatusClass);
  if (byStatusClass) sum.byStatusClass = byStatusClass;
  const latency = addLatency(a.latency, b.latency);
  if (latency) sum.latency = latency;
  return sum;
}

/** `n` if it is a finite positive number (floored), else 0. */
const ok = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/** A histogram of sane shape with its counts sanitized; undefined when its shape is not. */
function sanitizeLatency(l: LatencyHistogram | undefined): LatencyHistogram | undefined {
  if (!l) return undefined;
  const bounds = l.upperBoundsMs;
  const ascending = bounds.every(
    (b, i) => Number.isFinite(b) && b >= 0 && (i === 0 || b > (bounds[i - 1] as number)),
  );
  if (!ascending || bounds.length > MAX_BUCKETS || l.counts.length !== bounds.length + 1) return undefined;
  return { upperBoundsMs: [...bounds], counts: l.counts.map(ok) };
}

/** Counts that are not finite non-negative numbers become 0, so a bad report cannot poison totals. */
function sanitize(c: TrafficCounts): TrafficCounts {
  const counts: TrafficCounts = {
    requests: ok(c.requests),
    serverErrors: ok(c.serverErrors),
    unavailable: ok(c.unavailable),
    bytesIn: ok(c.bytesIn),
    bytesOut: ok(c.bytesOut),
  };
  const k = c.byStatusClass;
  if (k)
    counts.byStatusClass = {
      informational: ok(k.informational),
      success: ok(k.success),
      redirection: ok(k.redirection),
      clientError: ok(k.clientError),
      serverError: ok(k.serverError),
    };
  const latency = sanitizeLatency(c.latency);
  if (latency) counts.latency = latency;
  return counts;
}

/** In-memory traffic counters of every project. */
export class TrafficCounters {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private last: { start: Date; end: Date } | undefined;

  constructor(readonly countedSince: Date = new Date()) {}

  /** Adds one router report to the totals and makes it the last window. */
  record(report: TrafficReport): void {
    this.seq += 1;
    this.last = { start: report.start, end: report.end };
    for (const [projectId, raw] of report.projects) {
      if (!projectId) continue;
      const counts = sanitize(raw);
      const { latency: _windowOnly, ...totalsDelta } = counts;
      const e = this.entries.get(projectId);
      const window = e?.seq === this.seq ? add(e.window, counts) : counts;
      this.entries.set(projectId, { totals: add(e?.totals ?? ZERO, totalsDelta), window, seq: this.seq });
    }
  }

  /** True when the router reported at least one request of the project. */
  has(projectId: string): boolean {
    return this.entries.has(projectId);
  }

  /** A project's traffic: zeros when it never got a request. */
  of(projectId: string): ProjectTraffic {
    const e = this.entries.get(projectId);
    const traffic: ProjectTraffic = { countedSince: this.countedSince, ...(e?.totals ?? ZERO) };
    if (!this.last) return traffic;
    const w = e?.seq === this.seq ? e.window : ZERO;
    const lastWindow: TrafficWindow = {
      start: this.last.start,
      end: this.last.end,
      requests: w.requests,
      serverErrors: w.serverErrors,
      unavailable: w.unavailable,
    };
    if (w.byStatusClass) lastWindow.byStatusClass = w.byStatusClass;
    if (w.latency) lastWindow.latency = w.latency;
    return { ...traffic, lastWindow };
  }

  /** Drops a deleted project's counters. */
  forget(projectId: string): void {
    this.entries.delete(projectId);
  }
}
