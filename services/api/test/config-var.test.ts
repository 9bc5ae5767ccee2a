import { InvalidArgumentError } from '@paastech/kit';
import { describe, expect, it } from 'vitest';
import { parseConfigChange, parseConfigVarName, parseConfigVarValue } from '../src/config-vars/config-var.js';

/** The InvalidArgumentError `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return err as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('config var names', () => {
  it.each(['DATABASE_URL', '_', '_X', 'A1', 'X'.repeat(255), 'PAASTECH', 'PORTS', 'MY_PAASTECH_X'])(
    'accepts %j',
    (name) => {
      expect(parseConfigVarName(name)).toBe(name);
    },
  );

  it.each([
    ['', 'name must not be empty'],
    ['X'.repeat(256), 'name must be at most 255 characters'],
    ['database_url', 'name must be upper case letters, digits and _'],
    ['1ABC', 'not starting with a digit'],
    ['A-B', '[A-Z_][A-Z0-9_]*'],
    ['A B', '[A-Z_][A-Z0-9_]*'],
    ['A=B', '[A-Z_][A-Z0-9_]*'],
    ['A\u0000', '[A-Z_][A-Z0-9_]*'],
    ['\u0410BC', '[A-Z_][A-Z0-9_]*'], // Cyrillic А
    ['__proto__', '[A-Z_][A-Z0-9_]*'],
    ['$(id)', '[A-Z_][A-Z0-9_]*'],
    ['PORT', 'config var "PORT": name is reserved (the platform sets PORT)'],
    ['PAASTECH_TOKEN', 'name is reserved (PAASTECH_* belong to the platform)'],
    ['PAASTECH_', 'name is reserved'],
  ])('refuses the name %j', (name, message) => {
    expect(thrown(() => parseConfigVarName(name)).message).toContain(message);
  });

  it.each([[['A']], [{}], [1], [null]])('refuses the non-string name %j', (name) => {
    expect(thrown(() => parseConfigVarName(name)).message).toBe('config var name must be a string');
  });
});

describe('config var values', () => {
  it.each(['', 'x', 'x'.repeat(32 * 1024), 'é'.repeat(16 * 1024), 'line1\nline2', '😀'])(
    'accepts a value',
    (v) => {
      expect(parseConfigVarValue('X', v)).toBe(v);
    },
  );

  it.each([
    ['x'.repeat(32 * 1024 + 1), 'value must be at most 32768 bytes (UTF-8)'],
    ['é'.repeat(16 * 1024 + 1), 'value must be at most 32768 bytes'],
    ['a\u0000b', 'value must not contain NUL characters'],
    ['\ud800', 'no lone surrogates'],
  ])('refuses a bad value without quoting it', (value, message) => {
    const err = thrown(() => parseConfigVarValue('SECRET', value));
    expect(err.message).toContain(message);
    expect(err.message).toContain('"SECRET"');
    if (value.length > 3) expect(err.message).not.toContain(value.slice(0, 4));
  });

  it.each([[1], [null], [['a']], [{ a: 1 }], [true]])('refuses the non-string value %j', (value) => {
    expect(thrown(() => parseConfigVarValue('X', value)).message).toBe(
      'config var "X": value must be a string',
    );
  });
});

describe('parseConfigChange', () => {
  it('accepts sets and unsets together', () => {
    const change = parseConfigChange({ set: { A: '1', B: '2' }, unset: ['C', 'C'] });
    expect([...change.set]).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
    expect(change.unset).toEqual(['C']);
  });

  it('reports every bad field together, never quoting values', () => {
    const err = thrown(() =>
      parseConfigChange({ set: { lower: 'hunter2-secret', PORT: 'x', OK: 5 }, unset: ['bad name', 3] }),
    );
    expect(err.violations.map((v) => v.field)).toEqual([
      'set.lower',
      'set.PORT',
      'set.OK',
      'unset[0]',
      'unset[1]',
    ]);
    expect(err.message).toContain('(and 4 more)');
    expect(JSON.stringify(err.violations)).not.toContain('hunter2-secret');
  });

  it.each([
    [{}, 'a change must set or unset at least one var'],
    [{ set: {}, unset: [] }, 'at least one var'],
    [{ set: [] }, 'set: must be an object of NAME: value'],
    [{ set: 'A=1' }, 'set: must be an object'],
    [{ set: null, unset: 'A' }, 'unset: must be an array of names'],
    [{ set: { A: '1' }, unset: ['A'] }, '"A" is both set and unset'],
  ])('refuses the change %j', (body, message) => {
    expect(thrown(() => parseConfigChange(body as never)).message).toContain(message);
  });
});
