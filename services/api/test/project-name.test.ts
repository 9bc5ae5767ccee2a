import { InvalidArgumentError } from '@paastech/kit';
import { describe, expect, it } from 'vitest';
import { parseProjectName, RESERVED_PROJECT_NAMES } from '../src/projects/project-name.js';

/** The message parseProjectName throws for `value`, or undefined when it accepts it. */
function refusal(value: unknown): string | undefined {
  try {
    parseProjectName(value);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
}

describe('parseProjectName', () => {
  it.each(['a', 'shop', 'my-app', 'app2', '2048', 'a-b-c', 'x'.repeat(63), 'apis', 'wwww'])(
    'accepts %j',
    (name) => {
      expect(parseProjectName(name)).toBe(name);
    },
  );

  it.each([
    ['', 'project "": name must not be empty'],
    ['x'.repeat(64), 'name must be at most 63 characters'],
    ['x'.repeat(10_000), 'name must be at most 63 characters'],
    ['My-App', 'project "My-App": name must be lower case'],
    ['SHOP', 'name must be lower case'],
    ['my app', 'project "my app": name must be a DNS label (a-z, 0-9, -)'],
    [' shop', 'must be a DNS label'],
    ['shop ', 'must be a DNS label'],
    ['../x', 'project "../x": name must be a DNS label'],
    ['..', 'must be a DNS label'],
    ['%2e%2e', 'must be a DNS label'],
    ['a/b', 'must be a DNS label'],
    ['a\\b', 'must be a DNS label'],
    ['a.b', 'must be a DNS label'],
    ['a_b', 'must be a DNS label'],
    ['a; rm -rf /', 'must be a DNS label'],
    ['$(id)', 'must be a DNS label'],
    ["x' OR '1'='1", 'must be a DNS label'],
    ['<script>', 'must be a DNS label'],
    ['a\u0000b', 'must be a DNS label'],
    ['shop\n', 'must be a DNS label'],
    ['\u0430pp', 'must be a DNS label'], // Cyrillic а
    ['\uff41pp', 'must be a DNS label'], // fullwidth ａ
    ['sh\u00f6p', 'must be a DNS label'],
    ['app\u200b', 'must be a DNS label'], // zero-width space
    ['-shop', 'name must not start or end with "-"'],
    ['shop-', 'name must not start or end with "-"'],
    ['-', 'must not start or end with "-"'],
    ['xn--80ak6aa92e', 'project "xn--80ak6aa92e": name must not be punycode (xn--)'],
    ['api', 'project "api": name is reserved'],
    ['www', 'name is reserved'],
    ['git', 'name is reserved'],
    ['admin', 'name is reserved'],
    ['dashboard', 'name is reserved'],
    ['localhost', 'name is reserved'],
    ['paastech', 'name is reserved'],
  ])('refuses %j', (name, message) => {
    expect(refusal(name)).toContain(message);
  });

  it.each([[['shop']], [{ name: 'shop' }], [42], [null], [undefined], [true]])(
    'refuses the non-string %j',
    (value) => {
      expect(refusal(value)).toBe('project name must be a string');
    },
  );

  it('names the field and rule in the violation', () => {
    try {
      parseProjectName('Shop');
      expect.unreachable();
    } catch (err) {
      expect((err as InvalidArgumentError).violations).toEqual([
        { field: 'name', message: 'name must be lower case' },
      ]);
    }
  });

  it('refuses every reserved name, and the list holds the documented ones', () => {
    for (const name of [
      'api',
      'www',
      'git',
      'admin',
      'dashboard',
      'app',
      'apps',
      'assets',
      'static',
      'status',
    ]) {
      expect(RESERVED_PROJECT_NAMES.has(name)).toBe(true);
    }
    for (const name of RESERVED_PROJECT_NAMES) expect(refusal(name)).toContain('name is reserved');
  });

  it('shortens very long values in messages', () => {
    expect(refusal('a'.repeat(5000))!.length).toBeLessThan(200);
  });
});
