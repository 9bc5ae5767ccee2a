// Recognises "the database is not there right now" among driver errors, so the API answers 503
// (retry later) instead of 500 while PostgreSQL restarts or SQLite is locked.

/** Node socket errors and PostgreSQL SQLSTATE classes 08 (connection) and 57P (shutdown). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
]);

const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'connection terminated',
  'query read timeout',
  'database did not answer',
  'client has encountered a connection error',
  'cannot use a pool after calling end',
];

/** True when `err` says the database cannot be reached (as opposed to a bad query). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^(08|57P)/.test(code))) return true;
  const msg = err.message.toLowerCase();
  if (UNAVAILABLE_MESSAGES.some((m) => msg.includes(m))) return true;
  return err.cause !== undefined && err.cause !== err && isDatabaseUnavailable(err.cause);
}
