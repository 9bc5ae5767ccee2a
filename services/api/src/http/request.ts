// Small accessors for the parts of a Fastify request the API cares about.
import type { FastifyRequest } from 'fastify';

/** The caller's IP address as the socket sees it (no proxy headers are trusted). */
export function clientIp(req: FastifyRequest): string {
  return req.ip;
}

/** Reads one cookie from the Cookie header; undefined when absent. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
