// The feature modules of the REST API (one import line each). CoreModule, global, provides config,
// database, logger, AuditService, TokensService, SessionsService and the AuthGuard to all of them.
import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { DeviceModule } from './device/device.module.js';
import { HealthModule } from './health/health.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { WebModule } from './web/web.module.js';

@Module({
  imports: [HealthModule, AuthModule, TokensModule, DeviceModule, WebModule],
})
export class AppModule {}
