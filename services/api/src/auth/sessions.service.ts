// Dashboard sessions. Invariant: the database holds only sha256(session id); the id itself exists
// only in the Client's cookie. Expiry slides with use (written at most once a minute per session).
import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '../db/database.js';
import { isoNow } from '../db/ids.js';
import { DATABASE } from '../providers.js';
import { randomSecret, sha256Hex } from './secrets.js';

/** How long an unused session stays valid. */
export const SESSION_TTL_MS = 14 * 24 * 3600 * 1000;
/** Sliding expiry is written at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

/** A session found by its cookie value. */
export interface FoundSession {
  clientId: string;
  idHash: string;
  /** True when the expiry was just pushed forward (the cookie should be sent again). */
  renewed: boolean;
}

@Injectable()
export class SessionsService {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** Creates a session for `clientId`; returns the secret id for the cookie. */
  async create(clientId: string): Promise<string> {
    const id = randomSecret();
    const now = Date.now();
    await this.database.db
      .insertInto('sessions')
      .values({
        id_hash: sha256Hex(id),
        client_id: clientId,
        created_at: isoNow(now),
        expires_at: isoNow(now + SESSION_TTL_MS),
        last_seen_at: isoNow(now),
      })
      .execute();
    return id;
  }

  /** Looks up the session of a cookie value; undefined when unknown or expired. */
  async find(id: string): Promise<FoundSession | undefined> {
    const idHash = sha256Hex(id);
    const now = Date.now();
    const row = await this.database.db
      .selectFrom('sessions')
      .select(['client_id', 'last_seen_at'])
      .where('id_hash', '=', idHash)
      .where('expires_at', '>', isoNow(now))
      .executeTakeFirst();
    if (!row) return undefined;
    const renewed = Date.parse(row.last_seen_at) < now - TOUCH_EVERY_MS;
    if (renewed) {
      await this.database.db
        .updateTable('sessions')
        .set({ last_seen_at: isoNow(now), expires_at: isoNow(now + SESSION_TTL_MS) })
        .where('id_hash', '=', idHash)
        .execute();
    }
    return { clientId: row.client_id, idHash, renewed };
  }

  /** Destroys a session (logout). */
  async destroy(idHash: string): Promise<void> {
    await this.database.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  /** Destroys the session a cookie value names, if it exists. */
  async destroyById(id: string): Promise<void> {
    await this.destroy(sha256Hex(id));
  }

  /** Removes expired sessions and device authorizations that can no longer be used. */
  async purgeExpired(): Promise<void> {
    const now = isoNow();
    await this.database.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
    // Kept a day past expiry so that a late poll still gets expired_token rather than invalid_grant.
    await this.database.db
      .deleteFrom('device_authorizations')
      .where('expires_at', '<=', isoNow(Date.now() - 86_400_000))
      .execute();
  }
}
