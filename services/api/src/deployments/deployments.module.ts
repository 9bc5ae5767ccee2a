// Deployments. DeploymentsCoreModule (global) holds the domain — the Pomegrenade client, the
// deployments service, the push recorder — so projects and config vars can call it without an
// import cycle; DeploymentsModule adds the REST routes, which need ProjectsService.
import { Global, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { resolveInternalSecret } from '@paastech/kit';
import type { ApiConfig } from '../config.js';
import { ProjectsModule } from '../projects/projects.module.js';
import { API_CONFIG } from '../providers.js';
import { type Branches, GitBranches } from './branches.js';
import { DEFAULT_FOLLOW_TIMING } from './deployment-follower.js';
import { DeploymentsController } from './deployments.controller.js';
import { DeploymentsRepository } from './deployments.repository.js';
import { DeploymentsService, FOLLOW_TIMING, POMEGRENADE } from './deployments.service.js';
import { PomegrenadeClient } from './pomegrenade-client.js';
import { ProjectDeployments } from './project-deployments.js';
import { PushRecorder } from './push.js';

export const BRANCHES = Symbol('BRANCHES');

@Global()
@Module({
  providers: [
    DeploymentsRepository,
    DeploymentsService,
    {
      provide: POMEGRENADE,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig) =>
        new PomegrenadeClient(config.pomegrenadeGrpcAddress, resolveInternalSecret(config)),
    },
    {
      provide: BRANCHES,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): Branches =>
        new GitBranches(config.gitGrpcAddress, resolveInternalSecret(config)),
    },
    { provide: FOLLOW_TIMING, useValue: DEFAULT_FOLLOW_TIMING },
    {
      provide: PushRecorder,
      inject: [DeploymentsService, BRANCHES],
      useFactory: (deployments: DeploymentsService, branches: Branches) =>
        new PushRecorder(deployments, branches),
    },
  ],
  exports: [DeploymentsService, PushRecorder],
})
export class DeploymentsCoreModule implements OnModuleDestroy {
  constructor(@Inject(BRANCHES) private readonly branches: Branches) {}

  onModuleDestroy(): void {
    this.branches.close();
  }
}

@Module({
  imports: [DeploymentsCoreModule, ProjectsModule],
  controllers: [DeploymentsController],
  providers: [ProjectDeployments],
})
export class DeploymentsModule {}
