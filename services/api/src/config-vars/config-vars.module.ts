// Config vars: REST routes, service and repository; ConfigVarsService is exported for deployments.
import { Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { ConfigVarsController } from './config-vars.controller.js';
import { ConfigVarsRepository } from './config-vars.repository.js';
import { ConfigVarsService } from './config-vars.service.js';

@Module({
  imports: [ProjectsModule],
  controllers: [ConfigVarsController],
  providers: [ConfigVarsRepository, ConfigVarsService],
  exports: [ConfigVarsService],
})
export class ConfigVarsModule {}
