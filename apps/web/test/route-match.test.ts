import { describe, expect, it } from 'vitest';
import { buildPath, matchRoute } from '../src/shared/route-match.js';

describe('matchRoute', () => {
  it.each([
    ['/', '/', {}],
    ['/projects/:name', '/projects/web-shop', { name: 'web-shop' }],
    ['/projects/:name', '/projects/web-shop/', { name: 'web-shop' }],
    ['/projects/:name/logs', '/projects/a/logs', { name: 'a' }],
    ['/projects/:name', '/projects/%61pp', { name: 'app' }],
  ])('%s matches %s', (pattern, path, params) => {
    expect(matchRoute(pattern, path)).toEqual(params);
  });

  it.each([
    ['/projects/:name', '/projects'],
    ['/projects/:name', '/projects/a/logs'],
    ['/projects/:name/logs', '/projects/a/config'],
    ['/projects/:name', '/projects/%E0%A4%A'],
    ['/projects/:name', '/projects/..%2fetc'],
    ['/projects/:name', '/projects/a%2Fb'],
    ['/device', '/devices'],
    ['/', '/anything'],
  ])('%s does not match hostile or different path %s', (pattern, path) => {
    expect(matchRoute(pattern, path)).toBeNull();
  });
});

describe('buildPath', () => {
  it.each([
    ['/projects/:name', { name: 'shop' }, '/projects/shop'],
    ['/projects/:name/logs', { name: 'a/../b' }, '/projects/a%2F..%2Fb/logs'],
    ['/projects/:name', { name: '<script>' }, '/projects/%3Cscript%3E'],
  ])('%s with %j is %s', (pattern, params, path) => {
    expect(buildPath(pattern, params)).toBe(path);
  });
});
