// Domain errors: thrown by domain code, turned into HTTP problem+json, gRPC statuses or CLI messages
// by exactly one mapper per transport. Messages are short, lower-case, factual, and quote the value.

/** Base class of every error PaaSTech raises on purpose; `code` is stable and machine-readable. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A thing does not exist, or the caller may not know that it exists (cross-tenant access). */
export class NotFoundError extends DomainError {
  readonly code = 'not_found';
}

/** The request conflicts with the current state (name taken, deployment already running, …). */
export class ConflictError extends DomainError {
  readonly code = 'conflict';
}

/** One field that broke a rule, for per-field validation errors. */
export interface FieldViolation {
  field: string;
  message: string;
}

/** Input broke a rule; `violations` names each field and rule when there are several. */
export class InvalidArgumentError extends DomainError {
  readonly code = 'invalid_argument';
  readonly violations: FieldViolation[];
  constructor(message: string, violations: FieldViolation[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.violations = violations;
  }
}

/** No valid credential was presented. */
export class UnauthenticatedError extends DomainError {
  readonly code = 'unauthenticated';
}

/** A valid credential that may not do this (never used to hide another tenant's resources). */
export class PermissionDeniedError extends DomainError {
  readonly code = 'permission_denied';
}

/** Too many attempts; `retryAfterSeconds` says when to come back. */
export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A dependency (database, another service) cannot be reached right now; retrying may succeed. */
export class UnavailableError extends DomainError {
  readonly code = 'unavailable';
}

/** What the API says when its database cannot be reached (REST detail, gRPC status details). */
export const DATABASE_UNAVAILABLE = 'database unavailable: try again shortly';

/** A limit was exceeded (push size, body size, quota). */
export class LimitExceededError extends DomainError {
  readonly code = 'limit_exceeded';
}

/** A subprocess failed: carries the command, its exit code or signal and the tail of its stderr. */
export class ExecError extends DomainError {
  readonly code = 'exec_failed';
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`;
    const tail = stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : '';
    super(`command "${command.slice(0, 2).join(' ')}" ${how}${tail}`, options);
  }
}

/** Returns true when `err` is a DomainError (across module copies, by duck typing on `code`). */
export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
