import { InvalidArgumentError } from '@paastech/kit';
import { describe, expect, it } from 'vitest';
import { type HostnameRules, parseHostname } from '../src/domains/hostname.js';

const rules: HostnameRules = { appsDomain: 'apps.example.com', projectName: 'shop' };

/** The message parseHostname throws for `value`. */
function refusal(value: unknown, r: HostnameRules = rules): string {
  try {
    parseHostname(value, r);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected the hostname to be refused');
}

describe('parseHostname', () => {
  it.each([
    ['www.example.com', 'www.example.com'],
    ['Shop.Example.COM', 'shop.example.com'],
    ['example.com.', 'example.com'],
    ['a.b.c.d.example.org', 'a.b.c.d.example.org'],
    ['3com.net', '3com.net'],
    ['xn--80ak6aa92e.com', 'xn--80ak6aa92e.com'],
    ['shop.apps.example.com', 'shop.apps.example.com'],
    ['apps.example.com.evil.net', 'apps.example.com.evil.net'],
    ['example.com', 'example.com'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('accepts %j as %j', (input, expected) => {
    expect(parseHostname(input, rules)).toBe(expected);
  });

  it('accepts a 253-character name and refuses 254', () => {
    const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(name253.length).toBe(253);
    expect(parseHostname(name253, rules)).toBe(name253);
    expect(refusal(`x${name253}`)).toContain('hostname must be at most 253 characters');
  });

  it.each([
    ['', 'hostname must not be empty'],
    ['.', 'hostname must not be empty'],
    ['localhost', 'hostname must have at least two labels'],
    ['example..com', 'must not have empty labels'],
    ['.example.com', 'must not have empty labels'],
    ['example.com..', 'must not have empty labels'],
    [`${'a'.repeat(64)}.com`, 'labels must be at most 63 characters'],
    ['-a.example.com', 'must not start or end with "-"'],
    ['a-.example.com', 'must not start or end with "-"'],
    ['a_b.example.com', 'a-z, 0-9 and - (RFC 1123)'],
    ['ex ample.com', 'must be ASCII without spaces'],
    ['ex\u0430mple.com', 'must be ASCII'], // Cyrillic а
    ['\uff45xample.com', 'must be ASCII'], // fullwidth ｅ
    ['\u212Aey.example.com', 'must be ASCII'], // Kelvin sign, lower-cases to "k"
    ['bücher.de', 'give the xn-- form'],
    ['example.com\n', 'must be ASCII'],
    ['a\u0000.com', 'must be ASCII'],
    ['127.0.0.1', 'hostname must not be an IP address'],
    ['10.1.2.3.', 'must not be an IP address'],
    ['::1', 'must not be an IP address'],
    ['[::1]', 'must not be an IP address'],
    ['2130706433', 'must not be an IP address'],
    ['example.123', 'must not end with an all-numeric label'],
    ['http://example.com', 'must not contain a scheme, port or path'],
    ['example.com:443', 'must not contain a scheme, port or path'],
    ['example.com/x', 'must not contain a scheme, port or path'],
    ['../../etc/passwd', 'must not contain a scheme, port or path'],
    ['*.example.com', 'hostname must not be a wildcard'],
    ["x' OR 1=1 --.com", 'must be ASCII without spaces'],
    ['apps.example.com', 'hostname must not be the apps domain itself'],
    ['APPS.example.com.', 'must not be the apps domain itself'],
    ['other.apps.example.com', 'must not be under the apps domain "apps.example.com"'],
    ['x.shop.apps.example.com', 'must not be under the apps domain'],
  ])('refuses %j', (input, message) => {
    expect(refusal(input)).toContain(message);
  });

  it.each([[['example.com']], [{ hostname: 'example.com' }], [1], [null]])(
    'refuses the non-string %j',
    (v) => {
      expect(refusal(v)).toBe('hostname must be a string');
    },
  );

  it('quotes the value and names the rule', () => {
    expect(refusal('other.apps.example.com')).toBe(
      'domain "other.apps.example.com": hostname must not be under the apps domain "apps.example.com" (only "shop.apps.example.com" is this project\'s)',
    );
  });

  describe('with wildcards allowed', () => {
    const wild = { ...rules, allowWildcard: true };
    it('accepts *. as the whole first label', () => {
      expect(parseHostname('*.Example.com', wild)).toBe('*.example.com');
    });
    it.each([
      ['a*.example.com', 'a wildcard must be a whole first label'],
      ['*.com', 'a wildcard must cover a domain of at least two labels'],
      ['www.*.example.com', 'a-z, 0-9 and -'],
      ['*.apps.example.com', 'must not be under the apps domain'],
    ])('refuses %j', (input, message) => {
      expect(refusal(input, wild)).toContain(message);
    });
  });
});
