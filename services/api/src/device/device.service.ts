// CLI login as an RFC 8628 device authorization. Invariants: only sha256(device code) is stored;
// a user code is approved or denied at most once, while pending and unexpired; an approved code
// yields exactly one API token (the consuming UPDATE is conditional on status = 'approved').
import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@paastech/kit';
import type { ResolvedApiConfig } from '../app-config.js';
import { AuditService } from '../audit/audit.service.js';
import { randomSecret, randomString, sha256Hex } from '../auth/secrets.js';
import type { Database } from '../db/database.js';
import { isoNow } from '../db/ids.js';
import type { DeviceAuthorizationStatus } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique.js';
import { API_CONFIG, DATABASE } from '../providers.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { TokensService } from '../tokens/tokens.service.js';
import { DeviceFlowError } from './device.errors.js';

/** Consonants without look-alikes (RFC 8628 §6.1): no vowels (no words), no 0/O, 1/I/L confusion. */
export const USER_CODE_ALPHABET = 'BCDFGHJKMNPQRSTVWXZ';
export const DEVICE_CODE_TTL_S = 600;
export const POLL_INTERVAL_S = 5;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval. */
const SLOW_DOWN_STEP_S = 5;

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface DeviceInfo {
  user_code: string;
  status: DeviceAuthorizationStatus | 'expired';
  created_at: string;
  expires_at: string;
}

/** Normalises what a person types: upper case, without spaces or dashes, then XXXX-XXXX. */
export function normalizeUserCode(input: string): string | undefined {
  const raw = input.toUpperCase().replace(/[\s-]/g, '');
  if (raw.length !== 8 || [...raw].some((ch) => !USER_CODE_ALPHABET.includes(ch))) return undefined;
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}

@Injectable()
export class DeviceService {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(API_CONFIG) private readonly config: ResolvedApiConfig,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly limiter: RateLimiter,
  ) {}

  /** Starts an authorization: a device code for the CLI, a user code for the person. */
  async start(ip: string): Promise<DeviceStart> {
    this.limiter.hit(
      `device:start:${ip}`,
      this.config.rateLimits.deviceStartPerIp,
      'device logins from this address',
    );
    const deviceCode = randomSecret();
    const now = Date.now();
    for (let attempt = 0; ; attempt++) {
      const raw = randomString(8, USER_CODE_ALPHABET);
      const userCode = `${raw.slice(0, 4)}-${raw.slice(4)}`;
      try {
        await this.database.db
          .insertInto('device_authorizations')
          .values({
            device_code_hash: sha256Hex(deviceCode),
            user_code: userCode,
            client_id: null,
            status: 'pending',
            interval: POLL_INTERVAL_S,
            created_at: isoNow(now),
            expires_at: isoNow(now + DEVICE_CODE_TTL_S * 1000),
            last_polled_at: null,
            token_id: null,
          })
          .execute();
      } catch (err) {
        // 19^8 codes make a collision rare; an old expired row holding the code is the likely one.
        if (isUniqueViolation(err) && attempt < 3) continue;
        throw err;
      }
      const uri = `${this.config.publicUrl}/device`;
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: uri,
        verification_uri_complete: `${uri}?user_code=${userCode}`,
        expires_in: DEVICE_CODE_TTL_S,
        interval: POLL_INTERVAL_S,
      };
    }
  }

  /** Counts one look-up or decision on a user code; refuses when a Client tries too many. */
  private verifying(clientId: string): void {
    this.limiter.hit(
      `device:verify:${clientId}`,
      this.config.rateLimits.deviceVerifyPerClient,
      'device code checks by this account',
    );
  }

  /** What the dashboard shows before the Client approves. */
  async describe(clientId: string, userCode: string): Promise<DeviceInfo> {
    this.verifying(clientId);
    const row = await this.find(userCode);
    const expired = row.status === 'pending' && Date.parse(row.expires_at) <= Date.now();
    return {
      user_code: row.user_code,
      status: expired ? 'expired' : row.status,
      created_at: row.created_at,
      expires_at: row.expires_at,
    };
  }

  /** Approves (or denies) a pending, unexpired user code on behalf of `clientId`. */
  async decide(clientId: string, userCode: string, approve: boolean, ip: string): Promise<void> {
    this.verifying(clientId);
    const code = normalizeUserCode(userCode);
    const result = code
      ? await this.database.db
          .updateTable('device_authorizations')
          .set({ status: approve ? 'approved' : 'denied', client_id: clientId })
          .where('user_code', '=', code)
          .where('status', '=', 'pending')
          .where('expires_at', '>', isoNow())
          .executeTakeFirst()
      : undefined;
    if (!code || Number(result?.numUpdatedRows ?? 0) !== 1)
      throw new NotFoundError(`user code "${userCode.slice(0, 20)}" not found, expired or already used`);
    await this.audit.record(clientId, approve ? 'device.approve' : 'device.deny', `device:${code}`, ip);
  }

  /** The CLI's poll: the token exactly once after approval, else the RFC 8628 error that applies. */
  async poll(deviceCode: string, ip: string): Promise<{ access_token: string; token_type: 'bearer' }> {
    this.limiter.hit(
      `device:poll:${ip}`,
      this.config.rateLimits.devicePollPerIp,
      'device polls from this address',
    );
    const hash = sha256Hex(deviceCode);
    const row = await this.database.db
      .selectFrom('device_authorizations')
      .selectAll()
      .where('device_code_hash', '=', hash)
      .executeTakeFirst();
    if (!row) throw new DeviceFlowError('invalid_grant', 'device code is unknown');
    const now = Date.now();
    if (row.status === 'consumed') throw new DeviceFlowError('invalid_grant', 'device code was already used');
    if (row.status === 'denied')
      throw new DeviceFlowError('access_denied', 'the login was denied in the dashboard');
    if (Date.parse(row.expires_at) <= now)
      throw new DeviceFlowError('expired_token', 'device code expired: run the login again');
    if (row.status === 'pending') return this.pending(row, now);
    return this.issue(hash, row.client_id as string, ip);
  }

  /** Answers a pending poll: slow_down when polled faster than the interval, else authorization_pending. */
  private async pending(
    row: { device_code_hash: string; interval: number; last_polled_at: string | null },
    now: number,
  ): Promise<never> {
    const tooSoon = row.last_polled_at !== null && now - Date.parse(row.last_polled_at) < row.interval * 1000;
    const interval = tooSoon ? row.interval + SLOW_DOWN_STEP_S : row.interval;
    await this.database.db
      .updateTable('device_authorizations')
      .set({ last_polled_at: isoNow(now), interval })
      .where('device_code_hash', '=', row.device_code_hash)
      .execute();
    if (tooSoon)
      throw new DeviceFlowError('slow_down', `polling too fast: wait ${interval} s between polls`, {
        interval,
      });
    throw new DeviceFlowError('authorization_pending', 'waiting for approval in the dashboard', { interval });
  }

  /** Consumes an approved authorization and creates its API token (once, even under concurrent polls). */
  private async issue(
    hash: string,
    clientId: string,
    ip: string,
  ): Promise<{ access_token: string; token_type: 'bearer' }> {
    return this.database.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('device_authorizations')
        .set({ status: 'consumed' })
        .where('device_code_hash', '=', hash)
        .where('status', '=', 'approved')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1)
        throw new DeviceFlowError('invalid_grant', 'device code was already used');
      const created = await this.tokens.create(
        clientId,
        `CLI login ${isoNow().slice(0, 10)}`,
        undefined,
        trx,
      );
      await trx
        .updateTable('device_authorizations')
        .set({ token_id: created.id })
        .where('device_code_hash', '=', hash)
        .execute();
      await this.audit.record(
        clientId,
        'token.create',
        `token:${created.id}`,
        ip,
        { name: created.name, via: 'device' },
        trx,
      );
      return { access_token: created.token, token_type: 'bearer' as const };
    });
  }

  /** Looks a user code up; NotFoundError when malformed or unknown. */
  private async find(userCode: string) {
    const code = normalizeUserCode(userCode);
    const row = code
      ? await this.database.db
          .selectFrom('device_authorizations')
          .selectAll()
          .where('user_code', '=', code)
          .executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError(`user code "${userCode.slice(0, 20)}" not found`);
    return row;
  }
}
