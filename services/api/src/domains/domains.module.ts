// Custom domains: REST routes, service and repository.
import { Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { DomainsController } from './domains.controller.js';
import { DomainsRepository } from './domains.repository.js';
import { DomainsService } from './domains.service.js';

@Module({
  imports: [ProjectsModule],
  controllers: [DomainsController],
  providers: [DomainsRepository, DomainsService],
})
export class DomainsModule {}
