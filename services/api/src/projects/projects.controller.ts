// /api/v1/projects: thin transport over ProjectsService.
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, type AuthContext, type AuthedRequest } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { CreateProjectDto, ProjectDto, ProjectListDto } from './projects.dto.js';
import { ProjectsService } from './projects.service.js';

@ApiTags('projects')
@Controller('projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @ApiOperation({ summary: "List the Client's projects" })
  @ApiOkResponse({ type: ProjectListDto })
  @ApiProblems(401, 503)
  async list(@Auth() auth: AuthContext): Promise<ProjectListDto> {
    return { projects: await this.projects.list(auth.clientId) };
  }

  @Post()
  @ApiOperation({ summary: 'Create a project and its git repository (both or neither)' })
  @ApiCreatedResponse({ type: ProjectDto })
  @ApiProblems(400, 401, 403, 409, 503)
  create(
    @Auth() auth: AuthContext,
    @Body() dto: CreateProjectDto,
    @Req() req: AuthedRequest,
  ): Promise<ProjectDto> {
    return this.projects.create(auth.clientId, dto.name, clientIp(req));
  }

  @Get(':name')
  @ApiOperation({ summary: 'Get a project with its clone URLs and app URL' })
  @ApiOkResponse({ type: ProjectDto })
  @ApiProblems(401, 404, 503)
  get(@Auth() auth: AuthContext, @Param('name') name: string): Promise<ProjectDto> {
    return this.projects.get(auth.clientId, name);
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a project: its repository, config vars and domains; frees the name' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiProblems(401, 403, 404, 503)
  async delete(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    await this.projects.delete(auth.clientId, name, clientIp(req));
  }
}
