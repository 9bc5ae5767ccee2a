// Queries of the config_vars table: values are stored sealed (never in plaintext).
import { Inject, Injectable } from '@nestjs/common';
import type { Selectable } from 'kysely';
import type { Sealed } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import { isoNow } from '../db/ids.js';
import type { ConfigVarsTable } from '../db/schema.js';
import { DATABASE } from '../providers.js';

export type ConfigVarRow = Selectable<ConfigVarsTable>;

@Injectable()
export class ConfigVarsRepository {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** The project's vars, sealed, by name. */
  list(projectId: string): Promise<ConfigVarRow[]> {
    return this.database.db
      .selectFrom('config_vars')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
  }

  /**
   * Upserts `set` and deletes `unset` in one transaction; `check` runs inside it with the resulting
   * number of vars and may throw to roll the whole change back.
   */
  async apply(
    projectId: string,
    set: ReadonlyMap<string, Sealed>,
    unset: readonly string[],
    check: (count: number) => void,
  ): Promise<void> {
    const at = isoNow();
    await this.database.db.transaction().execute(async (trx) => {
      for (const [name, sealed] of set) {
        const value = {
          value_ciphertext: sealed.ciphertext,
          value_nonce: sealed.nonce,
          key_version: sealed.keyVersion,
        };
        await trx
          .insertInto('config_vars')
          .values({ project_id: projectId, name, ...value, updated_at: at })
          .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ ...value, updated_at: at }))
          .execute();
      }
      if (unset.length > 0) {
        await trx
          .deleteFrom('config_vars')
          .where('project_id', '=', projectId)
          .where('name', 'in', unset)
          .execute();
      }
      const { count } = await trx
        .selectFrom('config_vars')
        .select((eb) => eb.fn.countAll<number | string>().as('count'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow();
      check(Number(count));
    });
  }
}
