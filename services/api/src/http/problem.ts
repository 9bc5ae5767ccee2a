// The one mapper from errors to HTTP: every error becomes an RFC 9457 problem+json document.
// Domain errors keep their message (it names the rule that was broken); anything unexpected becomes
// a 500 whose detail says nothing about internals.
import { HttpException } from '@nestjs/common';
import {
  ConflictError,
  DATABASE_UNAVAILABLE,
  DomainError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
} from '@paastech/kit';
import { isDatabaseUnavailable } from '../db/errors.js';

/** An RFC 9457 problem document, plus PaaSTech's per-field `errors`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: Array<{ field: string; message: string }>;
  [extension: string]: unknown;
}

/** A problem with the headers that go with it (Retry-After). */
export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
}

/** Domain errors may carry extra members for their problem document (e.g. RFC 8628 `error`). */
export interface HasProblemExtensions {
  problemExtensions: Record<string, unknown>;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Problem `type` URI of a machine-readable code. */
export function problemType(code: string): string {
  return `urn:paastech:problem:${code}`;
}

/** Builds a problem document. */
export function problem(status: number, code: string, detail: string): Problem {
  return { type: problemType(code), title: TITLES[status] ?? 'Error', status, detail };
}

const DOMAIN_STATUS: Array<[abstract new (...args: never[]) => DomainError, number]> = [
  [NotFoundError, 404],
  [ConflictError, 409],
  [InvalidArgumentError, 400],
  [UnauthenticatedError, 401],
  [PermissionDeniedError, 403],
  [RateLimitedError, 429],
  [LimitExceededError, 413],
  [UnavailableError, 503],
];

/** Maps a domain error to its problem. */
function fromDomainError(err: DomainError): ProblemResponse {
  const status = DOMAIN_STATUS.find(([cls]) => err instanceof cls)?.[1] ?? 400;
  const p = problem(status, err.code, err.message);
  if (err instanceof InvalidArgumentError && err.violations.length > 0) p.errors = err.violations;
  const ext = (err as Partial<HasProblemExtensions>).problemExtensions;
  if (ext) Object.assign(p, ext);
  const headers: Record<string, string> = {};
  if (err instanceof RateLimitedError) headers['retry-after'] = String(Math.max(1, err.retryAfterSeconds));
  return { problem: p, headers };
}

/** Errors Fastify raises itself (body too large, bad JSON, unsupported media type) carry a status. */
function fromFastifyError(err: { statusCode: number; code?: string; message: string }): ProblemResponse {
  const status = err.statusCode;
  if (status === 413) return { problem: problem(413, 'body_too_large', bodyTooLargeDetail()), headers: {} };
  if (status === 415)
    return {
      problem: problem(
        415,
        'unsupported_media_type',
        'request body must be JSON (content-type: application/json)',
      ),
      headers: {},
    };
  return { problem: problem(status, 'bad_request', err.message.toLowerCase()), headers: {} };
}

/** Largest accepted request body. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** The detail of a 413. */
function bodyTooLargeDetail(): string {
  return `request body exceeds the limit of ${BODY_LIMIT_BYTES} bytes`;
}

/** Maps Nest's own HTTP exceptions (unknown route, method not allowed, …). */
function fromHttpException(err: HttpException, method: string, url: string): ProblemResponse {
  const status = err.getStatus();
  if (status === 404)
    return { problem: problem(404, 'not_found', `no route ${method} ${url.split('?')[0]}`), headers: {} };
  if (status === 413) return { problem: problem(413, 'body_too_large', bodyTooLargeDetail()), headers: {} };
  return { problem: problem(status, 'http_error', err.message.toLowerCase()), headers: {} };
}

/** Turns anything thrown while serving `method url` into a problem; `unexpected` is set for 500s. */
export function toProblem(
  err: unknown,
  method: string,
  url: string,
): ProblemResponse & { unexpected: boolean } {
  if (err instanceof DomainError) return { ...fromDomainError(err), unexpected: false };
  if (err instanceof HttpException) return { ...fromHttpException(err, method, url), unexpected: false };
  if (isDatabaseUnavailable(err))
    return {
      problem: problem(503, 'unavailable', DATABASE_UNAVAILABLE),
      headers: { 'retry-after': '5' },
      unexpected: false,
    };
  const e = err as { statusCode?: unknown; message?: unknown };
  if (
    typeof e?.statusCode === 'number' &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    typeof e.message === 'string'
  )
    return { ...fromFastifyError(e as { statusCode: number; message: string }), unexpected: false };
  return { problem: problem(500, 'internal', 'internal error'), headers: {}, unexpected: true };
}
