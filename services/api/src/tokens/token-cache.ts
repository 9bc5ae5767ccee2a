// A small in-process cache of valid API tokens, keyed by sha256(token), so that a request does not
// pay a database round trip to authenticate. Invariants: an entry lives at most `ttlMs`; it holds
// the token's expiry, which the caller checks on every hit; a token revoked through this process is
// dropped at once; a lookup that started before a revocation is never cached after it (the
// generation counter), so it cannot bring the revoked token back. At most `maxEntries` are kept:
// the oldest (soonest to go stale) are evicted first. A revocation made by another process sharing
// the database holds here within `ttlMs`.

/** What authenticating a token needs to know, as read from the database. */
export interface CachedToken {
  tokenId: string;
  clientId: string;
  /** Epoch ms; null = never expires. */
  expiresAt: number | null;
  /** Epoch ms of the last recorded use; null = never used. */
  lastUsedAt: number | null;
}

interface Entry {
  token: CachedToken;
  staleAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private generationValue = 0;

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}

  /** Number of entries held (stale ones included until touched or evicted). */
  get size(): number {
    return this.entries.size;
  }

  /** Changes whenever something is forgotten; pass the value read before a lookup to `set`. */
  get generation(): number {
    return this.generationValue;
  }

  /** The entry for `hash` if it is younger than the TTL at `now`. */
  get(hash: string, now: number): CachedToken | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.staleAt <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.token;
  }

  /** Caches `token` unless something was forgotten since `generation` was read. */
  set(hash: string, token: CachedToken, now: number, generation: number): void {
    if (generation !== this.generationValue) return;
    this.entries.delete(hash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(hash, { token, staleAt: now + this.ttlMs });
  }

  /** Drops one entry (e.g. the token turned out expired). */
  delete(hash: string): void {
    this.entries.delete(hash);
  }

  /** Forgets every entry matching `match` and invalidates lookups in flight. */
  forget(match: (token: CachedToken) => boolean): void {
    this.generationValue++;
    for (const [hash, entry] of this.entries) if (match(entry.token)) this.entries.delete(hash);
  }
}
