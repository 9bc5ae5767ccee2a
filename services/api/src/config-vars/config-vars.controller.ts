// /api/v1/projects/:name/config: thin transport over ConfigVarsService.
import { Body, Controller, Get, Param, Patch, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, type AuthContext, type AuthedRequest } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { ConfigChangeDto, ConfigVarsDto } from './config-vars.dto.js';
import { ConfigVarsService } from './config-vars.service.js';

@ApiTags('config vars')
@Controller('projects/:name/config')
export class ConfigVarsController {
  constructor(private readonly configVars: ConfigVarsService) {}

  @Get()
  @ApiOperation({
    summary: "Read a project's config vars, values included (dashboards mask them until revealed)",
  })
  @ApiOkResponse({ type: ConfigVarsDto })
  @ApiProblems(401, 404, 503)
  get(@Auth() auth: AuthContext, @Param('name') name: string): Promise<ConfigVarsDto> {
    return this.configVars.get(auth.clientId, name);
  }

  @Patch()
  @ApiOperation({ summary: 'Set and unset config vars as one atomic change; returns the resulting config' })
  @ApiOkResponse({ type: ConfigVarsDto })
  @ApiProblems(400, 401, 403, 404, 413, 503)
  change(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: ConfigChangeDto,
    @Req() req: AuthedRequest,
  ): Promise<ConfigVarsDto> {
    return this.configVars.change(auth.clientId, name, dto, clientIp(req));
  }
}
