// The session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure with the `__Host-` prefix when the
// public URL is https (the prefix makes browsers refuse it from any other origin or path).
import type { FastifyReply } from 'fastify';
import { SESSION_TTL_MS } from './sessions.service.js';

/** Name and flags of the session cookie for a public URL. */
export interface CookiePolicy {
  name: string;
  secure: boolean;
}

/** The cookie policy for `publicUrl`. */
export function cookiePolicy(publicUrl: string): CookiePolicy {
  const secure = new URL(publicUrl).protocol === 'https:';
  return { name: secure ? '__Host-paastech_session' : 'paastech_session', secure };
}

/** Sets the session cookie. */
export function setSessionCookie(reply: FastifyReply, policy: CookiePolicy, id: string): void {
  const maxAge = Math.floor(SESSION_TTL_MS / 1000);
  const flags = `Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${policy.secure ? '; Secure' : ''}`;
  reply.header('set-cookie', `${policy.name}=${id}; ${flags}`);
}

/** Tells the browser to forget the session cookie. */
export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy): void {
  const flags = `Path=/; HttpOnly; SameSite=Lax; Max-Age=0${policy.secure ? '; Secure' : ''}`;
  reply.header('set-cookie', `${policy.name}=; ${flags}`);
}
