// /api/v1/projects/:name/domains: thin transport over DomainsService.
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
import { AddDomainDto, DomainDto, DomainListDto } from './domains.dto.js';
import { DomainsService } from './domains.service.js';

@ApiTags('domains')
@Controller('projects/:name/domains')
export class DomainsController {
  constructor(private readonly domains: DomainsService) {}

  @Get()
  @ApiOperation({ summary: "List a project's custom domains" })
  @ApiOkResponse({ type: DomainListDto })
  @ApiProblems(401, 404, 503)
  async list(@Auth() auth: AuthContext, @Param('name') name: string): Promise<DomainListDto> {
    return { domains: await this.domains.list(auth.clientId, name) };
  }

  @Post()
  @ApiOperation({ summary: 'Add a custom domain (unique across all projects)' })
  @ApiCreatedResponse({ type: DomainDto })
  @ApiProblems(400, 401, 403, 404, 409, 503)
  add(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: AddDomainDto,
    @Req() req: AuthedRequest,
  ): Promise<DomainDto> {
    return this.domains.add(auth.clientId, name, dto.hostname, clientIp(req));
  }

  @Delete(':hostname')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a custom domain' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiProblems(401, 403, 404, 503)
  async remove(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Param('hostname') hostname: string,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    await this.domains.remove(auth.clientId, name, hostname, clientIp(req));
  }
}
