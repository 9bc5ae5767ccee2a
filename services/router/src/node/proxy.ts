// The in-process proxy: one request from a visitor to an instance and back.
//
// Invariants: a request is retried on another instance only when its connection could not be
// made (nothing was sent yet: the body is piped only once the socket is connected); a response
// whose headers already left is never replaced by an error page — the client connection is cut
// instead; forwarding headers always come from the router (see headers.ts); a 101 to a request
// (none here asks to upgrade: tunnel.ts has those) is a 502 and its instance connection is closed.
import http from 'node:http';
import type net from 'node:net';
import type { RouterConfig } from '../config.js';
import { filterHeaders, smugglingProblem } from '../headers.js';
import {
  badGatewayPage,
  badRequestPage,
  gatewayTimeoutPage,
  notFoundPage,
  sendPage,
  tooLargePage,
  unavailablePage,
} from '../pages.js';
import { normaliseHost, type RouteEntry, type RouteTable } from '../routes.js';
import type { TrafficStats } from '../stats.js';
import type { Upstream, Upstreams } from './upstreams.js';

/** Per-process request ids: a random prefix and a counter (unique, cheap, not secret). */
const ID_PREFIX = Math.random().toString(36).slice(2, 10);
let idCounter = 0;

/** A new request id. */
export function nextRequestId(): string {
  idCounter++;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

/** Error codes meaning "the connection to the instance was never made". */
export const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** What one listener (HTTP or HTTPS) needs to proxy. */
export interface ProxyContext {
  config: RouterConfig;
  table: RouteTable;
  upstreams: Upstreams;
  stats: TrafficStats;
  proto: 'http' | 'https';
  /** Port of this listener, for X-Forwarded-Port and pages. */
  port: () => number;
  /** Port of the HTTPS listener, for redirects; undefined when none. */
  tlsPort: () => number | undefined;
}

/** State of one proxied request, shared by its callbacks. */
interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  route: RouteEntry | undefined;
  requestId: string;
  start: number;
  upstream: Upstream | undefined;
  byRouter: boolean;
  bytesIn: number;
  bytesWrittenAtStart: number;
  /** Instances tried so far. */
  attempts: number;
  /** True once the request body started flowing to an instance. */
  bodyStarted: boolean;
  /** True when the request declares no body (no Content-Length, or 0, and no Transfer-Encoding). */
  bodiless: boolean;
  /** The request to the current instance, cut if the client goes away first. */
  upReq: http.ClientRequest | undefined;
}

/** The headers sent to an instance: the client's, filtered, plus the router's forwarding headers. */
export function upstreamHeaders(
  req: http.IncomingMessage,
  ctx: ProxyContext,
  requestId: string,
  keepUpgrade: boolean,
): string[] {
  const out = filterHeaders(req.rawHeaders, true, keepUpgrade);
  out.push(...forwardingHeaders(ctx, req.socket.remoteAddress ?? '', req.headers.host ?? '', requestId));
  return out;
}

/** The forwarding headers the router sets, as a raw header list ([name, value, …]). */
export function forwardingHeaders(
  ctx: ProxyContext,
  remote: string,
  host: string,
  requestId: string,
): string[] {
  return [
    'X-Forwarded-For',
    remote,
    'X-Forwarded-Proto',
    ctx.proto,
    'X-Forwarded-Host',
    host,
    'X-Forwarded-Port',
    String(ctx.port()),
    'X-Request-Id',
    requestId,
  ];
}

/** Handles one request; never throws. */
export function handleRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const ex: Exchange = {
    req,
    res,
    route: undefined,
    requestId: nextRequestId(),
    start: performance.now(),
    upstream: undefined,
    byRouter: true,
    bytesIn: 0,
    bytesWrittenAtStart: req.socket.bytesWritten,
    attempts: 0,
    bodyStarted: false,
    bodiless: false,
    upReq: undefined,
  };
  // One listener per request: count it, and cut the instance request if the client left early.
  res.on('close', () => {
    if (ex.upReq && !res.writableFinished) ex.upReq.destroy();
    finish(ctx, ex);
  });
  const problem = smugglingProblem(req.rawHeaders);
  if (problem) return void refuse(ex, badRequestPage(problem));
  const host = normaliseHost(req.headers.host);
  const route = ctx.table.lookup(host);
  ex.route = route;
  if (!route) return void sendPage(req, res, notFoundPage(host, ctx.config.appsDomain, ctx.port()));
  if (route.httpsRedirect && ctx.proto === 'http' && ctx.tlsPort() !== undefined)
    return void redirect(ctx, ex, host);
  if (route.upstreams.length === 0) return void sendPage(req, res, unavailablePage(route));
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > ctx.config.maxBodyBytes)
    return void refuse(ex, tooLargePage(ctx.config.maxBodyBytes));
  ex.bytesIn = length === undefined ? 0 : Number(length);
  ex.bodiless = ex.bytesIn === 0 && req.headers['transfer-encoding'] === undefined;
  forward(ctx, ex, undefined);
}

/** Answers with `page` and closes the connection (the unread body makes it unusable). */
function refuse(ex: Exchange, page: Parameters<typeof sendPage>[2]): void {
  sendPage(ex.req, ex.res, page, { connection: 'close' });
  ex.req.resume();
}

/** Redirects a plain-HTTP request to HTTPS (308 keeps method and body). */
function redirect(ctx: ProxyContext, ex: Exchange, host: string): void {
  const port = ctx.tlsPort();
  const target = `https://${host}${port === 443 ? '' : `:${port}`}${ex.req.url ?? '/'}`;
  ex.res.writeHead(308, { location: target, 'content-length': 0 }).end();
  ex.req.resume();
}

/** Sends the request to an instance of the route (not `exclude`). */
function forward(ctx: ProxyContext, ex: Exchange, exclude: Upstream | undefined): void {
  const route = ex.route as RouteEntry;
  const upstream = ctx.upstreams.pick(route.projectId, exclude);
  if (!upstream) return void sendPage(ex.req, ex.res, badGatewayPage(route.projectName));
  ex.upstream?.release();
  ex.upstream = upstream;
  ex.attempts++;
  upstream.acquire();
  const { req } = ex;
  const upReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: upstreamHeaders(req, ctx, ex.requestId, false),
    agent: upstream.agent,
    setHost: false,
  });
  ex.upReq = upReq;
  // Without a body there is nothing to hold back until the connection is made (no pipe either):
  // the request head goes out as soon as the socket is ready.
  if (ex.bodiless) upReq.end();
  let connectTimer: NodeJS.Timeout | undefined;
  upReq.on('socket', (socket) => {
    if (!socket.connecting) {
      if (!ex.bodiless) sendBody(ctx, ex, upReq);
      return;
    }
    connectTimer = setTimeout(
      () => upReq.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
      ctx.config.timeouts.connectMs,
    );
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      if (!ex.bodiless) sendBody(ctx, ex, upReq);
    });
  });
  upReq.setTimeout(ctx.config.timeouts.upstreamMs, () =>
    upReq.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })),
  );
  upReq.on('response', (upRes) => relayResponse(ex, upRes));
  // A switch of protocols the request never asked for (an upgrade request goes to tunnel.ts).
  upReq.on('upgrade', (_upRes, upSocket: net.Socket) => switchedAnyway(ex, upSocket));
  upReq.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(connectTimer);
    onUpstreamError(ctx, ex, upReq, err);
  });
}

/** Pipes the request body to the instance, enforcing the body limit on chunked bodies. */
function sendBody(ctx: ProxyContext, ex: Exchange, upReq: http.ClientRequest): void {
  const { req } = ex;
  ex.bodyStarted = true;
  if (req.headers['transfer-encoding'] !== undefined) {
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      ex.bytesIn = seen;
      if (seen > ctx.config.maxBodyBytes) {
        req.unpipe(upReq);
        upReq.destroy();
        if (!ex.res.headersSent) refuse(ex, tooLargePage(ctx.config.maxBodyBytes));
        else ex.res.destroy();
      }
    });
  }
  req.pipe(upReq);
}

/** Retries a connection that could not be made, else answers 502/504 (or cuts a started response). */
function onUpstreamError(
  ctx: ProxyContext,
  ex: Exchange,
  upReq: http.ClientRequest,
  err: NodeJS.ErrnoException,
): void {
  const { res, req } = ex;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const code = err.code ?? '';
  const route = ex.route as RouteEntry;
  // A keep-alive socket the instance closed just before reuse also means nothing was delivered —
  // safe to retry only when there is no body to resend.
  const refused = NOT_CONNECTED.has(code) && !ex.bodyStarted;
  const staleSocket = upReq.reusedSocket && code === 'ECONNRESET' && ex.bodiless;
  if ((refused || staleSocket) && ex.attempts <= route.upstreams.length)
    return void forward(ctx, ex, refused ? ex.upstream : undefined);
  if (code === 'ETIMEDOUT') return void sendPage(req, res, gatewayTimeoutPage(route.projectName));
  sendPage(req, res, badGatewayPage(route.projectName));
}

/**
 * A 101 to a request that asked for no upgrade is a bad answer: a 502 that closes the client
 * connection, and the instance connection (switched to another protocol) is closed, never pooled
 * (CVE-2018-1002105: no tunnel without a real upgrade).
 */
function switchedAnyway(ex: Exchange, upSocket: net.Socket): void {
  upSocket.destroy();
  if (ex.res.destroyed || ex.res.headersSent) return void ex.res.destroy();
  refuse(ex, badGatewayPage((ex.route as RouteEntry).projectName));
}

/** Streams the instance's response back to the client, without buffering. */
function relayResponse(ex: Exchange, upRes: http.IncomingMessage): void {
  const { res } = ex;
  if (res.destroyed) {
    upRes.destroy();
    return;
  }
  // A 101 without Upgrade and Connection: upgrade (node:http emits no 'upgrade' for it).
  if (upRes.statusCode === 101) return void switchedAnyway(ex, upRes.socket);
  ex.byRouter = false;
  res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, filterHeaders(upRes.rawHeaders, false));
  // Streams without a length (SSE, chunked downloads) get their headers now, not with the first chunk.
  if (upRes.headers['content-length'] === undefined) res.flushHeaders();
  upRes.pipe(res);
  upRes.on('aborted', () => res.destroy());
  upRes.on('error', () => res.destroy());
}

/** Records the finished request: counters, access log, pool release. */
function finish(ctx: ProxyContext, ex: Exchange): void {
  ex.upstream?.release();
  const route = ex.route;
  ctx.stats.record({
    projectId: route?.projectId ?? '',
    projectName: route?.projectName ?? '',
    method: ex.req.method ?? '',
    status: ex.res.writableFinished ? ex.res.statusCode : 499,
    bytesIn: ex.bytesIn,
    bytesOut: ex.req.socket.bytesWritten - ex.bytesWrittenAtStart,
    durationMs: performance.now() - ex.start,
    upstream: ex.upstream?.address ?? '',
    requestId: ex.requestId,
    byRouter: ex.byRouter,
  });
}
