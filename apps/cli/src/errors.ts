// The CLI's error mapper: every failure becomes one clear line plus an optional hint, and an exit code
// (1 error, 2 usage). Stack traces only with --debug.
import { ApiError } from '@paastech/api-client';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** A failure the CLI explains itself: a message, a hint saying what to do, and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong (unknown flag, missing argument): exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, hint, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The API could not be reached at all (connection refused, DNS, TLS). */
export class UnreachableError extends CliError {
  constructor(apiUrl: string, reason: string) {
    super(
      `cannot reach the API at ${apiUrl} (${reason})`,
      'is paastechd running? choose the server with --api URL or PAASTECH_API_URL',
    );
    this.name = 'UnreachableError';
  }
}

/** What the user sees for an error: the line, the hint, and the exit code. */
export interface ErrorReport {
  message: string;
  hint?: string;
  exitCode: number;
}

/** Maps any thrown value to what the user sees. */
export function reportError(err: unknown): ErrorReport {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode, ...hintOf(err.hint) };
  if (err instanceof ApiError)
    return { message: err.detail ?? err.title, exitCode: EXIT_ERROR, ...apiHint(err) };
  const message = err instanceof Error ? err.message : String(err);
  return { message: `unexpected error: ${message}`, hint: 'run again with --debug for details', exitCode: 1 };
}

function hintOf(hint: string | undefined): { hint?: string } {
  return hint ? { hint } : {};
}

/** Hints for API errors: the per-field violations, or what to do about the status. */
function apiHint(err: ApiError): { hint?: string } {
  if (err.errors.length > 0) return { hint: err.errors.map((e) => `${e.field}: ${e.message}`).join('; ') };
  if (err.status === 401) return { hint: 'your session is missing or expired: run paastech login' };
  if (err.status === 429) {
    const retry = err.problem.retry_after ?? err.problem.retryAfter;
    return {
      hint: `too many attempts${typeof retry === 'number' ? `: retry in ${retry} s` : ', retry later'}`,
    };
  }
  if (err.status >= 500) return { hint: `the server failed (HTTP ${err.status}); retry, or check its logs` };
  return {};
}

/** The short reason of a failed fetch (ECONNREFUSED, ENOTFOUND, …), from its cause chain. */
export function fetchFailureReason(err: unknown): string | undefined {
  if (!(err instanceof TypeError)) return undefined;
  let cause: unknown = err.cause;
  while (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code) return code;
    if (!(cause.cause instanceof Error)) return cause.message;
    cause = cause.cause;
  }
  return err.message === 'fetch failed' ? 'request failed' : undefined;
}
