// The client against a real HTTP server on loopback: bearer token, typed calls, problem+json errors.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, toProblem, unwrap } from '../src/index.js';

let server: http.Server;
let baseUrl: string;
const seen: Array<{ url?: string; authorization?: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization });
    if (req.url === '/api/v1/account' && req.headers.authorization === 'Bearer pt_good') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: '1', email: 'ada@example.com', created_at: '2026-01-01T00:00:00.000Z' }));
    } else if (req.url === '/api/v1/tokens') {
      res.writeHead(400, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'about:blank',
          title: 'Bad Request',
          status: 400,
          detail: 'invalid token',
          errors: [{ field: 'name', message: 'name must be 1 to 100 characters' }, { bogus: true }],
        }),
      );
    } else if (req.url === '/api/v1/account') {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('createApiClient', () => {
  it('sends the bearer token and returns the typed data', async () => {
    const api = createApiClient({ baseUrl, token: 'pt_good' });
    const account = await unwrap(api.GET('/api/v1/account'));
    expect(account.email).toBe('ada@example.com');
    expect(seen.at(-1)).toEqual({ url: '/api/v1/account', authorization: 'Bearer pt_good' });
  });

  it('throws ApiError carrying the problem document', async () => {
    const api = createApiClient({ baseUrl, token: 'pt_good' });
    const err = await unwrap(api.POST('/api/v1/tokens', { body: { name: '' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect([e.status, e.title, e.detail, e.message]).toEqual([
      400,
      'Bad Request',
      'invalid token',
      'invalid token',
    ]);
    expect(e.errors).toEqual([{ field: 'name', message: 'name must be 1 to 100 characters' }]);
  });

  it('turns a non-problem error body into a problem', async () => {
    const api = createApiClient({ baseUrl });
    const err = (await unwrap(api.GET('/api/v1/account')).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.detail).toBe('<html>bad gateway</html>');
    expect(seen.at(-1)?.authorization).toBeUndefined();
  });

  it.each([
    [null, { type: 'about:blank', title: 'Not Found', status: 404 }],
    [[1, 2], { type: 'about:blank', title: 'Not Found', status: 404 }],
    [
      { title: 7, detail: ['x'], errors: 'no' },
      { type: 'about:blank', title: 'Not Found', status: 404 },
    ],
    [
      { status: 409, detail: 'taken' },
      { type: 'about:blank', title: 'Not Found', status: 409, detail: 'taken' },
    ],
  ])('toProblem(%j)', (body, problem) => {
    expect(toProblem(404, 'Not Found', body)).toEqual(problem);
  });
});
