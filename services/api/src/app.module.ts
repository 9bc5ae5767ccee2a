// The feature modules of the REST API (one import line each). CoreModule, global, provides config,
// database, logger, AuditService, TokensService, SessionsService and the AuthGuard to all of them.
import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { ConfigVarsModule } from './config-vars/config-vars.module.js';
import { CryptoModule } from './crypto/crypto.module.js';
import { DeploymentsModule } from './deployments/deployments.module.js';
import { DeviceModule } from './device/device.module.js';
import { DomainsModule } from './domains/domains.module.js';
import { GitModule } from './git/git.module.js';
import { HealthModule } from './health/health.module.js';
import { ProjectsModule } from './projects/projects.module.js';
import { SettingsModule } from './settings/settings.module.js';
import { SshKeysModule } from './ssh-keys/ssh-keys.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { WebModule } from './web/web.module.js';

@Module({
  imports: [
    HealthModule,
    AuthModule,
    TokensModule,
    DeviceModule,
    GitModule,
    CryptoModule,
    ProjectsModule,
    ConfigVarsModule,
    DeploymentsModule,
    DomainsModule,
    SettingsModule,
    SshKeysModule,
    WebModule,
  ],
})
export class AppModule {}
