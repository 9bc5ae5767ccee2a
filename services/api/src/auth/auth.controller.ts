// Sign-up, login, logout and the current account.
import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { ResolvedApiConfig } from '../app-config.js';
import { AuditService } from '../audit/audit.service.js';
import { clientIp, readCookie } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { API_CONFIG } from '../providers.js';
import { TokensService } from '../tokens/tokens.service.js';
import { AccountDto, LoginDto, LoginResponseDto, SignupDto } from './auth.dto.js';
import { type Account, AuthService } from './auth.service.js';
import { Auth, type AuthContext, type AuthedRequest, Public } from './auth-context.js';
import { clearSessionCookie, cookiePolicy, setSessionCookie } from './cookies.js';
import { SessionsService } from './sessions.service.js';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    @Inject(API_CONFIG) private readonly config: ResolvedApiConfig,
  ) {}

  @Public()
  @Post('auth/signup')
  @ApiOperation({ summary: 'Create a Client and sign in (sets the session cookie)' })
  @ApiCreatedResponse({ type: AccountDto })
  @ApiProblems(400, 403, 409, 413, 429)
  async signup(
    @Body() dto: SignupDto,
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Account> {
    const account = await this.auth.signup(dto.email, dto.password, clientIp(req));
    setSessionCookie(reply, cookiePolicy(this.config.publicUrl), await this.sessions.create(account.id));
    return account;
  }

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in with e-mail and password',
    description:
      'Sets a fresh session cookie (any previous session of this browser is replaced). With `token_name`, ' +
      'returns a new API token instead (for scripts and the CLI) and sets no cookie.',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiProblems(400, 401, 403, 413, 429)
  async login(
    @Body() dto: LoginDto,
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResponseDto> {
    const ip = clientIp(req);
    const account = await this.auth.login(dto.email, dto.password, ip);
    if (dto.token_name !== undefined) {
      const created = await this.tokens.create(account.id, dto.token_name);
      await this.audit.record(account.id, 'token.create', `token:${created.id}`, ip, {
        name: created.name,
        via: 'login',
      });
      return { account, token: created.token };
    }
    const policy = cookiePolicy(this.config.publicUrl);
    // Rotation: the session this browser had before (if any) ends; the new id is unknown to anyone
    // who may have planted or seen the old one.
    const previous = readCookie(req, policy.name);
    if (previous) await this.sessions.destroyById(previous);
    setSessionCookie(reply, policy, await this.sessions.create(account.id));
    return { account };
  }

  @Post('auth/logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: destroys the session and clears its cookie' })
  @ApiNoContentResponse({ description: 'signed out' })
  @ApiProblems(401, 403)
  async logout(@Auth() auth: AuthContext, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    if (auth.sessionIdHash) await this.sessions.destroy(auth.sessionIdHash);
    clearSessionCookie(reply, cookiePolicy(this.config.publicUrl));
  }

  @Get('account')
  @ApiTags('account')
  @ApiOperation({ summary: 'The signed-in Client' })
  @ApiOkResponse({ type: AccountDto })
  @ApiProblems(401)
  account(@Auth() auth: AuthContext): Promise<Account> {
    return this.auth.account(auth.clientId);
  }
}
