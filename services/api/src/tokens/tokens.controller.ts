// API tokens of the signed-in Client: list, create (shown once), revoke.
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service.js';
import { Auth, type AuthContext, type AuthedRequest } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { CreatedTokenDto, CreateTokenDto, TokenDto, TokenIdParams } from './tokens.dto.js';
import { type CreatedToken, type TokenInfo, TokensService } from './tokens.service.js';

@ApiTags('tokens')
@Controller('tokens')
export class TokensController {
  constructor(
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List API tokens (without their secret)' })
  @ApiOkResponse({ type: [TokenDto] })
  @ApiProblems(401)
  list(@Auth() auth: AuthContext): Promise<TokenInfo[]> {
    return this.tokens.list(auth.clientId);
  }

  @Post()
  @ApiOperation({ summary: 'Create an API token; the response is the only time it is shown' })
  @ApiCreatedResponse({ type: CreatedTokenDto })
  @ApiProblems(400, 401, 403, 413)
  async create(
    @Auth() auth: AuthContext,
    @Body() dto: CreateTokenDto,
    @Req() req: AuthedRequest,
  ): Promise<CreatedToken> {
    const created = await this.tokens.create(auth.clientId, dto.name, dto.expires_in_days);
    await this.audit.record(auth.clientId, 'token.create', `token:${created.id}`, clientIp(req), {
      name: created.name,
    });
    return created;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API token (effective from the next request)' })
  @ApiNoContentResponse({ description: 'revoked' })
  @ApiProblems(401, 403, 404)
  async revoke(
    @Auth() auth: AuthContext,
    @Param() params: TokenIdParams,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    const revoked = await this.tokens.revoke(auth.clientId, params.id);
    await this.audit.record(auth.clientId, 'token.revoke', `token:${revoked.id}`, clientIp(req), {
      name: revoked.name,
    });
  }
}
