// WebSocket (and any HTTP/1.1 Upgrade) proxying.
//
// Invariant (Kubernetes CVE-2018-1002105): bytes flow both ways only after the instance answered
// 101 Switching Protocols. Any other answer is relayed to the client and the client connection is
// closed, so a client can never keep talking to an instance over a connection the instance refused
// to upgrade.
import http from 'node:http';
import type net from 'node:net';
import { filterHeaders, smugglingProblem } from '../headers.js';
import {
  badGatewayPage,
  badRequestPage,
  type ErrorPage,
  notFoundPage,
  rawResponse,
  unavailablePage,
} from '../pages.js';
import { normaliseHost } from '../routes.js';
import { nextRequestId, type ProxyContext, upstreamHeaders } from './proxy.js';

/** Serialises a status line and raw headers. */
function head(status: number, message: string, raw: string[], extra = ''): string {
  let out = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${out}${extra}\r\n`;
}

/** True when an Upgrade header's protocol list names websocket. */
function namesWebSocket(upgrade: string | undefined): boolean {
  return upgrade?.split(',').some((p) => p.trim().toLowerCase() === 'websocket') ?? false;
}

/**
 * True when one of the request's Sec-WebSocket-Key headers has the length of a key (24: base64 of
 * 16 bytes), the check HAProxy's parser makes.
 */
function hasWebSocketKey(raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2)
    if (
      (raw[i] as string).toLowerCase() === 'sec-websocket-key' &&
      (raw[i + 1] as string).trim().length === 24
    )
      return true;
  return false;
}

/** Answers an upgrade request with a router page and closes the connection. */
function reject(socket: net.Socket, page: ErrorPage, accept: string | undefined): void {
  socket.end(rawResponse(page, accept));
  // Discard whatever the client sends next, so the socket sees its end and closes.
  socket.resume();
}

/** Handles one Upgrade request; `tunnels` tracks open tunnels so stop() can close them. */
export function handleUpgrade(
  ctx: ProxyContext,
  tunnels: Set<net.Socket>,
  req: http.IncomingMessage,
  socket: net.Socket,
  clientHead: Buffer,
): void {
  socket.on('error', () => socket.destroy());
  const accept = req.headers.accept;
  const problem = smugglingProblem(req.rawHeaders);
  if (problem) return void reject(socket, badRequestPage(problem), accept);
  // As HAProxy's parser: a WebSocket handshake without its key is refused (RFC 6455 §4.1).
  if (namesWebSocket(req.headers.upgrade) && !hasWebSocketKey(req.rawHeaders))
    return void reject(
      socket,
      badRequestPage('a WebSocket upgrade needs a Sec-WebSocket-Key header'),
      accept,
    );
  const host = normaliseHost(req.headers.host);
  const route = ctx.table.lookup(host);
  if (!route) return void reject(socket, notFoundPage(host, ctx.config.appsDomain, ctx.port()), accept);
  if (route.upstreams.length === 0) return void reject(socket, unavailablePage(route), accept);
  const upstream = ctx.upstreams.pick(route.projectId);
  if (!upstream) return void reject(socket, badGatewayPage(route.projectName), accept);
  upstream.acquire();
  let released = false;
  const release = () => {
    if (!released) upstream.release();
    released = true;
  };
  socket.once('close', release);
  const upReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: upstreamHeaders(req, ctx, nextRequestId(), true),
    agent: false,
    setHost: false,
  });
  upReq.setTimeout(ctx.config.timeouts.upstreamMs, () => upReq.destroy(new Error('upstream timeout')));
  upReq.on('upgrade', (upRes, upSocket, upHead) => {
    upReq.setTimeout(0);
    // As HAProxy: a switch to WebSocket without Sec-WebSocket-Accept is not a handshake the
    // instance completed — a 502, both connections closed, no tunnel. (Its value is the client's
    // to check, against the key it sent; HAProxy checks neither an empty one nor the value.)
    if (namesWebSocket(upRes.headers.upgrade) && upRes.headers['sec-websocket-accept'] === undefined) {
      upSocket.destroy();
      return void reject(socket, badGatewayPage(route.projectName), accept);
    }
    socket.write(head(101, upRes.statusMessage || 'Switching Protocols', upRes.rawHeaders));
    if (upHead.length > 0) socket.write(upHead);
    if (clientHead.length > 0) upSocket.write(clientHead);
    tunnels.add(socket);
    const close = () => {
      tunnels.delete(socket);
      socket.destroy();
      upSocket.destroy();
    };
    for (const s of [socket, upSocket]) {
      s.setTimeout(ctx.config.timeouts.upstreamMs, close);
      s.on('error', close);
      s.on('close', close);
    }
    socket.pipe(upSocket);
    upSocket.pipe(socket);
  });
  upReq.on('response', (upRes) => {
    // Not a 101: relay the refusal, then close — never tunnel.
    const headers = filterHeaders(upRes.rawHeaders, false);
    // The body is delimited by the connection closing, so any length the instance sent is dropped.
    const pairs: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (!/^content-length$/i.test(headers[i] as string))
        pairs.push(headers[i] as string, headers[i + 1] as string);
    }
    socket.write(head(upRes.statusCode ?? 502, upRes.statusMessage ?? '', pairs, 'connection: close\r\n'));
    upRes.pipe(socket);
    upRes.on('error', () => socket.destroy());
    // Whatever the client sends after a refused upgrade is dropped, never forwarded.
    socket.resume();
  });
  upReq.on('error', () => {
    if (!socket.destroyed && socket.bytesWritten === 0)
      reject(socket, badGatewayPage(route.projectName), accept);
    else socket.destroy();
  });
  upReq.end();
}
