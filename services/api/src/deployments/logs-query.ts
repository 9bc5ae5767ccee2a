// The query of GET …/logs: `follow`, `source` (repeatable or comma-separated) and `lines`, checked
// as strings (query values are never coerced), every bad one reported together.
import { type FieldViolation, InvalidArgumentError } from '@paastech/kit';

/** Most past lines one request may ask for. */
export const LOG_LINES_MAX = 10_000;
/** Past lines sent when `lines` is absent. */
export const LOG_LINES_DEFAULT = 100;

/** A log source: build, release, router, platform, a process type, or `<type>.<index>`. */
const SOURCE = /^[a-z][a-z0-9_-]{0,29}(\.[1-9][0-9]{0,3})?$/;

export interface LogsQuery {
  follow: boolean;
  sources: string[];
  lines: number;
}

/** Parses the raw query values. */
export function parseLogsQuery(raw: { follow?: unknown; source?: unknown; lines?: unknown }): LogsQuery {
  const violations: FieldViolation[] = [];
  let follow = false;
  if (raw.follow !== undefined) {
    if (raw.follow === '1' || raw.follow === 'true') follow = true;
    else if (raw.follow !== '0' && raw.follow !== 'false')
      violations.push({ field: 'follow', message: 'must be 1, 0, true or false' });
  }
  const sources: string[] = [];
  const values = raw.source === undefined ? [] : Array.isArray(raw.source) ? raw.source : [raw.source];
  for (const value of values) {
    for (const s of typeof value === 'string' ? value.split(',') : [value]) {
      if (typeof s === 'string' && SOURCE.test(s)) sources.push(s);
      else
        violations.push({
          field: 'source',
          message: `${JSON.stringify(String(s).slice(0, 40))} is not a log source (build, release, web, web.1, router, platform…)`,
        });
    }
  }
  let lines = LOG_LINES_DEFAULT;
  if (raw.lines !== undefined) {
    const n = typeof raw.lines === 'string' && /^\d{1,6}$/.test(raw.lines) ? Number(raw.lines) : Number.NaN;
    if (Number.isNaN(n) || n > LOG_LINES_MAX)
      violations.push({ field: 'lines', message: `must be an integer between 0 and ${LOG_LINES_MAX}` });
    else lines = n;
  }
  if (violations.length > 0) {
    const first = violations[0]!;
    throw new InvalidArgumentError(`logs query: ${first.field}: ${first.message}`, violations);
  }
  return { follow, sources: [...new Set(sources)], lines };
}
