// Parses `config:set` arguments: KEY=VALUE, KEY=@file (the file's contents), KEY=@@text (a literal
// value starting with "@"). Names follow the API's rule for config vars; the API checks the rest
// (reserved names, sizes) and stays the authority.
import { UsageError } from './errors.js';

const NAME = /^[A-Z_][A-Z0-9_]*$/;

/** Reads a file named by KEY=@file; injected so the parser stays pure. */
export type ReadFile = (path: string) => string;

/** Parses every KEY=VALUE argument; throws UsageError naming the first bad one. */
export function parseAssignments(args: readonly string[], readFile: ReadFile): Record<string, string> {
  if (args.length === 0)
    throw new UsageError('expected at least one KEY=VALUE', 'e.g. paastech config:set A=1 B=2');
  const out: Record<string, string> = {};
  for (const arg of args) {
    const [key, value] = parseAssignment(arg, readFile);
    if (Object.hasOwn(out, key)) throw new UsageError(`config var "${key}": given more than once`);
    out[key] = value;
  }
  return out;
}

/** Parses one KEY=VALUE argument. */
export function parseAssignment(arg: string, readFile: ReadFile): [string, string] {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new UsageError(`"${arg}": expected KEY=VALUE`, 'to read a value from a file: KEY=@file');
  const key = arg.slice(0, eq);
  checkName(key);
  let value = arg.slice(eq + 1);
  if (value.startsWith('@@')) value = value.slice(1);
  else if (value.startsWith('@')) value = readValueFile(key, value.slice(1), readFile);
  if (value.includes('\0')) throw new UsageError(`config var "${key}": value must not contain a NUL byte`);
  return [key, value];
}

/** Checks a config var name against the rule `[A-Z_][A-Z0-9_]*`. */
export function checkName(key: string): void {
  if (key === '') throw new UsageError('config var name is empty: expected KEY=VALUE');
  if (!NAME.test(key)) {
    throw new UsageError(
      `config var "${key}": name must be upper-case letters, digits and _ and not start with a digit`,
    );
  }
}

function readValueFile(key: string, file: string, readFile: ReadFile): string {
  if (file === '') throw new UsageError(`config var "${key}": expected a file name after @`);
  try {
    return readFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`config var "${key}": cannot read file "${file}" (${reason})`);
  }
}
