// API tokens (`pt_<40 base62>`). Invariant: only sha256(token) is stored; the token is shown once,
// at creation. Authentication reads the token from a short-lived in-process cache (TokenCache) or
// the database; a revocation through this process takes effect on the very next request, an expiry
// is checked on every request, and a revocation by another process holds within the cache TTL.
// Last use is written at most once a minute per token, off the request path (LastUsedWriter).
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type Logger, NotFoundError } from '@paastech/kit';
import type { Kysely } from 'kysely';
import { randomString, sha256Hex } from '../auth/secrets.js';
import type { Database } from '../db/database.js';
import { isoNow, newId } from '../db/ids.js';
import type { DB } from '../db/schema.js';
import { DATABASE, LOGGER } from '../providers.js';
import { LastUsedWriter } from './last-used.js';
import { type CachedToken, TokenCache } from './token-cache.js';

export const TOKEN_PREFIX = 'pt_';
const TOKEN_RANDOM_CHARS = 40;
const DISPLAY_PREFIX_CHARS = 10;
/** `last_used_at` is advanced at most this often per token. */
const TOUCH_EVERY_MS = 60_000;
/** How long a valid token is trusted without asking the database (bounds other processes' revocations). */
export const TOKEN_CACHE_TTL_MS = 5_000;
/** Most tokens cached at once. */
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;
/** Marked uses are written this long after the first one pending. */
const LAST_USED_FLUSH_MS = 1_000;

/** A token as listed (never with its secret); REST JSON is snake_case throughout. */
export interface TokenInfo {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** A freshly created token: the only time its secret is known. */
export interface CreatedToken extends TokenInfo {
  token: string;
}

/** A valid token's owner. */
export interface TokenOwner {
  clientId: string;
  tokenId: string;
}

@Injectable()
export class TokensService implements OnApplicationShutdown {
  private readonly cache = new TokenCache(TOKEN_CACHE_TTL_MS, TOKEN_CACHE_MAX_ENTRIES);
  private readonly lastUsed: LastUsedWriter;

  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.lastUsed = new LastUsedWriter(database, logger, LAST_USED_FLUSH_MS);
  }

  /** Writes the pending last-use times before the database closes. */
  async onApplicationShutdown(): Promise<void> {
    await this.lastUsed.stop();
  }

  /** Creates a token for `clientId`; `expiresInDays` unset = never expires; `db` may be a transaction. */
  async create(
    clientId: string,
    name: string,
    expiresInDays?: number,
    db: Kysely<DB> = this.database.db,
  ): Promise<CreatedToken> {
    const token = TOKEN_PREFIX + randomString(TOKEN_RANDOM_CHARS);
    const now = Date.now();
    const row = {
      id: newId(now),
      client_id: clientId,
      name,
      token_hash: sha256Hex(token),
      prefix: token.slice(0, DISPLAY_PREFIX_CHARS),
      created_at: isoNow(now),
      expires_at: expiresInDays ? isoNow(now + expiresInDays * 86_400_000) : null,
      last_used_at: null,
      revoked_at: null,
    };
    await db.insertInto('api_tokens').values(row).execute();
    return { ...toInfo(row), token };
  }

  /** The Client's tokens that are not revoked, newest first. */
  async list(clientId: string): Promise<TokenInfo[]> {
    const rows = await this.database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('client_id', '=', clientId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map((row) => toInfo({ ...row, last_used_at: this.latestUse(row.id, row.last_used_at) }));
  }

  /** Revokes one of the Client's tokens; another Client's token is "not found". */
  async revoke(clientId: string, id: string): Promise<TokenInfo> {
    const row = await this.database.db
      .updateTable('api_tokens')
      .set({ revoked_at: isoNow() })
      .where('id', '=', id)
      .where('client_id', '=', clientId)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    this.cache.forget((t) => t.tokenId === id);
    if (!row) throw new NotFoundError(`token "${id}" not found`);
    return toInfo(row);
  }

  /** The owner of a valid token (known, not revoked, not expired); records its use. */
  async authenticate(token: string): Promise<TokenOwner | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const hash = sha256Hex(token);
    const now = Date.now();
    const found = this.cache.get(hash, now) ?? (await this.lookUp(hash, now));
    if (!found) return undefined;
    if (found.expiresAt !== null && found.expiresAt <= now) {
      this.cache.delete(hash);
      return undefined;
    }
    if (found.lastUsedAt === null || found.lastUsedAt < now - TOUCH_EVERY_MS) {
      found.lastUsedAt = now;
      this.lastUsed.mark(found.tokenId, now);
    }
    return { clientId: found.clientId, tokenId: found.tokenId };
  }

  /** Reads a token by hash from the database and caches it when it is not revoked. */
  private async lookUp(hash: string, now: number): Promise<CachedToken | undefined> {
    const generation = this.cache.generation;
    const row = await this.database.db
      .selectFrom('api_tokens')
      .select(['id', 'client_id', 'expires_at', 'revoked_at', 'last_used_at'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    const lastUsed = this.latestUse(row.id, row.last_used_at);
    const found: CachedToken = {
      tokenId: row.id,
      clientId: row.client_id,
      expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
      lastUsedAt: lastUsed === null ? null : Date.parse(lastUsed),
    };
    this.cache.set(hash, found, now, generation);
    return found;
  }

  /** The later of a stored last use and one marked but not yet written. */
  private latestUse(tokenId: string, stored: string | null): string | null {
    const pending = this.lastUsed.pendingUse(tokenId);
    if (pending === undefined) return stored;
    const iso = isoNow(pending);
    return stored !== null && stored > iso ? stored : iso;
  }
}

/** Maps a row to what lists show. */
function toInfo(row: {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.created_at,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
  };
}
