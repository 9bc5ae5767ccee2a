// Parses `ps:scale` arguments: TYPE=COUNT pairs such as web=2 worker=1. The API enforces the limits
// (per type and in all); this only checks the shape.
import { UsageError } from './errors.js';

const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;

/** Parses TYPE=COUNT arguments into a formation; throws UsageError naming the first bad one. */
export function parseFormation(args: readonly string[]): Record<string, number> {
  if (args.length === 0)
    throw new UsageError('expected at least one TYPE=COUNT', 'e.g. paastech ps:scale web=2 worker=1');
  const out: Record<string, number> = {};
  for (const arg of args) {
    const m = /^([^=]*)=(.*)$/.exec(arg);
    if (!m) throw new UsageError(`"${arg}": expected TYPE=COUNT such as web=2`);
    const [, type = '', count = ''] = m;
    if (!PROCESS_TYPE.test(type)) {
      throw new UsageError(
        `process type "${type}": must be lower-case letters, digits, - and _ (as in the Procfile)`,
      );
    }
    if (!/^\d{1,4}$/.test(count))
      throw new UsageError(`${type}="${count}": count must be a whole number such as 2`);
    if (Object.hasOwn(out, type)) throw new UsageError(`process type "${type}": given more than once`);
    out[type] = Number(count);
  }
  return out;
}

/** Parses a deployment reference: `v3` or `3`. */
export function parseDeploymentNumber(raw: string): number {
  const m = /^v?([1-9]\d{0,9})$/i.exec(raw);
  if (!m || Number(m[1]) > 2_147_483_647) throw new UsageError(`deployment "${raw}": expected vN such as v3`);
  return Number(m[1]);
}
