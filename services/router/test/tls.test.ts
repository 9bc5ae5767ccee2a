// The HTTPS listener, on both data planes: certificates per hostname (SNI), forwarding headers,
// pages, uploads and WebSockets over TLS, and the per-project HTTP → HTTPS redirect.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { routing } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, type Echo } from './support/backend.js';
import { type Harness, request, startHarness, tempDir, waitFor } from './support/harness.js';
import { PLANES } from './support/planes.js';
import { route } from './support/routing-server.js';

/** Writes a self-signed `<host>.crt`/`<host>.key` pair for `host` into `dir`. */
function makeCert(dir: string, host: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      path.join(dir, `${host}.key`),
      '-out',
      path.join(dir, `${host}.crt`),
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-days',
      '2',
    ],
    { stdio: 'ignore' },
  );
}

/** Opens a TLS connection naming `servername`; resolves with the certificate's subject CN. */
function peerName(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.destroy();
      resolve(String(cn));
    });
    s.on('error', reject);
  });
}

describe.each(PLANES)('router over TLS, %s data plane', (plane) => {
  let h: Harness;
  let a: Backend;
  const certs = tempDir();
  const https = (host: string, p = '/echo', o: Parameters<typeof request>[3] = {}) =>
    request(h.tlsPort as number, host, p, { ...o, tls: true });

  beforeAll(async () => {
    for (const host of ['secure.apps.test', 'other.apps.test', 'down.apps.test']) makeCert(certs, host);
    a = await new Backend('a').start();
    h = await startHarness(plane, { PAASTECH_ROUTER_TLS_PORT: '0', PAASTECH_ROUTER_CERTS_DIR: certs });
    h.routes.setRoutes([
      route({
        projectId: 's',
        projectName: 'secure',
        hostnames: ['secure.apps.test'],
        upstreamAddresses: [a.address],
        httpsRedirect: true,
      }),
      route({
        projectId: 'o',
        projectName: 'other',
        hostnames: ['other.apps.test'],
        upstreamAddresses: [a.address],
      }),
      route({
        projectId: 'd',
        projectName: 'down',
        hostnames: ['down.apps.test'],
        unavailableReason: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_BUILDING,
      }),
    ]);
    await waitFor(async () => (await https('other.apps.test')).status === 200, 10_000, 'tls route');
  });
  afterAll(async () => {
    await h?.stop();
    await a?.stop();
    fs.rmSync(certs, { recursive: true, force: true });
  });

  it.each([['secure.apps.test'], ['other.apps.test']])(
    'serves the certificate of %s by SNI',
    async (host) => {
      expect(await peerName(h.tlsPort as number, host)).toBe(host);
    },
  );

  it('tells the instance the request came over HTTPS, on the TLS port', async () => {
    const r = await https('other.apps.test', '/echo', { headers: { 'x-forwarded-proto': 'http' } });
    const e = JSON.parse(r.body) as Echo;
    expect(e.headers['x-forwarded-proto']).toBe('https');
    expect(e.headers['x-forwarded-port']).toBe(String(h.tlsPort));
  });

  it('redirects plain HTTP to HTTPS when the route asks, and only then', async () => {
    const r = await request(h.port, 'secure.apps.test', '/a/b?c=d');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://secure.apps.test:${h.tlsPort}/a/b?c=d`);
    expect((await request(h.port, 'other.apps.test', '/echo')).status).toBe(200);
    expect((await https('secure.apps.test')).status).toBe(200);
  });

  it('answers its pages over TLS', async () => {
    expect((await https('down.apps.test', '/')).status).toBe(503);
  });

  it('streams an upload over TLS', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'z');
    const r = await https('other.apps.test', '/echo', { method: 'POST', body });
    expect((JSON.parse(r.body) as Echo).bodyBytes).toBe(body.length);
  });

  it('tunnels a WebSocket over TLS after a real 101', async () => {
    const s = tls.connect({
      host: '127.0.0.1',
      port: h.tlsPort as number,
      servername: 'other.apps.test',
      rejectUnauthorized: false,
    });
    const head = await new Promise<string>((resolve, reject) => {
      let got = '';
      s.on('data', function onData(b: Buffer) {
        got += b.toString('latin1');
        if (got.includes('\r\n\r\n')) {
          s.off('data', onData);
          resolve(got);
        }
      });
      s.on('error', reject);
      s.write(
        'GET /ws HTTP/1.1\r\nHost: other.apps.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    const echoed = await new Promise<string>((resolve) => {
      s.once('data', (d) => resolve(d.toString()));
      s.write('over tls');
    });
    expect(echoed).toBe('over tls');
    s.destroy();
  });
});
