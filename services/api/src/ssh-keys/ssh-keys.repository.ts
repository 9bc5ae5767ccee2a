// Queries of the ssh_keys table.
import { Inject, Injectable } from '@nestjs/common';
import { ConflictError } from '@paastech/kit';
import type { Selectable } from 'kysely';
import type { Database } from '../db/database.js';
import type { SshKeysTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique.js';
import { DATABASE } from '../providers.js';

export type SshKeyRow = Selectable<SshKeysTable>;

@Injectable()
export class SshKeysRepository {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** The Client's keys, oldest first. */
  listByClient(clientId: string): Promise<SshKeyRow[]> {
    return this.database.db
      .selectFrom('ssh_keys')
      .selectAll()
      .where('client_id', '=', clientId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Inserts a key; a fingerprint registered by any Client is a ConflictError that names no one. */
  async insert(row: SshKeyRow): Promise<void> {
    try {
      await this.database.db.insertInto('ssh_keys').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError(`ssh key "${row.fingerprint}" is already registered`, { cause: err });
      }
      throw err;
    }
  }

  /** Deletes the Client's key with this id or fingerprint; the deleted row, or undefined. */
  async delete(clientId: string, idOrFingerprint: string): Promise<SshKeyRow | undefined> {
    const column = idOrFingerprint.startsWith('SHA256:') ? 'fingerprint' : 'id';
    return this.database.db
      .deleteFrom('ssh_keys')
      .where('client_id', '=', clientId)
      .where(column, '=', idOrFingerprint)
      .returningAll()
      .executeTakeFirst();
  }
}
