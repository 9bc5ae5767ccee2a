import { describe, expect, it } from 'vitest';
import { safeNext } from '../src/features/auth/next.js';
import { normaliseUserCode } from '../src/features/device/user-code.js';

describe('safeNext (where to go after signing in)', () => {
  it.each([
    ['/device?user_code=WDJB-MJHT', '/device?user_code=WDJB-MJHT'],
    ['/projects/shop/config', '/projects/shop/config'],
  ])('keeps the local path %s', (next, to) => {
    expect(safeNext(next)).toBe(to);
  });

  it.each([
    null,
    '',
    'https://evil.example/',
    '//evil.example/',
    '/\\evil.example',
    'javascript:alert(1)',
    '/ok\n//evil',
    'projects',
  ])('refuses the off-site or malformed %j', (next) => {
    expect(safeNext(next)).toBe('/');
  });
});

describe('normaliseUserCode', () => {
  it.each([
    ['WDJB-MJHT', 'WDJB-MJHT'],
    ['wdjbmjht', 'WDJB-MJHT'],
    [' wdjb - mjht ', 'WDJB-MJHT'],
  ])('reads %j as %s', (input, code) => {
    expect(normaliseUserCode(input)).toBe(code);
  });

  it.each(['', 'WDJB', 'WDJB-MJHT-X', 'WDJB_MJHT', '<script>', 'ＷＤＪＢＭＪＨＴ', '../../x'])(
    'refuses %j',
    (input) => {
      expect(normaliseUserCode(input)).toBeNull();
    },
  );
});
