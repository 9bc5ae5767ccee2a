// What every feature module may inject, provided once for the whole app: the resolved config, the
// database, the logger, audit, rate limiting, sessions, tokens, and the global AuthGuard.
import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Logger } from '@paastech/kit';
import type { ResolvedApiConfig } from './app-config.js';
import { AuditService } from './audit/audit.service.js';
import { AuthGuard } from './auth/auth.guard.js';
import { SessionsService } from './auth/sessions.service.js';
import type { Database } from './db/database.js';
import { API_CONFIG, DATABASE, LOGGER } from './providers.js';
import { RateLimiter } from './rate-limit/rate-limiter.js';
import { TokensService } from './tokens/tokens.service.js';

/** Runtime values created by startApi before Nest starts. */
export interface CoreDeps {
  config: ResolvedApiConfig;
  database: Database;
  logger: Logger;
}

@Global()
@Module({})
export class CoreModule {
  static forRoot(deps: CoreDeps): DynamicModule {
    const exported = [
      API_CONFIG,
      DATABASE,
      LOGGER,
      AuditService,
      RateLimiter,
      SessionsService,
      TokensService,
    ];
    return {
      module: CoreModule,
      providers: [
        { provide: API_CONFIG, useValue: deps.config },
        { provide: DATABASE, useValue: deps.database },
        { provide: LOGGER, useValue: deps.logger },
        { provide: RateLimiter, useValue: new RateLimiter() },
        AuditService,
        SessionsService,
        TokensService,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: exported,
    };
  }
}
