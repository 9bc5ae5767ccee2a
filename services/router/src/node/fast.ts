// The node plane's fast path: plain HTTP/1.1 requests proxied on raw sockets, without node:http's
// per-request objects (IncomingMessage, ServerResponse, ClientRequest, header maps, pipes).
//
// Invariants:
// - Only unambiguous requests take this path: HTTP/1.1, origin-form target, well-formed header
//   lines (no obs-fold, no control characters, no space before the colon), exactly one Host, no
//   Transfer-Encoding, at most one all-digit Content-Length within the body limit, no Upgrade, no
//   Expect, a route with instances and no HTTPS redirect. ANY other request — and the rest of its
//   connection — is handed to node:http (`handover`), where the smuggling checks, the router's
//   pages, 413, WebSockets and timeouts of proxy.ts/tunnel.ts apply unchanged. So this parser
//   never has to decide an ambiguous case: it only recognises the simple one.
// - One request at a time per connection: a pipelined request waits in the buffer until the
//   response before it has ended.
// - Retry only when nothing was delivered: the request head (and body) go out only once the
//   connection to the instance is made; a reused keep-alive socket closed before any response
//   byte is retried only for a bodiless request (as the node:http path does).
// - A response whose head already left is never replaced by an error page: the client
//   connection is cut instead. Error pages close the client connection.
import net from 'node:net';
import { filterHeaders } from '../headers.js';
import { badGatewayPage, type ErrorPage, gatewayTimeoutPage, rawResponse } from '../pages.js';
import { normaliseHost, type RouteEntry } from '../routes.js';
import { forwardingHeaders, NOT_CONNECTED, nextRequestId, type ProxyContext } from './proxy.js';
import type { Upstream } from './upstreams.js';

/** Request heads larger than this go to node:http (which answers 431, as before). */
const MAX_REQUEST_HEAD = 16 * 1024;
/** Response heads larger than this are a 502. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** Pipelined bytes buffered beyond this pause the client socket until the response ends. */
const MAX_PIPELINED = 64 * 1024;
/** Idle keep-alive sockets to instances are not reused after this (under a default Node server's 5 s). */
const UPSTREAM_IDLE_MS = 4_000;
/** A complete response body up to this size goes out in the same write as its head. */
const SMALL_BODY = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\/[!-~]*) HTTP\/1\.1$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters (HTAB excepted) anywhere in a header line, CR and LF included. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const BAD_LINE = /[\0-\x08\n-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
const DIGITS = /^\d{1,15}$/;
/** A Connection header value with the `close` token. */
const CLOSE_TOKEN = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;
/** Methods the fast path proxies; any other goes to node:http (whose parser knows which exist). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Strips leading and trailing spaces and tabs (only those: String.trim also eats other bytes). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A request head the fast path accepts. */
interface RequestHead {
  method: string;
  target: string;
  raw: string[];
  host: string;
  contentLength: number;
  accept: string | undefined;
  /** The client asked to close the connection after this request. */
  close: boolean;
}

/**
 * Parses a request head (without its final CRLFCRLF) if it is one of the simple, unambiguous
 * kinds the fast path proxies; undefined for anything else (node:http then decides).
 */
export function parseSimpleRequestHead(text: string): RequestHead | undefined {
  const lines = text.split('\r\n');
  const m = REQUEST_LINE.exec(lines[0] as string);
  if (!m || !METHODS.has(m[1] as string)) return undefined;
  const raw: string[] = [];
  let host: string | undefined;
  let length: string | undefined;
  let accept: string | undefined;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0 || BAD_LINE.test(line)) return undefined;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return undefined;
    const value = trimOws(line.slice(colon + 1));
    raw.push(name, value);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (host !== undefined) return undefined;
          host = value;
        }
        break;
      case 6: {
        const lower = name.toLowerCase();
        if (lower === 'accept') accept = accept === undefined ? value : `${accept}, ${value}`;
        else if (lower === 'expect') return undefined;
        break;
      }
      case 7:
        if (name.toLowerCase() === 'upgrade') return undefined;
        break;
      case 10:
        if (name.toLowerCase() === 'connection' && CLOSE_TOKEN.test(value)) close = true;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (length !== undefined || !DIGITS.test(value)) return undefined;
          length = value;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return undefined;
        break;
    }
  }
  if (host === undefined) return undefined;
  return {
    method: m[1] as string,
    target: m[2] as string,
    raw,
    host,
    contentLength: length === undefined ? 0 : Number(length),
    accept,
    close,
  };
}

/** How the instance's response body is delimited. */
enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

/** Chunked-coding scanner states (only to find where a chunked body ends; bytes pass unchanged). */
enum Chunk {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

/** One proxied request on the fast path. */
interface Exchange {
  head: RequestHead;
  route: RouteEntry;
  requestId: string;
  start: number;
  bytesWrittenAtStart: number;
  /** The request head as sent to instances. */
  upstreamHead: string;
  /** Request body bytes still to forward. */
  bodyLeft: number;
  upstream: Upstream | undefined;
  conn: UpConn | undefined;
  attempts: number;
  /** Bytes of the request (head or body) written to an instance: no retry after a body byte. */
  bodyStarted: boolean;
  /** The response head went to the client. */
  responded: boolean;
  status: number;
  byRouter: boolean;
  finished: boolean;
}

/** A raw connection to an instance (new, busy or idle in its pool). */
class UpConn {
  readonly socket: net.Socket;
  connected = false;
  /** Taken from the idle pool (may have been closed by the instance meanwhile). */
  reused = false;
  /** Some response byte arrived for the current exchange. */
  gotBytes = false;
  client: ClientConn | undefined;
  buf: Buffer | undefined;
  framing = Framing.None;
  left = 0;
  chunk = Chunk.Size;
  /** Hex digits seen in the current chunk-size line. */
  digits = 0;
  reusable = true;
  idle = false;
  /** When it last went idle (performance.now()). */
  idleSince = 0;
  dead = false;

  constructor(readonly upstream: Upstream) {
    this.socket = net.connect({ host: upstream.host, port: upstream.port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => {
      // Bytes from an idle connection answer nothing: the connection is unusable.
      if (this.client) this.client.onUpstreamData(this, d);
      else this.close();
    });
    this.socket.on('end', () => this.onGone(undefined));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onGone(err));
    this.socket.on('close', () => this.onGone(undefined));
    this.socket.on('timeout', () => {
      if (this.idle) this.close();
      else this.onGone(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    });
  }

  private onGone(err: NodeJS.ErrnoException | undefined): void {
    if (this.dead) return;
    this.dead = true;
    if (this.idle) this.upstream.dropIdle(this);
    const client = this.client;
    this.client = undefined;
    this.socket.destroy();
    client?.onUpstreamGone(this, err);
  }

  /** Closes the connection (idle timeout, retired instance, unusable after a response). */
  close(): void {
    if (this.dead) return;
    this.dead = true;
    if (this.idle) this.upstream.dropIdle(this);
    this.client = undefined;
    this.socket.destroy();
  }
}

/** What the fast path offers the node plane. */
export interface FastPath {
  /** Takes a new client connection (from the HTTP listener). */
  accept(socket: net.Socket): void;
  /** Draining: closes idle connections now and busy ones after their current response. */
  closeIdle(): void;
  /** Cuts every connection. */
  destroyAll(): void;
}

/** State of one client connection. */
class ClientConn {
  buf: Buffer | undefined;
  ex: Exchange | undefined;
  closeAfter = false;
  closed = false;
  /** Waiting for the rest of a request head (headers timeout running). */
  readingHead = false;
  /** The router ended its side: whatever the client still sends is discarded. */
  ended = false;
  /** Headers timeout (slowloris), then the whole-request timeout while a body is expected. */
  private timer: NodeJS.Timeout | undefined;
  private readonly remote: string;
  private readonly onData = (d: Buffer) => this.onClientData(d);

  constructor(
    readonly socket: net.Socket,
    private readonly ctx: ProxyContext,
    private readonly set: Set<ClientConn>,
    private readonly handover: (socket: net.Socket) => void,
  ) {
    this.remote = socket.remoteAddress ?? '';
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.setTimeout(ctx.config.timeouts.idleMs);
    // The first request head is due within the headers timeout from the connection's start, as
    // on node:http and HAProxy: a connection that sends nothing is not held for the idle timeout.
    this.readingHead = true;
    this.startDeadline(ctx.config.timeouts.headersMs);
  }

  /** The client will send nothing more: finish the response in flight (if any), then close. */
  private readonly onEnd = () => this.drain();
  private readonly onError = () => this.socket.destroy();
  private readonly onClose = () => {
    this.closed = true;
    clearTimeout(this.timer);
    this.set.delete(this);
    const ex = this.ex;
    if (ex && !ex.finished) {
      ex.conn?.close();
      this.finish(ex, 499);
    }
  };
  /**
   * The socket was inactive for the idle timeout (armed once per connection, refreshed by every
   * read and write): closed when idle or ended; a request in flight is bounded by the instance's
   * timeouts instead.
   */
  private readonly onTimeout = () => {
    if (this.ex && !this.ended) return;
    this.socket.destroy();
  };

  /** The headers or the whole request took too long (slowloris): 408 if nothing was answered yet. */
  private readonly onDeadline = () => {
    this.timer = undefined;
    if (!this.ex?.responded && !this.ended)
      this.socket.write('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    this.socket.destroy();
  };

  private startDeadline(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onDeadline, ms);
  }

  private stopDeadline(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private onClientData(d: Buffer): void {
    if (this.ended) return;
    const ex = this.ex;
    if (ex && ex.bodyLeft > 0 && ex.conn?.connected && ex.bodyStarted) {
      const n = Math.min(ex.bodyLeft, d.length);
      ex.bodyLeft -= n;
      this.writeUp(ex.conn, n === d.length ? d : d.subarray(0, n));
      if (ex.bodyLeft === 0) this.stopDeadline();
      if (n === d.length) return;
      d = d.subarray(n);
    }
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (!this.ex) this.next();
    else if (this.buf.length > MAX_PIPELINED) this.socket.pause();
  }

  /** Writes request bytes to the instance, pausing the client while the instance is slow to read. */
  private writeUp(conn: UpConn, data: Buffer): void {
    if (!conn.socket.write(data)) {
      this.socket.pause();
      conn.socket.once('drain', () => this.socket.resume());
    }
  }

  /** Parses and starts the next buffered request, or hands the connection to node:http. */
  next(): void {
    const buf = this.buf;
    if (!buf || this.closed) return;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (buf.length > MAX_REQUEST_HEAD) return void this.toNodeHttp();
      if (!this.readingHead) {
        this.readingHead = true;
        this.startDeadline(this.ctx.config.timeouts.headersMs);
      }
      return;
    }
    if (this.readingHead) {
      this.readingHead = false;
      this.stopDeadline();
    }
    const head = end <= MAX_REQUEST_HEAD ? parseSimpleRequestHead(buf.toString('latin1', 0, end)) : undefined;
    if (!head) return void this.toNodeHttp();
    const route = this.ctx.table.lookup(normaliseHost(head.host));
    if (
      !route ||
      route.upstreams.length === 0 ||
      (route.httpsRedirect && this.ctx.proto === 'http' && this.ctx.tlsPort() !== undefined) ||
      head.contentLength > this.ctx.config.maxBodyBytes
    )
      return void this.toNodeHttp();
    this.buf = end + 4 === buf.length ? undefined : buf.subarray(end + 4);
    if (head.close) this.closeAfter = true;
    const requestId = nextRequestId();
    let h = `${head.method} ${head.target} HTTP/1.1\r\n`;
    const headers = filterHeaders(head.raw, true, false);
    headers.push(...forwardingHeaders(this.ctx, this.remote, head.host, requestId));
    for (let i = 0; i < headers.length; i += 2) h += `${headers[i]}: ${headers[i + 1]}\r\n`;
    h += '\r\n';
    const ex: Exchange = {
      head,
      route,
      requestId,
      start: performance.now(),
      bytesWrittenAtStart: this.socket.bytesWritten,
      upstreamHead: h,
      bodyLeft: head.contentLength,
      upstream: undefined,
      conn: undefined,
      attempts: 0,
      bodyStarted: false,
      responded: false,
      status: 0,
      byRouter: true,
      finished: false,
    };
    this.ex = ex;
    // While a body is expected, the whole-request timeout applies.
    if (ex.bodyLeft > 0) this.startDeadline(this.ctx.config.timeouts.requestMs);
    this.forward(ex, undefined);
  }

  /** Gives the connection (with what is buffered) to node:http for good. */
  private toNodeHttp(): void {
    const { socket } = this;
    this.set.delete(this);
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    socket.removeListener('timeout', this.onTimeout);
    socket.setTimeout(0);
    this.stopDeadline();
    socket.pause();
    if (this.buf) socket.unshift(this.buf);
    this.buf = undefined;
    this.handover(socket);
    socket.resume();
  }

  /** Sends the exchange to an instance of its route other than `exclude`. */
  private forward(ex: Exchange, exclude: Upstream | undefined): void {
    const upstream = this.ctx.upstreams.pick(ex.route.projectId, exclude);
    if (!upstream) return void this.page(ex, badGatewayPage(ex.route.projectName));
    ex.upstream?.release();
    ex.upstream = upstream;
    ex.attempts++;
    upstream.acquire();
    let conn = upstream.takeIdle() as UpConn | undefined;
    // A socket idle for long may be closing on the instance's side: not worth the retry.
    while (conn && ex.start - conn.idleSince > UPSTREAM_IDLE_MS) {
      conn.idle = false;
      conn.close();
      conn = upstream.takeIdle() as UpConn | undefined;
    }
    if (conn) {
      conn.idle = false;
      conn.reused = true;
    } else {
      conn = new UpConn(upstream);
    }
    conn.client = this;
    conn.gotBytes = false;
    conn.buf = undefined;
    conn.framing = Framing.None;
    ex.conn = conn;
    if (conn.connected) {
      this.sendRequest(ex, conn);
    } else {
      conn.socket.setTimeout(this.ctx.config.timeouts.connectMs);
      const c = conn;
      conn.socket.once('connect', () => {
        c.connected = true;
        if (c.client !== this || this.ex !== ex) return;
        c.socket.setTimeout(this.ctx.config.timeouts.upstreamMs);
        this.sendRequest(ex, c);
      });
    }
  }

  /** Writes the request head and whatever body is buffered to a connected instance socket. */
  private sendRequest(ex: Exchange, conn: UpConn): void {
    const s = conn.socket;
    if (ex.bodyLeft === 0) {
      s.write(ex.upstreamHead, 'latin1');
      return;
    }
    ex.bodyStarted = true;
    s.cork();
    s.write(ex.upstreamHead, 'latin1');
    const buf = this.buf;
    if (buf) {
      const n = Math.min(ex.bodyLeft, buf.length);
      ex.bodyLeft -= n;
      this.buf = n === buf.length ? undefined : buf.subarray(n);
      this.writeUp(conn, n === buf.length ? buf : buf.subarray(0, n));
      if (ex.bodyLeft === 0) this.stopDeadline();
    }
    s.uncork();
    // The body buffered while connecting is out: let the client go on sending.
    if (!s.writableNeedDrain && this.socket.isPaused()) this.socket.resume();
  }

  /** Bytes from the instance for the current exchange. */
  onUpstreamData(conn: UpConn, d: Buffer): void {
    const ex = this.ex;
    if (!ex || ex.conn !== conn) return void conn.close();
    conn.gotBytes = true;
    if (!ex.responded) {
      conn.buf = conn.buf ? Buffer.concat([conn.buf, d]) : d;
      const rest = this.parseResponseHead(ex, conn);
      if (rest === undefined) return;
      d = rest;
      if (d.length === 0 && conn.framing !== Framing.None) return;
    }
    this.relayBody(ex, conn, d);
  }

  /**
   * Consumes response heads from `conn.buf` (skipping 1xx ones); once the final head is in, writes
   * it to the client and returns the body bytes that followed it. undefined = wait or failed.
   */
  private parseResponseHead(ex: Exchange, conn: UpConn): Buffer | undefined {
    for (;;) {
      const buf = conn.buf as Buffer;
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD)
          this.upstreamFailed(ex, conn, badGatewayPage(ex.route.projectName));
        return undefined;
      }
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const m = STATUS_LINE.exec(lines[0] as string);
      if (!m) return void this.upstreamFailed(ex, conn, badGatewayPage(ex.route.projectName));
      const status = Number(m[2]);
      const rest = buf.subarray(end + 4);
      if (status >= 100 && status < 200) {
        // Interim responses (100, 103) are not relayed; 101 was never asked for.
        if (status === 101) return void this.upstreamFailed(ex, conn, badGatewayPage(ex.route.projectName));
        conn.buf = rest;
        continue;
      }
      conn.buf = undefined;
      const raw: string[] = [];
      let length: string | undefined;
      let chunked = false;
      let encoded = false;
      let keepAlive = m[1] === '1';
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string;
        const colon = line.indexOf(':');
        if (colon <= 0 || BAD_LINE.test(line) || !TOKEN.test(line.slice(0, colon)))
          return void this.upstreamFailed(ex, conn, badGatewayPage(ex.route.projectName));
        const name = line.slice(0, colon);
        const value = trimOws(line.slice(colon + 1));
        const lower =
          name.length === 10 || name.length === 14 || name.length === 17 ? name.toLowerCase() : '';
        if (lower === 'content-length') {
          const v = value.includes(',') ? [...new Set(value.split(',').map(trimOws))].join() : value;
          if (!DIGITS.test(v) || (length !== undefined && length !== v))
            return void this.upstreamFailed(ex, conn, badGatewayPage(ex.route.projectName));
          length = v;
          continue;
        }
        if (lower === 'transfer-encoding') {
          encoded = true;
          chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
        } else if (lower === 'connection') {
          if (CLOSE_TOKEN.test(value)) keepAlive = false;
          else if (m[1] === '0' && /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/i.test(value)) keepAlive = true;
        }
        raw.push(name, value);
      }
      conn.reusable = keepAlive;
      const noBody = ex.head.method === 'HEAD' || status === 204 || status === 304;
      let framing = Framing.Close;
      if (noBody) framing = Framing.None;
      else if (encoded) framing = chunked ? Framing.Chunked : Framing.Close;
      else if (length !== undefined) framing = Framing.Length;
      conn.framing = framing;
      conn.left = framing === Framing.Length ? Number(length) : 0;
      conn.chunk = Chunk.Size;
      conn.digits = 0;
      if (framing === Framing.Close) {
        conn.reusable = false;
        this.closeAfter = true;
      }
      const headers = filterHeaders(raw, false);
      let h = `HTTP/1.1 ${status} ${m[3] ?? ''}\r\n`;
      for (let i = 0; i < headers.length; i += 2) h += `${headers[i]}: ${headers[i + 1]}\r\n`;
      if (length !== undefined && !encoded && status !== 204) h += `Content-Length: ${length}\r\n`;
      if (framing === Framing.Chunked) h += 'Transfer-Encoding: chunked\r\n';
      if (this.closeAfter) h += 'Connection: close\r\n';
      h += '\r\n';
      ex.responded = true;
      ex.byRouter = false;
      ex.status = status;
      if (framing === Framing.None || (framing === Framing.Length && conn.left === 0)) {
        this.socket.write(h, 'latin1');
        this.responseEnded(ex, conn, rest.length === 0);
        return undefined;
      }
      if (framing === Framing.Length && rest.length === conn.left && rest.length <= SMALL_BODY) {
        // The whole (small) response is here: one write, head and body together (latin1 keeps
        // every byte as it is).
        conn.left = 0;
        this.socket.write(h + rest.toString('latin1'), 'latin1');
        this.responseEnded(ex, conn, true);
        return undefined;
      }
      this.socket.cork();
      this.socket.write(h, 'latin1');
      process.nextTick(uncork, this.socket);
      return rest;
    }
  }

  /** Relays response body bytes as they come, noticing where the body ends. */
  private relayBody(ex: Exchange, conn: UpConn, d: Buffer): void {
    let take = d.length;
    let done = false;
    if (conn.framing === Framing.Length) {
      if (d.length >= conn.left) {
        take = conn.left;
        done = true;
      }
      conn.left -= take;
    } else if (conn.framing === Framing.Chunked) {
      const end = scanChunked(conn, d);
      if (end === -2) return void this.cut(ex, conn);
      if (end >= 0) {
        take = end;
        done = true;
      }
    }
    // Backpressure from the client pauses the instance socket only while more of this body is to
    // come: a socket paused with its last bytes would go back to the pool paused, and stay so if
    // the client went away before draining (the next request on it then timed out with a 504).
    if (take > 0 && !this.socket.write(take === d.length ? d : d.subarray(0, take)) && !done) {
      conn.socket.pause();
      this.socket.once('drain', () => conn.socket.resume());
    }
    if (done) this.responseEnded(ex, conn, take === d.length);
  }

  /** The response is complete: pool or close the instance socket, count, go on with the client. */
  private responseEnded(ex: Exchange, conn: UpConn, clean: boolean): void {
    conn.client = undefined;
    ex.conn = undefined;
    if (clean && conn.reusable && ex.bodyLeft === 0 && !conn.dead && ex.upstream) {
      conn.idle = true;
      conn.idleSince = performance.now();
      if (!ex.upstream.putIdle(conn)) conn.close();
    } else conn.close();
    // A body the instance did not wait for is still on its way: the connection cannot go on.
    if (ex.bodyLeft > 0) this.closeAfter = true;
    this.finish(ex, ex.status);
    this.afterExchange();
  }

  /** The instance socket ended, failed or timed out during an exchange. */
  onUpstreamGone(conn: UpConn, err: NodeJS.ErrnoException | undefined): void {
    const ex = this.ex;
    if (!ex || ex.conn !== conn) return;
    ex.conn = undefined;
    if (ex.responded) {
      // A close-delimited body ends with the connection; anything else was cut short.
      if (conn.framing === Framing.Close && !err) {
        this.finish(ex, ex.status);
        this.closeAfter = true;
        this.afterExchange();
      } else this.cut(ex, undefined);
      return;
    }
    const code = err?.code ?? (conn.connected ? 'ECONNRESET' : 'ECONNREFUSED');
    const route = ex.route;
    const refused = !conn.connected && NOT_CONNECTED.has(code) && !ex.bodyStarted;
    const stale = conn.reused && !conn.gotBytes && ex.head.contentLength === 0 && code !== 'ETIMEDOUT';
    if ((refused || stale) && ex.attempts <= route.upstreams.length)
      return void this.forward(ex, refused ? ex.upstream : undefined);
    if (code === 'ETIMEDOUT') return void this.page(ex, gatewayTimeoutPage(route.projectName));
    this.page(ex, badGatewayPage(route.projectName));
  }

  private upstreamFailed(ex: Exchange, conn: UpConn, page: ErrorPage): void {
    conn.close();
    ex.conn = undefined;
    this.page(ex, page);
  }

  /** Answers with a router page and closes the client connection. */
  private page(ex: Exchange, page: ErrorPage): void {
    this.endClient(rawResponse(page, ex.head.accept, ex.head.method));
    ex.byRouter = true;
    this.finish(ex, page.status);
  }

  /**
   * Ends the router's side after `last`: whatever the client still sends is dropped; a client
   * that never closes is cut.
   */
  private endClient(last?: string): void {
    this.closeAfter = true;
    this.ended = true;
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
    this.socket.setTimeout(this.ctx.config.timeouts.headersMs);
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** Cuts both sides mid-response. */
  private cut(ex: Exchange, conn: UpConn | undefined): void {
    conn?.close();
    ex.conn = undefined;
    this.socket.destroy();
    this.finish(ex, 499);
  }

  /** Counts the exchange once and releases its instance. */
  private finish(ex: Exchange, status: number): void {
    if (ex.finished) return;
    ex.finished = true;
    ex.upstream?.release();
    const r = ex.route;
    this.stopDeadline();
    this.ctx.stats.record({
      projectId: r.projectId,
      projectName: r.projectName,
      method: ex.head.method,
      status,
      bytesIn: ex.head.contentLength,
      bytesOut: this.socket.bytesWritten - ex.bytesWrittenAtStart,
      durationMs: performance.now() - ex.start,
      upstream: ex.upstream?.address ?? '',
      requestId: ex.requestId,
      byRouter: ex.byRouter,
    });
  }

  /** After a response: close if asked to, else wait for (or start) the next request. */
  private afterExchange(): void {
    this.ex = undefined;
    if (this.closed) return;
    if (this.closeAfter) return void this.endClient();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf) this.next();
  }

  /** Draining: close now when idle, else after the response in flight. */
  drain(): void {
    this.closeAfter = true;
    if (!this.ex && !this.ended) {
      this.ended = true;
      this.stopDeadline();
      this.socket.end();
    }
  }
}

function uncork(socket: net.Socket): void {
  socket.uncork();
}

/**
 * Advances the chunked-coding scanner of `conn` over `d`. Returns the offset just past the end of
 * the body when it ends within `d`, -1 when it does not, -2 on a malformed chunked body.
 */
function scanChunked(conn: UpConn, d: Buffer): number {
  let i = 0;
  const n = d.length;
  while (i < n) {
    switch (conn.chunk) {
      case Chunk.Data: {
        const take = Math.min(conn.left, n - i);
        i += take;
        conn.left -= take;
        if (conn.left === 0) conn.chunk = Chunk.DataCr;
        break;
      }
      case Chunk.Size: {
        const c = d[i] as number;
        const v =
          c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (v >= 0) {
          conn.left = conn.left * 16 + v;
          conn.digits++;
          if (conn.digits > 12) return -2;
        } else if (conn.digits === 0) return -2;
        else if (c === 59 || c === 32 || c === 9) conn.chunk = Chunk.Ext;
        else if (c === 13) conn.chunk = Chunk.SizeLf;
        else return -2;
        i++;
        break;
      }
      case Chunk.Ext: {
        const c = d[i++] as number;
        if (c === 13) conn.chunk = Chunk.SizeLf;
        else if (c === 10) return -2;
        break;
      }
      case Chunk.SizeLf:
        if (d[i++] !== 10) return -2;
        conn.chunk = conn.left === 0 ? Chunk.TrailerStart : Chunk.Data;
        break;
      case Chunk.DataCr:
        if (d[i++] !== 13) return -2;
        conn.chunk = Chunk.DataLf;
        break;
      case Chunk.DataLf:
        if (d[i++] !== 10) return -2;
        conn.chunk = Chunk.Size;
        conn.left = 0;
        conn.digits = 0;
        break;
      case Chunk.TrailerStart: {
        const c = d[i++] as number;
        conn.chunk = c === 13 ? Chunk.EndLf : Chunk.Trailer;
        if (c === 10) return -2;
        break;
      }
      case Chunk.Trailer: {
        const c = d[i++] as number;
        if (c === 13) conn.chunk = Chunk.TrailerLf;
        else if (c === 10) return -2;
        break;
      }
      case Chunk.TrailerLf:
        if (d[i++] !== 10) return -2;
        conn.chunk = Chunk.TrailerStart;
        break;
      case Chunk.EndLf:
        if (d[i++] !== 10) return -2;
        conn.chunk = Chunk.Done;
        return i;
      case Chunk.Done:
        return i;
    }
  }
  return -1;
}

/** Creates the fast path of one HTTP listener; `handover` gives a connection to node:http. */
export function createFastPath(ctx: ProxyContext, handover: (socket: net.Socket) => void): FastPath {
  const conns = new Set<ClientConn>();
  return {
    accept(socket) {
      conns.add(new ClientConn(socket, ctx, conns, handover));
    },
    closeIdle() {
      for (const c of conns) c.drain();
    },
    destroyAll() {
      for (const c of conns) c.socket.destroy();
    },
  };
}
