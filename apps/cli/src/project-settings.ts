// Parses `settings:set` arguments (KEY=VALUE) into the API's settings change. Keys are the API's
// names (limits may be given bare or as limits.NAME); `default` or an empty value puts a limit or
// the health check path back to the platform default. Values are passed as typed where the API has
// the rule (ranges, builder names), so its message is the one the user sees.
import type { Schemas } from '@paastech/api-client';
import { UsageError } from './errors.js';

export const LIMIT_KEYS = ['memory_mb', 'cpu_millicores', 'max_processes', 'disk_mb'] as const;
const KEYS = ['health_check_path', 'builder', 'egress', ...LIMIT_KEYS];

export type SettingsChange = Schemas['SettingsChangeDto'];

const TRUE = new Set(['true', 'on', 'yes', '1']);
const FALSE = new Set(['false', 'off', 'no', '0']);

/** A boolean setting from on/off words. */
function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new UsageError(`${key}: expected true or false, got "${value}"`);
}

/** A limit: null for default/empty, a number for digits, else the text (the API names the rule). */
function parseLimit(value: string): number | null {
  if (value === '' || value === 'default') return null;
  return /^\d+$/.test(value) ? Number(value) : (value as unknown as number);
}

/** Parses every KEY=VALUE argument into one change; throws UsageError naming the first bad one. */
export function parseSettings(args: readonly string[]): SettingsChange {
  if (args.length === 0)
    throw new UsageError(
      'expected at least one KEY=VALUE',
      'e.g. paastech settings:set memory_mb=512 egress=false',
    );
  const out: SettingsChange = {};
  const seen = new Set<string>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new UsageError(`"${arg}": expected KEY=VALUE`);
    const key = arg.slice(0, eq).replace(/^limits\./, '');
    const value = arg.slice(eq + 1);
    if (!KEYS.includes(key))
      throw new UsageError(`unknown setting "${arg.slice(0, eq)}"`, `settings are ${KEYS.join(', ')}`);
    if (seen.has(key)) throw new UsageError(`setting "${key}": given more than once`);
    seen.add(key);
    if (key === 'egress') out.egress = parseBool(key, value);
    else if (key === 'builder') out.builder = value as SettingsChange['builder'];
    else if (key === 'health_check_path')
      out.health_check_path = value === '' || value === 'default' ? null : value;
    else out.limits = { ...out.limits, [key]: parseLimit(value) };
  }
  return out;
}
