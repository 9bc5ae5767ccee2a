// The config-var editor's model: rows a person adds, edits and removes, turned into ONE change
// (`set` + `unset`) so that saving makes one deployment. Rules mirror the API's so mistakes show
// before saving; the API's answer stays authoritative.

export interface ConfigRow {
  /** Stable key for React lists. */
  id: string;
  name: string;
  value: string;
  /** The name this row had when loaded (undefined for a new row). */
  original?: string;
  removed: boolean;
}

export interface ConfigChange {
  set: Record<string, string>;
  unset: string[];
}

const NAME = /^[A-Z_][A-Z0-9_]*$/;
const NAME_MAX = 255;
const VALUE_MAX_BYTES = 32 * 1024;

/** The rule a config var name breaks, or undefined. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'name is required';
  if (name.length > NAME_MAX) return `name must be at most ${NAME_MAX} characters`;
  if (!NAME.test(name)) return 'name must be upper case letters, digits and _ and not start with a digit';
  if (name === 'PORT' || name.startsWith('PAASTECH_')) return `name "${name}" is reserved by the platform`;
  return undefined;
}

/** The rule a value breaks, or undefined. */
export function valueProblem(value: string): string | undefined {
  if (new TextEncoder().encode(value).length > VALUE_MAX_BYTES) return 'value must be at most 32 KiB';
  return undefined;
}

/** Rows for the vars as loaded. */
export function rowsFrom(vars: Record<string, string>): ConfigRow[] {
  return Object.keys(vars)
    .sort()
    .map((name) => ({ id: `var:${name}`, name, value: vars[name]!, original: name, removed: false }));
}

/** Problems per row id (name rules, value size, a name used twice). */
export function rowProblems(rows: ConfigRow[]): Map<string, string> {
  const problems = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const row of rows) {
    if (row.removed) continue;
    const problem = nameProblem(row.name) ?? valueProblem(row.value);
    if (problem) problems.set(row.id, problem);
    else if (seen.has(row.name)) problems.set(row.id, `name "${row.name}" is used twice`);
    seen.set(row.name, row.id);
  }
  return problems;
}

/** The one change that turns `loaded` into what the rows say; renames unset the old name. */
export function changeFrom(loaded: Record<string, string>, rows: ConfigRow[]): ConfigChange {
  const set: Record<string, string> = {};
  const keep = new Set<string>();
  for (const row of rows) {
    if (row.removed) continue;
    keep.add(row.name);
    if (loaded[row.name] !== row.value || !Object.hasOwn(loaded, row.name)) set[row.name] = row.value;
  }
  const unset = Object.keys(loaded)
    .filter((name) => !keep.has(name))
    .sort();
  return { set, unset };
}

/** True when the change does nothing. */
export function isEmptyChange(change: ConfigChange): boolean {
  return Object.keys(change.set).length === 0 && change.unset.length === 0;
}
