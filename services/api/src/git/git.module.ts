// Provides the git controller client (GIT_REPOSITORIES) to the modules that create and delete
// repositories; the gRPC channel is closed when the app stops.
import { Global, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { resolveInternalSecret } from '@paastech/kit';
import type { ApiConfig } from '../config.js';
import { API_CONFIG } from '../providers.js';
import { GitClient, type GitRepositories } from './git-client.js';

export const GIT_REPOSITORIES = Symbol('GIT_REPOSITORIES');

@Global()
@Module({
  providers: [
    {
      provide: GIT_REPOSITORIES,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): GitRepositories =>
        new GitClient(config.gitGrpcAddress, resolveInternalSecret(config)),
    },
  ],
  exports: [GIT_REPOSITORIES],
})
export class GitModule implements OnModuleDestroy {
  constructor(@Inject(GIT_REPOSITORIES) private readonly git: GitRepositories) {}

  onModuleDestroy(): void {
    this.git.close();
  }
}
