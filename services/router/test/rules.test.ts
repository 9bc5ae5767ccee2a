// Pure rules of the router, table-tested with malformed and hostile input.
import { routing } from '@paastech/proto';
import { describe, expect, it } from 'vitest';
import { readRouterConfig } from '../src/config.js';
import { mapEntries, safeName, serverName } from '../src/haproxy/config.js';
import { connectionTokens, filterHeaders, smugglingProblem } from '../src/headers.js';
import { parseSimpleRequestHead } from '../src/node/fast.js';
import { badGatewayPage, escapeHtml, rawResponse, unavailablePage } from '../src/pages.js';
import { isUpstreamAddress, normaliseHost, RouteTable, toEntry } from '../src/routes.js';
import { bucketOf, LATENCY_BUCKETS_MS, TrafficStats } from '../src/stats.js';
import { route } from './support/routing-server.js';

describe('normaliseHost', () => {
  it.each([
    ['Shop.Apps.Test', 'shop.apps.test'],
    ['shop.apps.test:8080', 'shop.apps.test'],
    ['shop.apps.test.', 'shop.apps.test'],
    [' shop.apps.test ', 'shop.apps.test'],
    ['[::1]:8080', '[::1]'],
    ['[::1', ''],
    ['', ''],
    [undefined, ''],
  ])('%j → %j', (raw, want) => {
    expect(normaliseHost(raw)).toBe(want);
  });
});

describe('isUpstreamAddress', () => {
  it.each([
    ['127.0.0.1:8080', true],
    ['[::1]:8080', true],
    ['web-1.internal:80', true],
    ['127.0.0.1', false],
    ['127.0.0.1:8080 check', false],
    ['127.0.0.1:80\nserver x 1.2.3.4:80', false],
    ['a;b:80', false],
  ])('%j → %s', (address, ok) => {
    expect(isUpstreamAddress(address)).toBe(ok);
  });
});

describe('smugglingProblem', () => {
  it.each([
    [['Host', 'a'], undefined],
    [['Host', 'a', 'Content-Length', '3'], undefined],
    [['Host', 'a', 'Transfer-Encoding', 'chunked'], undefined],
    [['Host', 'a', 'host', 'b'], 'more than one Host'],
    [['Host', 'a', 'Content-Length', '3', 'content-length', '3'], 'more than one Content-Length'],
    [
      ['Host', 'a', 'Content-Length', '3', 'Transfer-Encoding', 'chunked'],
      'both Transfer-Encoding and Content-Length',
    ],
    [['Host', 'a', 'Transfer-Encoding', 'gzip'], 'single "chunked"'],
    [['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], 'single "chunked"'],
  ])('%j → %j', (raw, want) => {
    const got = smugglingProblem(raw);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('parseSimpleRequestHead (node plane fast path)', () => {
  const H = 'Host: a.apps.test';
  it.each([
    ['plain GET', `GET /x?y=1 HTTP/1.1\r\n${H}\r\nAccept: */*`],
    ['POST with a length', `POST /x HTTP/1.1\r\n${H}\r\nContent-Length: 12`],
    ['value with tabs and obs-text', `GET / HTTP/1.1\r\n${H}\r\nX-A:\tcaf\u00e9 \t`],
  ])('takes %s', (_name, head) => {
    expect(parseSimpleRequestHead(head)).toBeDefined();
  });

  // Everything here goes to node:http instead, where the smuggling checks and pages apply.
  it.each([
    ['two Host headers', `GET / HTTP/1.1\r\n${H}\r\nhost: b`],
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*'],
    ['Transfer-Encoding', `POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked`],
    ['two Content-Length', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 1\r\nContent-Length: 1`],
    ['Content-Length list', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 1, 1`],
    ['signed Content-Length', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: +1`],
    ['space before colon', `POST / HTTP/1.1\r\n${H}\r\nContent-Length : 1`],
    ['obs-fold', `GET / HTTP/1.1\r\n${H}\r\nX-A: 1\r\n 2`],
    ['bare LF', `GET / HTTP/1.1\r\n${H}\nX-A: 1`],
    ['bare CR', `GET / HTTP/1.1\r\n${H}\rX-A: 1`],
    ['NUL in a value', `GET / HTTP/1.1\r\n${H}\r\nX-A: a\0b`],
    ['empty header name', `GET / HTTP/1.1\r\n${H}\r\n: x`],
    ['Upgrade', `GET / HTTP/1.1\r\n${H}\r\nUpgrade: websocket`],
    ['Expect', `POST / HTTP/1.1\r\n${H}\r\nExpect: 100-continue`],
    ['HTTP/1.0', `GET / HTTP/1.0\r\n${H}`],
    ['absolute-form target', `GET http://a.apps.test/ HTTP/1.1\r\n${H}`],
    ['CONNECT', `CONNECT a.apps.test:443 HTTP/1.1\r\n${H}`],
    ['unknown method', `BREW / HTTP/1.1\r\n${H}`],
    ['space in target', `GET /a b HTTP/1.1\r\n${H}`],
  ])('leaves %s to node:http', (_name, head) => {
    expect(parseSimpleRequestHead(head)).toBeUndefined();
  });

  it('reads the framing and connection fields it relies on', () => {
    const got = parseSimpleRequestHead(
      `POST /u HTTP/1.1\r\nHost:  a.apps.test:81 \r\nContent-Length: 0012\r\nConnection: keep-alive, Close\r\nAccept: text/html\r\naccept: application/json`,
    );
    expect(got).toMatchObject({
      method: 'POST',
      target: '/u',
      host: 'a.apps.test:81',
      contentLength: 12,
      close: true,
      accept: 'text/html, application/json',
    });
  });
});

describe('filterHeaders', () => {
  it('drops hop-by-hop, Connection-named and (when asked) forwarding headers', () => {
    const raw = [
      'Host',
      'a',
      'Connection',
      'close, X-Secret',
      'X-Secret',
      '1',
      'Keep-Alive',
      '5',
      'X-Forwarded-For',
      '6.6.6.6',
      'X-Ok',
      '1',
    ];
    expect(filterHeaders(raw, true)).toEqual(['Host', 'a', 'X-Ok', '1']);
    expect(filterHeaders(raw, false)).toEqual(['Host', 'a', 'X-Forwarded-For', '6.6.6.6', 'X-Ok', '1']);
  });

  it.each([
    ['Transfer_Encoding', true],
    ['keep_alive', true],
    ['Proxy_Authorization', true],
    ['proxy_connection', true],
    ['X_Forwarded_For', true],
    ['x_real_ip', true],
    ['X_Custom_Header', false],
    ['content_length', false],
  ])('underscore spelling %s: dropped %s (CGI reads _ as -)', (name, dropped) => {
    const raw = ['Host', 'a', name, 'v'];
    expect(filterHeaders(raw, true)).toEqual(dropped ? ['Host', 'a'] : raw);
  });

  it.each([['host'], ['content-length'], ['x-forwarded-for'], ['x-request-id'], ['X-Forwarded-Host']])(
    'never lets Connection name %j',
    (name) => {
      expect(connectionTokens([`keep-alive, ${name}`]).has(name.toLowerCase())).toBe(false);
    },
  );

  it('keeps Upgrade and Connection for a WebSocket handshake only', () => {
    const raw = ['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket'];
    expect(filterHeaders(raw, true, true)).toEqual(raw);
    expect(filterHeaders(raw, true)).toEqual(['Host', 'a']);
  });
});

describe('RouteTable', () => {
  it('replaces on snapshot, upserts and removes on change, first route wins a hostname', () => {
    const t = new RouteTable();
    let calls = 0;
    t.onChange(() => calls++);
    t.replace([
      route({ projectId: 'a', hostnames: ['A.test'] }),
      route({ projectId: 'b', hostnames: ['a.test', 'b.test'] }),
    ]);
    expect(t.lookup('a.test')?.projectId).toBe('a');
    expect(t.lookup('b.test')?.projectId).toBe('b');
    t.apply({ upsertedRoutes: [route({ projectId: 'c', hostnames: ['c.test'] })], removedProjectIds: ['a'] });
    expect(t.lookup('a.test')?.projectId).toBe('b');
    expect(t.lookup('c.test')?.projectId).toBe('c');
    t.update({ update: { $case: 'snapshot', value: { routes: [] } } });
    expect(t.routes()).toEqual([]);
    expect(calls).toBe(3);
  });

  it('ignores malformed upstream addresses and empty hostnames', () => {
    const e = toEntry(
      route({
        projectId: 'x',
        hostnames: ['', 'X.test:80'],
        upstreamAddresses: ['1.2.3.4:80', 'bad', '1.2.3.4:80'],
      }),
    );
    expect(e.hostnames).toEqual(['x.test']);
    expect(e.upstreams).toEqual(['1.2.3.4:80']);
  });
});

describe('pages', () => {
  it('escapes what Pomegrenade says in the 503 page', () => {
    const page = unavailablePage(
      toEntry(
        route({
          projectId: 'x',
          projectName: 'x',
          unavailableReason: routing.RouteUnavailableReason.ROUTE_UNAVAILABLE_REASON_CRASHED,
          unavailableMessage: '<img src=x onerror=alert(1)>',
        }),
      ),
    );
    expect(page.detail).toContain('crashed');
    expect(escapeHtml(page.detail)).not.toContain('<img');
  });

  it('serialises a page for a raw socket: its length, no body for HEAD', () => {
    const page = badGatewayPage('shop');
    const get = rawResponse(page, 'application/json');
    const [head, body] = get.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 502 /);
    expect(head).toContain(`content-length: ${Buffer.byteLength(body)}`);
    expect(head).toContain('x-content-type-options: nosniff');
    expect(JSON.parse(body)).toMatchObject({ status: 502 });
    const headOnly = rawResponse(page, undefined, 'HEAD');
    expect(headOnly).toMatch(/\r\ncontent-length: [1-9]\d*\r\n/);
    expect(headOnly.endsWith('\r\n\r\n')).toBe(true);
  });
});

describe('haproxy configuration helpers', () => {
  it.each([
    ['shop', 'shop'],
    ['Shop', 'this project'],
    ['a b', 'this project'],
    ['x%[src]', 'this project'],
  ])('safeName(%j) → %j', (name, want) => {
    expect(safeName(name)).toBe(want);
  });

  it('names servers with safe characters only: an IPv4 address as it is (the access line prints it)', () => {
    expect(serverName('[::1]:8080')).toMatch(/^[A-Za-z0-9_]+$/);
    expect(serverName('127.0.0.1:8080')).toBe('127.0.0.1:8080');
    expect(serverName('10.0.0.7:3000')).toBe('10.0.0.7:3000');
    expect(serverName('a/b:1')).toMatch(/^u_[A-Za-z0-9_]+$/);
  });

  it('keeps hostile hostnames out of the maps and puts each page on one line', () => {
    const routes = [
      toEntry(
        route({
          projectId: 'x',
          projectName: 'x',
          hostnames: ['ok.test', 'bad host', 'evil\n.test'],
          unavailableMessage: 'line1\nline2',
        }),
      ),
    ];
    const maps = mapEntries(routes, () => undefined, false);
    expect(maps.hosts.map(([h]) => h)).toEqual(['ok.test']);
    for (const [, v] of maps.html503) expect(v).not.toContain('\n');
  });
});

describe('stats', () => {
  it.each([
    [0, 0],
    [1, 0],
    [1.5, 1],
    [10_000, 12],
    [99_999, 13],
  ])('latency %s ms goes to bucket %s', (ms, bucket) => {
    expect(bucketOf(ms)).toBe(bucket);
  });

  it('reports deltas since the previous report and keeps totals', () => {
    const written: string[] = [];
    const s = new TrafficStats({ write: (r) => written.push(r.requestId), writeLines: () => undefined });
    const rec = {
      projectId: 'p',
      projectName: 'p',
      method: 'GET',
      bytesIn: 1,
      bytesOut: 2,
      durationMs: 3,
      upstream: '',
      requestId: 'r',
    };
    s.record({ ...rec, status: 200, byRouter: false });
    s.record({ ...rec, status: 503, byRouter: true });
    s.record({ ...rec, status: 404, byRouter: true });
    s.record({ ...rec, status: 302, byRouter: false });
    s.record({ ...rec, status: 500, byRouter: false });
    expect(written).toHaveLength(5);
    const first = s.takeReport('r1');
    expect(first.projects).toEqual([
      {
        projectId: 'p',
        requestCount: 4,
        serverErrorCount: 1,
        unavailableCount: 1,
        bytesIn: 5,
        bytesOut: 10,
        byStatusClass: { informational: 0, success: 1, redirection: 1, clientError: 1, serverError: 2 },
        latency: { upperBoundsMs: LATENCY_BUCKETS_MS, counts: [0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
      },
    ]);
    expect(s.takeReport('r1').projects).toEqual([]);
    expect(s.snapshot().projects.p?.requests).toBe(5);
    // After a report, the same project's next request lands in the new window (and the totals).
    s.count('p', 'p', 200, 1, 2, 3, false);
    s.count('q', 'q', 200, 1, 2, 3, false);
    s.count('p', 'p', 200, 1, 2, 3, false);
    expect(s.takeReport('r1').projects.map((p) => [p.projectId, p.requestCount])).toEqual([
      ['p', 2],
      ['q', 1],
    ]);
    expect(s.snapshot().projects.p?.requests).toBe(7);
  });
});

describe('config', () => {
  it('reports every bad router variable together', () => {
    expect(() =>
      readRouterConfig({
        PAASTECH_ROUTER_DATAPLANE: 'nginx',
        PAASTECH_ROUTER_MAX_BODY_BYTES: '-1',
        PAASTECH_ROUTER_TLS_PORT: 'x',
      }),
    ).toThrow(
      /PAASTECH_ROUTER_DATAPLANE[\s\S]*PAASTECH_ROUTER_MAX_BODY_BYTES|PAASTECH_ROUTER_MAX_BODY_BYTES[\s\S]*PAASTECH_ROUTER_DATAPLANE/,
    );
  });

  it('defaults the Pomegrenade address and the certificates directory under the data dir', () => {
    const c = readRouterConfig({ PAASTECH_DATA_DIR: '/srv/pt', PAASTECH_ROUTER_DATAPLANE: 'node' });
    expect(c.pomegrenadeAddress).toBe('unix:/srv/pt/run/pomegrenade.sock');
    expect(c.certsDir).toBe('/srv/pt/certs');
    expect(c.tlsPort).toBeUndefined();
    expect(c.dataplane).toBe('node');
  });
});
