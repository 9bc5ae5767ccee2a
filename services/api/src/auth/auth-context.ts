// Who is calling: set on the request by AuthGuard, read by controllers through @Auth().
import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { UnauthenticatedError } from '@paastech/kit';
import type { FastifyRequest } from 'fastify';

/** The authenticated Client of a request and how it proved who it is. */
export interface AuthContext {
  clientId: string;
  via: 'session' | 'token';
  /** Set when via = 'token'. */
  tokenId?: string;
  /** Set when via = 'session': sha256 of the session id. */
  sessionIdHash?: string;
}

/** A Fastify request once AuthGuard has run. */
export interface AuthedRequest extends FastifyRequest {
  paastechAuth?: AuthContext;
}

export const IS_PUBLIC = 'paastech:public';

/**
 * Marks a route (or controller) as reachable without authentication; its OpenAPI operation gets the
 * empty security requirement (anonymous allowed) instead of the document's default.
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiSecurity({}));

/** Injects the AuthContext of the request (`@Auth() auth: AuthContext`). */
export const Auth = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<AuthedRequest>().paastechAuth;
  if (!auth) throw new UnauthenticatedError('authentication required');
  return auth;
});
