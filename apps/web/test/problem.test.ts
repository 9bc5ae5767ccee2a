import { describe, expect, it } from 'vitest';
import { fieldError, hintFor, toProblem } from '../src/shared/problem.js';

describe('toProblem', () => {
  it('keeps the API detail and per-field violations of an ApiError-like value', () => {
    const problem = toProblem({
      problem: {
        type: 'urn:paastech:problem:invalid_argument',
        title: 'Bad Request',
        status: 400,
        detail: 'project "My App": name must be a DNS label (a-z, 0-9, -)',
        errors: [{ field: 'name', message: 'must be a DNS label' }, { field: 3 }, 'junk'],
      },
    });
    expect(problem).toEqual({
      status: 400,
      title: 'Bad Request',
      detail: 'project "My App": name must be a DNS label (a-z, 0-9, -)',
      errors: [{ field: 'name', message: 'must be a DNS label' }],
    });
    expect(fieldError(problem, 'name')).toBe('must be a DNS label');
    expect(fieldError(problem, 'email')).toBeUndefined();
  });

  it('reports a network failure as status 0 with a hint to check the server', () => {
    const problem = toProblem(new TypeError('Failed to fetch'));
    expect(problem.status).toBe(0);
    expect(hintFor(problem)).toMatch(/server is running/);
  });

  it.each([null, undefined, 42, 'boom', [], { problem: null }])('never throws on %j', (value) => {
    expect(toProblem(value).status).toBeGreaterThanOrEqual(400);
  });
});

describe('hintFor', () => {
  it.each([
    [401, /Log in again/],
    [404, /deleted/],
    [409, /another value/],
    [429, /wait/],
    [503, /temporarily unavailable/],
    [500, /server log/],
  ])('status %i says what to do', (status, hint) => {
    expect(hintFor({ status, title: 't' })).toMatch(hint);
  });

  it('tells how long to wait when the API sent Retry-After', () => {
    expect(hintFor({ status: 429, title: 't', retryAfter: 30 })).toContain('wait 30 seconds');
  });
});
