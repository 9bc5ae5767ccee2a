// /api/v1/projects/:name/settings: thin transport over SettingsService.
import { Body, Controller, Get, Param, Patch, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, type AuthContext, type AuthedRequest } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { SettingsChangeDto, SettingsDto } from './settings.dto.js';
import { SettingsService } from './settings.service.js';

@ApiTags('settings')
@Controller('projects/:name/settings')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @ApiOperation({ summary: "Read a project's settings: health check path, builder, egress, limits" })
  @ApiOkResponse({ type: SettingsDto })
  @ApiProblems(401, 404, 503)
  get(@Auth() auth: AuthContext, @Param('name') name: string): Promise<SettingsDto> {
    return this.settings.get(auth.clientId, name);
  }

  @Patch()
  @ApiOperation({
    summary: 'Change settings (fields left out stay); they apply at the next deployment, egress also at once',
  })
  @ApiOkResponse({ type: SettingsDto })
  @ApiProblems(400, 401, 403, 404, 503)
  change(
    @Auth() auth: AuthContext,
    @Param('name') name: string,
    @Body() dto: SettingsChangeDto,
    @Req() req: AuthedRequest,
  ): Promise<SettingsDto> {
    return this.settings.change(auth.clientId, name, dto, clientIp(req));
  }
}
