// Audit events: who did what to which thing, from where. Details must never hold a secret (no
// passwords, tokens, config values); callers pass ids and names only.
import { Inject, Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { isoNow, newId } from '../db/ids.js';
import type { DB } from '../db/schema.js';
import { DATABASE } from '../providers.js';

/** Records audit events; inject it anywhere (`AuditService` is provided globally). */
@Injectable()
export class AuditService {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** Stores one event; `target` names the thing (`token:<id>`, `project:shop`); `db` may be a transaction. */
  async record(
    clientId: string | null,
    action: string,
    target: string,
    ip: string | null,
    details: Record<string, unknown> = {},
    db: Kysely<DB> = this.database.db,
  ): Promise<void> {
    await db
      .insertInto('audit_events')
      .values({
        id: newId(),
        client_id: clientId,
        action,
        target,
        ip,
        at: isoNow(),
        details: JSON.stringify(details),
      })
      .execute();
  }
}
