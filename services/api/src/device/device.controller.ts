// The device authorization flow: the CLI starts and polls (public), the signed-in Client looks at
// and approves or denies the user code in the dashboard (session only, CSRF-checked by AuthGuard).
import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PermissionDeniedError } from '@paastech/kit';
import { Auth, type AuthContext, type AuthedRequest, Public } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import {
  DeviceInfoDto,
  DeviceStartDto,
  DeviceTokenDto,
  DeviceTokenRequestDto,
  UserCodeDto,
} from './device.dto.js';
import { type DeviceInfo, DeviceService, type DeviceStart } from './device.service.js';

/** Approving a CLI login must be done by a person in the dashboard, not by another token. */
function requireSession(auth: AuthContext): void {
  if (auth.via !== 'session')
    throw new PermissionDeniedError(
      'device logins are approved in the dashboard: sign in with a session, not a token',
    );
}

@ApiTags('auth')
@Controller('auth/device')
export class DeviceController {
  constructor(private readonly device: DeviceService) {}

  @Public()
  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Start a CLI login (RFC 8628 device authorization request)' })
  @ApiOkResponse({ type: DeviceStartDto })
  @ApiProblems(429)
  start(@Req() req: AuthedRequest): Promise<DeviceStart> {
    return this.device.start(clientIp(req));
  }

  @Public()
  @Post('token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Poll for the API token (RFC 8628 device access token request)',
    description:
      '400 with `error` = authorization_pending | slow_down | expired_token | access_denied | invalid_grant ' +
      'until the user code is approved; then 200 with the token, exactly once.',
  })
  @ApiOkResponse({ type: DeviceTokenDto })
  @ApiProblems(400, 429)
  token(
    @Body() dto: DeviceTokenRequestDto,
    @Req() req: AuthedRequest,
  ): Promise<{ access_token: string; token_type: 'bearer' }> {
    return this.device.poll(dto.device_code, clientIp(req));
  }

  @Post('approve')
  @HttpCode(204)
  @ApiOperation({ summary: 'Approve a CLI login by its user code (dashboard session only)' })
  @ApiNoContentResponse({ description: 'approved; the CLI receives its token on its next poll' })
  @ApiProblems(400, 401, 403, 404, 429)
  async approve(
    @Auth() auth: AuthContext,
    @Body() dto: UserCodeDto,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    requireSession(auth);
    await this.device.decide(auth.clientId, dto.user_code, true, clientIp(req));
  }

  @Post('deny')
  @HttpCode(204)
  @ApiOperation({ summary: 'Deny a CLI login by its user code (dashboard session only)' })
  @ApiNoContentResponse({ description: 'denied; the CLI gets access_denied' })
  @ApiProblems(400, 401, 403, 404, 429)
  async deny(@Auth() auth: AuthContext, @Body() dto: UserCodeDto, @Req() req: AuthedRequest): Promise<void> {
    requireSession(auth);
    await this.device.decide(auth.clientId, dto.user_code, false, clientIp(req));
  }

  @Get(':user_code')
  @ApiOperation({ summary: 'What a user code is about, before approving it' })
  @ApiOkResponse({ type: DeviceInfoDto })
  @ApiProblems(401, 404, 429)
  describe(@Auth() auth: AuthContext, @Param('user_code') userCode: string): Promise<DeviceInfo> {
    return this.device.describe(auth.clientId, userCode);
  }
}
