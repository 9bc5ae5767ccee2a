// CSRF defence for cookie-authenticated requests: a state-changing request must say where it comes
// from (Origin, or Referer when a browser omits Origin) and that must be the dashboard's own origin.
// SameSite=Lax already stops most cross-site POSTs; this also stops same-site sibling origins.
import { PermissionDeniedError } from '@paastech/kit';
import type { FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True for methods that change nothing. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** The origin the request says it comes from (Origin, else Referer's origin), or undefined. */
export function requestOrigin(req: FastifyRequest): string | undefined {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') return origin;
  const referer = req.headers.referer;
  if (typeof referer !== 'string') return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

/** Origins a state-changing browser request may come from: the public URL and the request's host. */
function allowedOrigins(req: FastifyRequest, publicUrl: string): string[] {
  const own = req.headers.host ? [`${req.protocol}://${req.headers.host}`] : [];
  return [new URL(publicUrl).origin, ...own];
}

/**
 * Refuses a cross-origin state-changing request. With `required` (cookie-authenticated requests) a
 * missing Origin/Referer is refused too; without it (login, sign-up) only a foreign one is.
 */
export function checkOrigin(req: FastifyRequest, publicUrl: string, required: boolean): void {
  if (isSafeMethod(req.method)) return;
  const origin = requestOrigin(req);
  if (origin === undefined) {
    if (!required) return;
    throw new PermissionDeniedError(
      `cross-site request refused: a cookie-authenticated ${req.method} must send an Origin header of ${new URL(publicUrl).origin}`,
    );
  }
  if (!allowedOrigins(req, publicUrl).includes(origin))
    throw new PermissionDeniedError(
      `cross-site request refused: origin "${origin.slice(0, 200)}" is not ${new URL(publicUrl).origin}`,
    );
}
