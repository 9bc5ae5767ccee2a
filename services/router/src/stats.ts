// Per-project traffic counters (requests by status class, latency histogram, bytes) and the access
// log line, fed by whichever data plane is running. Read over the admin socket (GET /stats) and
// reported to Pomegrenade (ReportRouterStats) as deltas since the previous report.
import type { routing } from '@paastech/proto';

/** Upper bounds (ms) of the latency histogram buckets; the last bucket is everything above. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Key under which requests for unknown hosts are counted. */
export const UNROUTED = '(unrouted)';

/** One finished request, as a data plane reports it. */
export interface RequestRecord {
  projectId: string;
  projectName: string;
  method: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Instance address last tried; '' when none was. */
  upstream: string;
  /** True when the router made the response itself (404, 413, 502, 503, 504…). */
  byRouter: boolean;
  requestId: string;
}

/** Counters of one project. */
export interface ProjectCounters {
  projectName: string;
  requests: number;
  /** Requests by status class: index 0 = 1xx … 4 = 5xx. */
  byClass: [number, number, number, number, number];
  /** Responses the router made itself with 502/503/504. */
  unavailable: number;
  bytesIn: number;
  bytesOut: number;
  /** Counts per LATENCY_BUCKETS_MS bucket, plus one overflow bucket. */
  latency: number[];
}

/** A fresh set of counters. */
function emptyCounters(projectName: string): ProjectCounters {
  return {
    projectName,
    requests: 0,
    byClass: [0, 0, 0, 0, 0],
    unavailable: 0,
    bytesIn: 0,
    bytesOut: 0,
    latency: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
  };
}

/** Index of the latency bucket holding `ms`. */
export function bucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (ms <= (LATENCY_BUCKETS_MS[i] as number)) return i;
  return LATENCY_BUCKETS_MS.length;
}

/** Adds one request to `c`. */
function add(
  c: ProjectCounters,
  cls: number,
  unavailable: boolean,
  bytesIn: number,
  bytesOut: number,
  bucket: number,
): void {
  c.requests++;
  c.byClass[cls as 0 | 1 | 2 | 3 | 4]++;
  if (unavailable) c.unavailable++;
  c.bytesIn += bytesIn;
  c.bytesOut += bytesOut;
  c.latency[bucket] = (c.latency[bucket] ?? 0) + 1;
}

/** Where access-log lines go (a batched file, for both data planes). */
export interface AccessLogSink {
  /** The line of one finished request. */
  write(r: RequestRecord): void;
  /**
   * `lines` complete lines a data plane made itself (the haproxy plane's, from HAProxy); `bytes`
   * may be reused by the caller once this returns.
   */
  writeLines(bytes: Buffer, lines: number): void;
  /** Rotates the file if other writers (the node plane's workers) have filled it; true when it did. */
  rotateIfFull?(): boolean;
}

/** Counts every request, totals and since the last report, and writes the access log. */
export class TrafficStats {
  private readonly totals = new Map<string, ProjectCounters>();
  private window = new Map<string, ProjectCounters>();
  private windowStart = new Date();
  /** The project counted last and its counters in both maps (requests come in runs of one project). */
  private lastKey: string | undefined;
  private lastTotals: ProjectCounters | undefined;
  private lastWindow: ProjectCounters | undefined;

  constructor(private readonly accessLog: AccessLogSink) {}

  /** Records one finished request and writes its access-log line. */
  record(r: RequestRecord): void {
    this.count(r.projectId, r.projectName, r.status, r.bytesIn, r.bytesOut, r.durationMs, r.byRouter);
    this.accessLog.write(r);
  }

  /**
   * Counts one finished request whose access-log line the data plane writes itself (writeLines);
   * plain arguments, so a plane counting tens of thousands of requests a second makes no object each.
   */
  count(
    projectId: string,
    projectName: string,
    status: number,
    bytesIn: number,
    bytesOut: number,
    durationMs: number,
    byRouter: boolean,
  ): void {
    const key = projectId || UNROUTED;
    if (key !== this.lastKey || this.lastTotals === undefined || this.lastWindow === undefined) {
      this.lastKey = key;
      this.lastTotals = this.countersOf(this.totals, key, projectName);
      this.lastWindow = this.countersOf(this.window, key, projectName);
    }
    const unavailable = byRouter && (status === 502 || status === 503 || status === 504);
    const cls = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 4);
    const bucket = bucketOf(durationMs);
    add(this.lastTotals, cls, unavailable, bytesIn, bytesOut, bucket);
    add(this.lastWindow, cls, unavailable, bytesIn, bytesOut, bucket);
  }

  /** The counters of `key` in `map`, created on first use. */
  private countersOf(map: Map<string, ProjectCounters>, key: string, projectName: string): ProjectCounters {
    let c = map.get(key);
    if (!c) {
      c = emptyCounters(projectName);
      map.set(key, c);
    }
    return c;
  }

  /**
   * The counts since the previous call, by project key, and a fresh window (a worker process hands
   * these to its primary, which merges them).
   */
  takeWindow(): Array<[string, ProjectCounters]> {
    const out = [...this.window.entries()];
    this.window = new Map();
    this.lastKey = undefined;
    return out;
  }

  /** Adds counts made elsewhere (a worker process's window) to the totals and the window. */
  merge(key: string, c: ProjectCounters): void {
    for (const map of [this.totals, this.window]) {
      const into = this.countersOf(map, key, c.projectName);
      into.requests += c.requests;
      for (let i = 0; i < into.byClass.length; i++) into.byClass[i as 0] += c.byClass[i as 0] ?? 0;
      into.unavailable += c.unavailable;
      into.bytesIn += c.bytesIn;
      into.bytesOut += c.bytesOut;
      for (let i = 0; i < into.latency.length; i++)
        into.latency[i] = (into.latency[i] ?? 0) + (c.latency[i] ?? 0);
    }
  }

  /** Appends `lines` complete access-log lines a data plane made itself (see count). */
  writeLines(bytes: Buffer, lines: number): void {
    this.accessLog.writeLines(bytes, lines);
  }

  /** See AccessLogSink.rotateIfFull. */
  rotateAccessLogIfFull(): boolean {
    return this.accessLog.rotateIfFull?.() ?? false;
  }

  /** Every project's totals since the router started. */
  snapshot(): { buckets: number[]; projects: Record<string, ProjectCounters> } {
    return { buckets: LATENCY_BUCKETS_MS, projects: Object.fromEntries(this.totals) };
  }

  /** The counts since the previous call, as a ReportRouterStats request; resets the window. */
  takeReport(routerId: string): routing.ReportRouterStatsRequest {
    const windowEnd = new Date();
    const projects = [...this.window.entries()]
      .filter(([key]) => key !== UNROUTED)
      .map(([projectId, c]) => ({
        projectId,
        requestCount: c.requests - c.unavailable,
        serverErrorCount: c.byClass[4] - c.unavailable,
        unavailableCount: c.unavailable,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        byStatusClass: {
          informational: c.byClass[0],
          success: c.byClass[1],
          redirection: c.byClass[2],
          clientError: c.byClass[3],
          serverError: c.byClass[4],
        },
        latency: { upperBoundsMs: LATENCY_BUCKETS_MS, counts: [...c.latency] },
      }));
    const report = { routerId, windowStart: this.windowStart, windowEnd, projects };
    this.window = new Map();
    this.windowStart = windowEnd;
    this.lastKey = undefined;
    return report;
  }
}
