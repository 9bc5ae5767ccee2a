// /api/v1/projects/:name/{deployments,rollback,formation,restart,status,logs}: thin transport over
// ProjectDeployments. Streams (deployment events, followed logs) are server-sent events.
import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiProduces,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Auth, type AuthContext } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import {
  DeploymentDetailDto,
  DeploymentDto,
  DeploymentListDto,
  FormationDto,
  LogLinesDto,
  ProjectStatusDto,
  RestartDto,
  RollbackDto,
} from './deployments.dto.js';
import { parseLogsQuery } from './logs-query.js';
import { ProjectDeployments } from './project-deployments.js';
import { sendSse } from './sse.js';

@ApiTags('deployments')
@Controller('projects/:name')
export class DeploymentsController {
  constructor(private readonly deployments: ProjectDeployments) {}

  @Get('deployments')
  @ApiOkResponse({ type: DeploymentListDto })
  list(@Auth() auth: AuthContext, @Param('name') name: string): Promise<DeploymentListDto> {
    return this.deployments.list(auth.clientId, name);
  }

  @Get('deployments/:number')
  @ApiOkResponse({ type: DeploymentDetailDto, description: 'with its build output' })
  get(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Param('number') number: string,
  ): Promise<DeploymentDetailDto> {
    return this.deployments.get(auth.clientId, name, number);
  }

  @Get('deployments/:number/events')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description:
      'server-sent events until the deployment ends: `state` {state, at, failure_reason}, `step` {title, at}, `log` {source, text, at}',
  })
  async events(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Param('number') number: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await sendSse(reply, await this.deployments.events(auth.clientId, name, number));
  }

  @Post('rollback')
  @ApiCreatedResponse({
    type: DeploymentDto,
    description: "a new deployment (reason rollback) with the target's build and the config it ran with",
  })
  rollback(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: RollbackDto,
    @Req() req: FastifyRequest,
  ): Promise<DeploymentDto> {
    return this.deployments.rollback(auth.clientId, name, dto.number, clientIp(req));
  }

  @Get('formation')
  @ApiOkResponse({ type: FormationDto })
  formation(@Auth() auth: AuthContext, @Param('name') name: string): Promise<FormationDto> {
    return this.deployments.formation(auth.clientId, name);
  }

  @Put('formation')
  @ApiOkResponse({
    type: FormationDto,
    description: 'scaled at once (no new deployment); the formation after the change',
  })
  scale(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: FormationDto,
    @Req() req: FastifyRequest,
  ): Promise<FormationDto> {
    return this.deployments.scale(auth.clientId, name, dto.formation, clientIp(req));
  }

  @Post('restart')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'restarts under way (web instances one at a time, no downtime)' })
  async restart(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: RestartDto,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    await this.deployments.restart(auth.clientId, name, dto.process_type, clientIp(req));
  }

  @Get('status')
  @ApiOkResponse({ type: ProjectStatusDto })
  @ApiServiceUnavailableResponse({ description: 'the deployment service is not reachable' })
  status(@Auth() auth: AuthContext, @Param('name') name: string): Promise<ProjectStatusDto> {
    return this.deployments.status(auth.clientId, name);
  }

  @Get('logs')
  @ApiQuery({
    name: 'follow',
    required: false,
    enum: ['1', '0', 'true', 'false'],
    description: 'stream as server-sent events',
  })
  @ApiQuery({
    name: 'source',
    required: false,
    description: 'build, release, router, platform, web, web.1, … (repeatable or comma-separated)',
  })
  @ApiQuery({ name: 'lines', required: false, description: 'past lines first, 0..10000 (default 100)' })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: LogLinesDto,
    description: 'JSON without follow; server-sent `log` events with follow=1',
  })
  async logs(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Query('follow') follow: unknown,
    @Query('source') source: unknown,
    @Query('lines') lines: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const query = parseLogsQuery({ follow, source, lines });
    if (query.follow) return sendSse(reply, await this.deployments.followLogs(auth.clientId, name, query));
    reply.send(await this.deployments.logs(auth.clientId, name, query));
  }
}
