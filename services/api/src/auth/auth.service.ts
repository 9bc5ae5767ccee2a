// Sign-up and login. Login never tells an unknown e-mail from a wrong password: same error, and the
// same work (a dummy argon2 verification) so the answer's timing does not tell either.
import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, UnauthenticatedError } from '@paastech/kit';
import type { ResolvedApiConfig } from '../app-config.js';
import { AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { isoNow, newId } from '../db/ids.js';
import { isUniqueViolation } from '../db/unique.js';
import { API_CONFIG, DATABASE } from '../providers.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { checkPassword, hashPassword, verifyPassword } from './passwords.js';
import { randomSecret } from './secrets.js';

/** A Client as the API returns it. */
export interface Account {
  id: string;
  email: string;
  created_at: string;
}

const LOGIN_FAILED = 'email or password is wrong';

@Injectable()
export class AuthService {
  private dummyHash: Promise<string> | undefined;

  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(API_CONFIG) private readonly config: ResolvedApiConfig,
    private readonly audit: AuditService,
    private readonly limiter: RateLimiter,
  ) {}

  /** Creates a Client; the e-mail is stored lower-cased and must be new. */
  async signup(email: string, password: string, ip: string): Promise<Account> {
    this.limiter.hit(`signup:ip:${ip}`, this.config.rateLimits.signupPerIp, 'sign-ups from this address');
    checkPassword(password);
    const normalized = email.toLowerCase();
    const row = {
      id: newId(),
      email: normalized,
      password_hash: await hashPassword(password),
      created_at: isoNow(),
    };
    try {
      await this.database.db.insertInto('clients').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`email "${normalized}" is already registered`);
      throw err;
    }
    await this.audit.record(row.id, 'client.signup', `client:${row.id}`, ip);
    return { id: row.id, email: row.email, created_at: row.created_at };
  }

  /** Checks e-mail and password; returns the Client or throws UnauthenticatedError. */
  async login(email: string, password: string, ip: string): Promise<Account> {
    const normalized = email.toLowerCase();
    this.limiter.hit(`login:ip:${ip}`, this.config.rateLimits.loginPerIp, 'login attempts from this address');
    this.limiter.hit(
      `login:account:${normalized}`,
      this.config.rateLimits.loginPerAccount,
      'login attempts for this account',
    );
    const row = await this.database.db
      .selectFrom('clients')
      .selectAll()
      .where('email', '=', normalized)
      .executeTakeFirst();
    const ok = row
      ? await verifyPassword(row.password_hash, password)
      : await verifyPassword(await this.dummy(), password).then(() => false);
    if (!row || !ok) {
      await this.audit.record(row?.id ?? null, 'session.login_failed', `email:${normalized}`, ip);
      throw new UnauthenticatedError(LOGIN_FAILED);
    }
    await this.audit.record(row.id, 'session.login', `client:${row.id}`, ip);
    return { id: row.id, email: row.email, created_at: row.created_at };
  }

  /** The Client with `id`. */
  async account(id: string): Promise<Account> {
    const row = await this.database.db
      .selectFrom('clients')
      .select(['id', 'email', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`client "${id}" not found`);
    return row;
  }

  /** A hash of a random password, computed once, to verify against when the e-mail is unknown. */
  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomSecret());
    return this.dummyHash;
  }
}
