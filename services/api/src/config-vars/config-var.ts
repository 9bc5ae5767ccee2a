// Config var names and values. Invariant: a name accepted here is a portable environment variable
// name that the platform does not set itself (PORT and PAASTECH_* belong to the platform, so a
// Client can never override where its app listens or what the platform tells it), and a value fits
// in 32 KiB of UTF-8. Values are never quoted in error messages: they are secrets.
import { InvalidArgumentError } from '@paastech/kit';
import { quote } from '../projects/project-name.js';

export const CONFIG_VAR_NAME_MAX = 255;
export const CONFIG_VAR_VALUE_MAX_BYTES = 32 * 1024;
/** Most vars one project may hold: bounds the environment of every instance. */
export const CONFIG_VARS_MAX_PER_PROJECT = 500;

/** Returns the first rule `name` breaks, or undefined when it is a valid config var name. */
export function configVarNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'name must not be empty';
  if (name.length > CONFIG_VAR_NAME_MAX) return `name must be at most ${CONFIG_VAR_NAME_MAX} characters`;
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) {
    return 'name must be upper case letters, digits and _, not starting with a digit ([A-Z_][A-Z0-9_]*)';
  }
  if (name === 'PORT') return 'name is reserved (the platform sets PORT)';
  if (name.startsWith('PAASTECH_')) return 'name is reserved (PAASTECH_* belong to the platform)';
  return undefined;
}

/** Checks a config var name from untrusted input; throws InvalidArgumentError naming the rule. */
export function parseConfigVarName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError('config var name must be a string', [
      { field, message: 'must be a string' },
    ]);
  }
  const problem = configVarNameProblem(value);
  if (problem) {
    throw new InvalidArgumentError(`config var ${quote(value)}: ${problem}`, [{ field, message: problem }]);
  }
  return value;
}

/** Returns the rule `value` breaks, or undefined; NUL is refused because no environment can hold it. */
export function configVarValueProblem(value: string): string | undefined {
  if (Buffer.byteLength(value, 'utf8') > CONFIG_VAR_VALUE_MAX_BYTES) {
    return `value must be at most ${CONFIG_VAR_VALUE_MAX_BYTES} bytes (UTF-8)`;
  }
  if (value.includes('\u0000')) return 'value must not contain NUL characters';
  if (/[\uD800-\uDFFF]/u.test(value.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) {
    return 'value must be valid Unicode (no lone surrogates)';
  }
  return undefined;
}

/** Checks a config var value of `name`; the message names the var, never the value. */
export function parseConfigVarValue(name: string, value: unknown, field = name): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`config var ${quote(name)}: value must be a string`, [
      { field, message: 'value must be a string' },
    ]);
  }
  const problem = configVarValueProblem(value);
  if (problem) {
    throw new InvalidArgumentError(`config var ${quote(name)}: ${problem}`, [{ field, message: problem }]);
  }
  return value;
}

/** One atomic change of a project's config: vars to set and names to unset. */
export interface ConfigChange {
  set: Map<string, string>;
  unset: string[];
}

/**
 * Validates a `{ set: {K: V}, unset: [K] }` change, reporting every bad field together. A name
 * both set and unset is refused: the order would be ambiguous.
 */
export function parseConfigChange(body: { set?: unknown; unset?: unknown }): ConfigChange {
  const violations: { field: string; message: string }[] = [];
  const set = new Map<string, string>();
  const unset: string[] = [];
  const rawSet = body.set ?? {};
  if (typeof rawSet !== 'object' || rawSet === null || Array.isArray(rawSet)) {
    violations.push({ field: 'set', message: 'must be an object of NAME: value' });
  } else {
    for (const [name, value] of Object.entries(rawSet)) {
      collect(violations, () => {
        set.set(parseConfigVarName(name, `set.${name}`), parseConfigVarValue(name, value, `set.${name}`));
      });
    }
  }
  const rawUnset = body.unset ?? [];
  if (!Array.isArray(rawUnset)) {
    violations.push({ field: 'unset', message: 'must be an array of names' });
  } else {
    rawUnset.forEach((name: unknown, i) => {
      collect(violations, () => unset.push(parseConfigVarName(name, `unset[${i}]`)));
    });
  }
  for (const name of unset) {
    if (set.has(name)) violations.push({ field: `unset`, message: `${quote(name)} is both set and unset` });
  }
  if (violations.length === 0 && set.size === 0 && unset.length === 0) {
    violations.push({ field: 'set', message: 'a change must set or unset at least one var' });
  }
  if (violations.length > 0) {
    const first = violations[0]!;
    const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : '';
    throw new InvalidArgumentError(`config change: ${first.field}: ${first.message}${more}`, violations);
  }
  return { set, unset: [...new Set(unset)] };
}

/** Runs `check`, turning an InvalidArgumentError into collected violations. */
function collect(violations: { field: string; message: string }[], check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    violations.push(...err.violations);
  }
}
