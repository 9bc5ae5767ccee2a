// The API serving the built dashboard: SPA fallback, cache and security headers, compression,
// /api paths left to the API, and no way out of the build directory. Runs the real paastechd.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/app-abc123.js"></script></head></html>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;

/** A fake build directory with an index, a hashed asset and a secret-looking neighbour outside it. */
function fixtureBuild(): string {
  const root = tempDir('pt-web-');
  const dist = path.join(root, 'dist');
  fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(dist, 'index.html'), INDEX);
  fs.writeFileSync(path.join(dist, 'assets/app-abc123.js'), SCRIPT);
  fs.writeFileSync(path.join(root, 'secret.txt'), 'TOP-SECRET');
  return dist;
}

describe('the API serves the dashboard', () => {
  let daemon: RunningDaemon;
  let origin: string;

  beforeAll(async () => {
    daemon = await startPaastechd({ role: 'api', env: { PAASTECH_WEB_DIR: fixtureBuild() } });
    origin = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('answers / with index.html, no-cache and the security headers', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
  });

  it.each(['/projects/shop', '/projects/shop/config', '/device?user_code=WDJB-MJHT', '/account/tokens'])(
    'falls back to index.html for the client route %s',
    async (route) => {
      const res = await fetch(`${origin}${route}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(INDEX);
    },
  );

  it('serves hashed assets as immutable, compressed when asked, with a working ETag', async () => {
    const plain = await fetch(`${origin}/assets/app-abc123.js`, {
      headers: { 'accept-encoding': 'identity' },
    });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await plain.text()).toBe(SCRIPT);
    const etag = plain.headers.get('etag')!;
    const again = await fetch(`${origin}/assets/app-abc123.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);

    const gz = await rawGet(`${origin}/assets/app-abc123.js`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).toString()).toBe(SCRIPT);
    const br = await rawGet(`${origin}/assets/app-abc123.js`, { 'accept-encoding': 'gzip, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe(SCRIPT);
  });

  it('answers a missing asset with 404, not the index page', async () => {
    const res = await fetch(`${origin}/assets/app-missing.js`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('<html');
  });

  it('leaves /api to the API: unknown API routes are problem+json 404s', async () => {
    const res = await fetch(`${origin}/api/v1/no-such-route`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as { status: number }).status).toBe(404);
  });

  it.each([
    '/../secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '//secret.txt',
    '/assets/../../secret.txt',
    '/%00/secret.txt',
  ])('never serves a file outside the build for %s', async (attempt) => {
    const res = await rawGet(`${origin}${attempt}`, {});
    expect(res.body.toString()).not.toContain('TOP-SECRET');
  });
});

describe('without a built dashboard', () => {
  it('explains how to build it', async () => {
    const daemon = await startPaastechd({
      role: 'api',
      env: { PAASTECH_WEB_DIR: path.join(tempDir(), 'none') },
    });
    try {
      const origin = daemon.endpoints.get('dashboard and API')!;
      const res = await fetch(origin);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
      const health = await fetch(new URL('/healthz', origin));
      expect(health.status).toBe(200);
    } finally {
      await daemon.stop();
    }
  });
});

/** GET without fetch's URL normalisation or automatic decompression. */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const u = new URL(url.replace(/^(https?:\/\/[^/]+).*$/, '$1'));
  const rawPath = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
