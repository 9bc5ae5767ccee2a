// Custom domain hostnames. Invariant: a hostname accepted here is an RFC 1123 name in canonical
// form (ASCII, lower case, no trailing dot, at least two labels, not an IP address), and it never
// claims the apps domain itself nor a name under it other than `<this project>.<apps domain>`, so
// one project cannot capture another project's default hostname. Unicode names are refused rather
// than converted: the Client gives the punycode (`xn--…`) form it also gives its DNS provider.
// A single trailing dot (the fully-qualified form) is stripped: `example.com.` is `example.com`.
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@paastech/kit';
import { quote } from '../projects/project-name.js';

export const HOSTNAME_MAX = 253;
export const LABEL_MAX = 63;

/** What a hostname is checked against. */
export interface HostnameRules {
  /** The platform's apps domain (`PAASTECH_APPS_DOMAIN`), lower case. */
  appsDomain: string;
  /** The project the hostname would be routed to. */
  projectName: string;
  /** Accept `*.` as the first label. */
  allowWildcard?: boolean;
}

/** Returns the rule a single label breaks, or undefined. */
function labelProblem(label: string): string | undefined {
  if (label.length === 0) return 'hostname must not have empty labels (..)';
  if (label.length > LABEL_MAX) return `hostname labels must be at most ${LABEL_MAX} characters`;
  if (!/^[a-z0-9-]+$/.test(label)) return 'hostname labels must be a-z, 0-9 and - (RFC 1123)';
  if (label.startsWith('-') || label.endsWith('-')) return 'hostname labels must not start or end with "-"';
  return undefined;
}

/** Returns the rule the lower-cased, dot-stripped `host` breaks on its own, or undefined. */
function shapeProblem(host: string, allowWildcard: boolean): string | undefined {
  if (host.length === 0) return 'hostname must not be empty';
  if (host.length > HOSTNAME_MAX) return `hostname must be at most ${HOSTNAME_MAX} characters`;
  if (isIP(host) || isIP(host.replace(/^\[|\]$/g, '')) || /^[0-9.]+$/.test(host)) {
    return 'hostname must not be an IP address';
  }
  if (host.includes(':') || host.includes('/')) return 'hostname must not contain a scheme, port or path';
  const labels = host.split('.');
  if (labels.length < 2) return 'hostname must have at least two labels (e.g. www.example.com)';
  const [first, ...rest] = labels;
  if (first?.includes('*')) {
    if (!allowWildcard) return 'hostname must not be a wildcard';
    if (first !== '*') return 'a wildcard must be a whole first label ("*.example.com")';
    if (rest.length < 2) return 'a wildcard must cover a domain of at least two labels';
  }
  for (const label of first === '*' ? rest : labels) {
    const problem = labelProblem(label);
    if (problem) return problem;
  }
  if (/^[0-9]+$/.test(labels.at(-1)!)) return 'hostname must not end with an all-numeric label';
  return undefined;
}

/** Returns the apps-domain rule `host` breaks for this project, or undefined. */
function appsDomainProblem(host: string, rules: HostnameRules): string | undefined {
  const apps = rules.appsDomain.toLowerCase().replace(/\.$/, '');
  if (host === apps) return 'hostname must not be the apps domain itself';
  if (!host.endsWith(`.${apps}`)) return undefined;
  if (host === `${rules.projectName}.${apps}`) return undefined;
  return `hostname must not be under the apps domain "${apps}" (only "${rules.projectName}.${apps}" is this project's)`;
}

/** Validates and canonicalises a hostname from untrusted input; throws InvalidArgumentError naming the rule. */
export function parseHostname(value: unknown, rules: HostnameRules, field = 'hostname'): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError('hostname must be a string', [{ field, message: 'must be a string' }]);
  }
  // Checked before lower-casing: Unicode case folding maps look-alikes (U+212A Kelvin sign) to ASCII.
  const host = value.toLowerCase().replace(/\.$/, '');
  const problem =
    (value.length > HOSTNAME_MAX + 1 ? `hostname must be at most ${HOSTNAME_MAX} characters` : undefined) ??
    (/[^\u0021-\u007e]/.test(value)
      ? 'hostname must be ASCII without spaces (give the xn-- form of a Unicode name)'
      : undefined) ??
    shapeProblem(host, rules.allowWildcard ?? false) ??
    appsDomainProblem(host, rules);
  if (problem)
    throw new InvalidArgumentError(`domain ${quote(value)}: ${problem}`, [{ field, message: problem }]);
  return host;
}
