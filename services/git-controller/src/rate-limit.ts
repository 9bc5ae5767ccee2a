// Failed authentications per client address: after `maxFailures` within `windowMs` the address is
// refused until the window ends, so tokens cannot be guessed at network speed.

interface Window {
  start: number;
  failures: number;
}

/** Counts failures per key in fixed windows. */
export class FailureLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` may try again; 0 when it may try now. */
  retryAfter(key: string): number {
    const w = this.current(key);
    if (!w || w.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
  }

  /** Records a failed authentication of `key`. */
  fail(key: string): void {
    const w = this.current(key) ?? { start: this.now(), failures: 0 };
    w.failures++;
    this.windows.set(key, w);
    if (this.windows.size > 100_000) this.prune();
  }

  /** The live window of `key`, dropping an expired one. */
  private current(key: string): Window | undefined {
    const w = this.windows.get(key);
    if (w && this.now() - w.start >= this.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** Drops every expired window (bounds memory under a flood of addresses). */
  private prune(): void {
    for (const key of [...this.windows.keys()]) this.current(key);
  }
}
