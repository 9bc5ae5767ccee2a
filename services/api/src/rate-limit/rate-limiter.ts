// In-memory sliding-window rate limiting (one process holds the counters; a restart forgets them,
// which only ever lets an attacker start over with a fresh window, never past it).
import { RateLimitedError } from '@paastech/kit';
import type { Limit } from '../config.js';

/** Remembers attempt times per key and refuses attempts beyond a limit. */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private sweptAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts an attempt for `key`; throws RateLimitedError (with Retry-After) when over `limit`. */
  hit(key: string, limit: Limit, what: string): void {
    const now = this.now();
    this.sweep(now, limit.windowMs);
    const recent = (this.hits.get(key) ?? []).filter((t) => t > now - limit.windowMs);
    if (recent.length >= limit.max) {
      const retryAfter = Math.ceil(((recent[0] ?? now) + limit.windowMs - now) / 1000);
      this.hits.set(key, recent);
      throw new RateLimitedError(
        `too many ${what}: at most ${limit.max} per ${Math.round(limit.windowMs / 1000)} s, retry in ${retryAfter} s`,
        retryAfter,
      );
    }
    recent.push(now);
    this.hits.set(key, recent);
  }

  /** Drops keys with no recent attempts, at most once a minute, so memory stays bounded. */
  private sweep(now: number, windowMs: number): void {
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [key, times] of this.hits) {
      if ((times[times.length - 1] ?? 0) <= now - Math.max(windowMs, 3_600_000)) this.hits.delete(key);
    }
  }
}
