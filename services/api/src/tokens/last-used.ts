// Records when API tokens were last used, off the request path: a use is marked in memory and the
// marks are written in one transaction every `flushEveryMs`. Invariants: the latest mark of a token
// is kept until a write of it succeeds (a failed write is retried at the next flush), `stop()`
// writes whatever is pending before the database closes, and a write never moves `last_used_at`
// backwards (another process may have written a later time).
import type { Logger } from '@paastech/kit';
import type { Database } from '../db/database.js';
import { isoNow } from '../db/ids.js';

export class LastUsedWriter {
  /** tokenId → epoch ms of the latest use not yet written. */
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly flushEveryMs: number,
  ) {}

  /** Notes that `tokenId` was used at `at` (epoch ms); written by the next flush. */
  mark(tokenId: string, at: number): void {
    if ((this.pending.get(tokenId) ?? 0) < at) this.pending.set(tokenId, at);
    this.schedule();
  }

  /** Arms the flush timer unless it is armed or the writer has stopped. */
  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => {});
    }, this.flushEveryMs).unref();
  }

  /** The latest use of `tokenId` not yet written, if any. */
  pendingUse(tokenId: string): number | undefined {
    return this.pending.get(tokenId);
  }

  /** Writes the pending marks (after any write already running); rejects when the write failed. */
  flush(): Promise<void> {
    const run = this.inFlight.catch(() => {}).then(() => this.write());
    this.inFlight = run;
    return run;
  }

  /** Cancels the timer and writes what is pending; a failure is logged (the process is stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => {});
  }

  /** Writes and clears the current marks; on failure puts them back for the next flush. */
  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    try {
      await this.database.db.transaction().execute(async (trx) => {
        for (const [tokenId, at] of batch) {
          const iso = isoNow(at);
          await trx
            .updateTable('api_tokens')
            .set({ last_used_at: iso })
            .where('id', '=', tokenId)
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', iso)]))
            .execute();
        }
      });
    } catch (err) {
      for (const [tokenId, at] of batch)
        if ((this.pending.get(tokenId) ?? 0) < at) this.pending.set(tokenId, at);
      this.logger.warn(
        { err: (err as Error).message, tokens: batch.length },
        "recording api tokens' last use failed; retrying at the next flush",
      );
      this.schedule();
      throw err;
    }
  }
}
