// Project names. A name becomes a DNS label (`<name>.<apps domain>`), a clone URL path and a log
// field, so it is validated strictly and never normalised: `My-App` is refused ("must be lower
// case"), not silently turned into `my-app`, so what a Client typed is what the platform uses.
// Punycode labels (`xn--…`) are refused: they would display as a different (possibly look-alike)
// Unicode name in browsers, and a project name has no need for IDN.
import { InvalidArgumentError } from '@paastech/kit';

/** Longest DNS label. */
export const PROJECT_NAME_MAX = 63;

/** Names that collide with platform hostnames or read as official; refused for every Client. */
export const RESERVED_PROJECT_NAMES: ReadonlySet<string> = new Set([
  'about',
  'account',
  'admin',
  'administrator',
  'api',
  'app',
  'apps',
  'assets',
  'auth',
  'autoconfig',
  'autodiscover',
  'billing',
  'blog',
  'cdn',
  'console',
  'dashboard',
  'default',
  'dev',
  'docs',
  'ftp',
  'git',
  'help',
  'imap',
  'internal',
  'localhost',
  'login',
  'mail',
  'metrics',
  'mx',
  'ns',
  'ns1',
  'ns2',
  'paastech',
  'pomegrenade',
  'pop',
  'pop3',
  'registry',
  'root',
  'router',
  'security',
  'signup',
  'smtp',
  'ssh',
  'staging',
  'static',
  'status',
  'support',
  'system',
  'test',
  'webmail',
  'www',
]);

/** Quotes a value for an error message, shortened and with control characters escaped. */
export function quote(value: string, max = 80): string {
  const short = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(short);
}

/** Returns the first rule `name` breaks, or undefined when it is a valid project name. */
export function projectNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'name must not be empty';
  if (name.length > PROJECT_NAME_MAX) return `name must be at most ${PROJECT_NAME_MAX} characters`;
  if (/[A-Z]/.test(name) && /^[a-zA-Z0-9-]+$/.test(name)) return 'name must be lower case';
  if (!/^[a-z0-9-]+$/.test(name)) return 'name must be a DNS label (a-z, 0-9, -)';
  if (name.startsWith('-') || name.endsWith('-')) return 'name must not start or end with "-"';
  if (/^xn--/.test(name)) return 'name must not be punycode (xn--)';
  if (RESERVED_PROJECT_NAMES.has(name)) return 'name is reserved';
  return undefined;
}

/** Checks a project name from untrusted input; throws InvalidArgumentError naming the rule. */
export function parseProjectName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`project ${field} must be a string`, [
      { field, message: 'must be a string' },
    ]);
  }
  const problem = projectNameProblem(value);
  if (problem) {
    throw new InvalidArgumentError(`project ${quote(value)}: ${problem}`, [{ field, message: problem }]);
  }
  return value;
}
