// Formations: how many instances of each process type a project runs. Invariant: a formation
// accepted here names Procfile-style process types and counts within 0..FORMATION_MAX_PER_TYPE,
// at most FORMATION_MAX_TOTAL instances in all, so one project cannot exhaust the machine.
import { type FieldViolation, InvalidArgumentError } from '@paastech/kit';

/** Most instances of one process type. */
export const FORMATION_MAX_PER_TYPE = 10;
/** Most instances of a project, all process types together. */
export const FORMATION_MAX_TOTAL = 20;

/** Process type name: what a Procfile line may start with. */
const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;

/** Process type → instance count. */
export type Formation = Record<string, number>;

/** The first rule one `type: count` entry breaks, or undefined. */
function entryProblem(type: string, count: unknown): string | undefined {
  if (!PROCESS_TYPE.test(type))
    return 'process type must be 1-30 of a-z, 0-9, _ and -, starting with a letter';
  if (typeof count !== 'number' || !Number.isInteger(count)) return 'count must be an integer';
  if (count < 0 || count > FORMATION_MAX_PER_TYPE)
    return `count must be between 0 and ${FORMATION_MAX_PER_TYPE}`;
  return undefined;
}

/** Validates a formation from untrusted input, reporting every bad entry together. */
export function parseFormation(value: unknown): Formation {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgumentError('formation must be an object of process type: count', [
      { field: 'formation', message: 'must be an object of process type: count' },
    ]);
  const violations: FieldViolation[] = [];
  const formation: Formation = {};
  for (const [type, count] of Object.entries(value)) {
    const problem = entryProblem(type, count);
    if (problem) violations.push({ field: type.slice(0, 40), message: problem });
    else formation[type] = count as number;
  }
  if (violations.length === 0 && Object.keys(formation).length === 0)
    violations.push({ field: 'formation', message: 'must name at least one process type' });
  const total = Object.values(formation).reduce((a, b) => a + b, 0);
  if (violations.length === 0 && total > FORMATION_MAX_TOTAL)
    violations.push({
      field: 'formation',
      message: `a project may run at most ${FORMATION_MAX_TOTAL} instances (got ${total})`,
    });
  if (violations.length > 0) {
    const first = violations[0]!;
    const quoted = JSON.stringify(first.field);
    throw new InvalidArgumentError(`formation ${quoted}: ${first.message}`, violations);
  }
  return formation;
}

/** Reads a formation stored as JSON text; anything unreadable is the empty (default) formation. */
export function storedFormation(text: string | null | undefined): Formation {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter(([, n]) => typeof n === 'number')) as Formation;
  } catch {
    return {};
  }
}
