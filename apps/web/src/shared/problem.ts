// Turns whatever a failed request produced (an RFC 9457 problem+json body, a network failure, a
// thrown value) into what the dashboard shows: the API's own message and what the person can do next.

export interface FieldViolation {
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: FieldViolation[];
  /** Seconds to wait, from Retry-After, on 429/503. */
  retryAfter?: number;
}

/** True when `value` looks like a problem+json body (at least a status or a title). */
function isProblemBody(value: unknown): value is Partial<Problem> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.status === 'number' || typeof v.title === 'string' || typeof v.detail === 'string';
}

/** Keeps only well-formed `{ field, message }` entries of a problem's `errors`. */
function violations(value: unknown): FieldViolation[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out = value.filter(
    (e): e is FieldViolation =>
      typeof e === 'object' && e !== null && typeof e.field === 'string' && typeof e.message === 'string',
  );
  return out.length > 0 ? out : undefined;
}

/** Normalises any failure into a Problem (status 0 = the server could not be reached). */
export function toProblem(error: unknown): Problem {
  const body =
    typeof error === 'object' && error !== null && 'problem' in error
      ? (error as { problem: unknown }).problem
      : error;
  if (isProblemBody(body)) {
    const status = typeof body.status === 'number' ? body.status : 500;
    const problem: Problem = {
      status,
      title: typeof body.title === 'string' ? body.title : 'request failed',
    };
    if (typeof body.detail === 'string' && body.detail !== '') problem.detail = body.detail;
    const errors = violations(body.errors);
    if (errors) problem.errors = errors;
    if (typeof body.retryAfter === 'number') problem.retryAfter = body.retryAfter;
    return problem;
  }
  if (error instanceof TypeError) {
    return { status: 0, title: 'the server could not be reached', detail: error.message };
  }
  return { status: 500, title: 'something went wrong', detail: error instanceof Error ? error.message : '' };
}

/** The sentence telling the person what to do about a problem of this status. */
export function hintFor(problem: Problem): string {
  const { status } = problem;
  if (status === 0) return 'Check your connection and that the PaaSTech server is running, then try again.';
  if (status === 400 || status === 422) return 'Correct the highlighted values and try again.';
  if (status === 401) return 'Log in again to continue.';
  if (status === 403) return 'You are not allowed to do this. Reload the page and try again.';
  if (status === 404) return 'It may have been deleted. Go back to the list and check the name.';
  if (status === 409) return 'Choose another value or refresh to see the current state.';
  if (status === 413) return 'Send less data at once.';
  if (status === 429) {
    return problem.retryAfter
      ? `Too many attempts: wait ${problem.retryAfter} seconds and try again.`
      : 'Too many attempts: wait a moment and try again.';
  }
  if (status === 503) return 'The server is temporarily unavailable. Try again in a moment.';
  return 'Try again. If it keeps failing, check the server log (paastechd) for the reason.';
}

/** The violation message for one form field, if the problem names it. */
export function fieldError(problem: Problem | null | undefined, field: string): string | undefined {
  return problem?.errors?.find((e) => e.field === field)?.message;
}
