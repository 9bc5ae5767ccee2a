// API tokens (`pt_<40 base62>`). Invariant: only sha256(token) is stored; the token is shown once,
// at creation. Every request looks the hash up again, so a revocation or expiry holds from the very
// next request; last use is written at most once a minute per token.
import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@paastech/kit';
import type { Kysely } from 'kysely';
import { randomString, sha256Hex } from '../auth/secrets.js';
import type { Database } from '../db/database.js';
import { isoNow, newId } from '../db/ids.js';
import type { DB } from '../db/schema.js';
import { DATABASE } from '../providers.js';

export const TOKEN_PREFIX = 'pt_';
const TOKEN_RANDOM_CHARS = 40;
const DISPLAY_PREFIX_CHARS = 10;
const TOUCH_EVERY_MS = 60_000;

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
export class TokensService {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

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
    return rows.map(toInfo);
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
    if (!row) throw new NotFoundError(`token "${id}" not found`);
    return toInfo(row);
  }

  /** The owner of a valid token (known, not revoked, not expired); records its use. */
  async authenticate(token: string): Promise<TokenOwner | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const now = Date.now();
    const row = await this.database.db
      .selectFrom('api_tokens')
      .select(['id', 'client_id', 'expires_at', 'revoked_at', 'last_used_at'])
      .where('token_hash', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now) return undefined;
    if (row.last_used_at === null || Date.parse(row.last_used_at) < now - TOUCH_EVERY_MS) {
      await this.database.db
        .updateTable('api_tokens')
        .set({ last_used_at: isoNow(now) })
        .where('id', '=', row.id)
        .execute();
    }
    return { clientId: row.client_id, tokenId: row.id };
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
