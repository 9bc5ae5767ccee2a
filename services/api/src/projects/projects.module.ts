// Projects: REST routes, service and repository; exports ProjectsService so nested resources
// (config vars, domains) resolve `:name` with the same ownership rule, and the repository for
// settings that are columns of the project row.
import { Module } from '@nestjs/common';
import { ProjectsController } from './projects.controller.js';
import { ProjectsRepository } from './projects.repository.js';
import { ProjectsService } from './projects.service.js';

@Module({
  controllers: [ProjectsController],
  providers: [ProjectsRepository, ProjectsService],
  exports: [ProjectsRepository, ProjectsService],
})
export class ProjectsModule {}
