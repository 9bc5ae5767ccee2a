// The global authentication guard. Every route requires a Client unless marked @Public(): either
// `Authorization: Bearer <api token>` or the session cookie. A Bearer header, when present, is the
// only credential considered (a bad token is 401 even if a cookie is also sent). Cookie requests
// that change state must pass the Origin check (CSRF); Bearer requests cannot be forged by a
// browser cross-site and are exempt.
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthenticatedError } from '@paastech/kit';
import type { FastifyReply } from 'fastify';
import type { ResolvedApiConfig } from '../app-config.js';
import { readCookie } from '../http/request.js';
import { API_CONFIG } from '../providers.js';
import { TokensService } from '../tokens/tokens.service.js';
import { type AuthContext, type AuthedRequest, IS_PUBLIC } from './auth-context.js';
import { cookiePolicy, setSessionCookie } from './cookies.js';
import { checkOrigin } from './csrf.js';
import { SessionsService } from './sessions.service.js';

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
    private readonly tokens: TokensService,
    @Inject(API_CONFIG) private readonly config: ResolvedApiConfig,
  ) {}

  /** Lets the request through with `paastechAuth` set, or throws 401/403. */
  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()]);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (isPublic) {
      checkOrigin(req, this.config.publicUrl, false);
      return true;
    }
    const auth = await this.authenticate(req, ctx.switchToHttp().getResponse<FastifyReply>());
    if (auth.via === 'session') checkOrigin(req, this.config.publicUrl, true);
    req.paastechAuth = auth;
    return true;
  }

  /** Finds the Client behind the request's credential; throws UnauthenticatedError when none. */
  private async authenticate(req: AuthedRequest, reply: FastifyReply): Promise<AuthContext> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer +(\S+)$/i.exec(header);
      if (!m?.[1]) throw new UnauthenticatedError('authorization header must be "Bearer <api token>"');
      const owner = await this.tokens.authenticate(m[1]);
      if (!owner) throw new UnauthenticatedError('api token is invalid, expired or revoked');
      return { clientId: owner.clientId, via: 'token', tokenId: owner.tokenId };
    }
    const policy = cookiePolicy(this.config.publicUrl);
    const id = readCookie(req, policy.name);
    const session = id ? await this.sessions.find(id) : undefined;
    if (!session)
      throw new UnauthenticatedError(
        'authentication required: sign in, or send "Authorization: Bearer <api token>"',
      );
    if (session.renewed && id) setSessionCookie(reply, policy, id);
    return { clientId: session.clientId, via: 'session', sessionIdHash: session.idHash };
  }
}
