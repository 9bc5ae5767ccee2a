// A real HTTP instance for the router's tests: echoes what it received, streams, sleeps, upgrades
// to a raw echo tunnel, and remembers every request it saw (to prove refused requests never
// reached it).
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

/** What /echo answers. */
export interface Echo {
  instance: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
}

export class Backend {
  readonly server: http.Server;
  readonly seen: Array<{ method: string; url: string; rawHeaders: string[] }> = [];
  address = '';

  constructor(readonly name: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as net.Socket, head));
  }

  /** Starts listening on a free loopback port. */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops, cutting open connections. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders });
    const url = new URL(req.url ?? '/', 'http://x');
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
    });
    const param = (name: string) => Number(url.searchParams.get(name) ?? 0);
    req.on('end', () => {
      switch (url.pathname) {
        case '/slow':
          setTimeout(() => this.echo(req, res, bodyBytes), param('ms'));
          return;
        case '/status':
          res.writeHead(param('code'), { 'content-type': 'text/plain' }).end(`status ${param('code')}`);
          return;
        case '/big':
          return this.big(res, param('bytes'));
        case '/sse':
          return this.sse(res, param('events'), param('gap'));
        case '/hop':
          // Every hop-by-hop response header (in mixed case) and the router's own error marker.
          res
            .writeHead(200, [
              'Connection',
              'x-secret',
              'x-secret',
              'leak',
              'Keep-Alive',
              'timeout=5',
              'Proxy-Connection',
              'keep-alive',
              'Proxy-Authenticate',
              'Basic realm="x"',
              'TE',
              'trailers',
              'Trailer',
              'x-t',
              'X-PaaSTech-Router-Error',
              '503',
              'X-Kept',
              'yes',
            ])
            .end('hop');
          return;
        case '/reset':
          req.socket.destroy();
          return;
        default:
          this.echo(req, res, bodyBytes);
      }
    });
  }

  private echo(req: http.IncomingMessage, res: http.ServerResponse, bodyBytes: number): void {
    const body: Echo = {
      instance: this.name,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes,
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** Sends `bytes` bytes in 64 KiB chunks, with backpressure. */
  private big(res: http.ServerResponse, bytes: number): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  }

  /** Sends `events` server-sent events, `gap` ms apart. */
  private sse(res: http.ServerResponse, events: number, gap: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const tick = () => {
      if (i >= events) return void res.end();
      res.write(`data: event ${i++}\n\n`);
      setTimeout(tick, gap);
    };
    tick();
  }

  /** Accepts a WebSocket handshake on /ws (then echoes raw bytes); refuses it elsewhere. */
  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders });
    socket.on('error', () => socket.destroy());
    if (!req.url?.startsWith('/ws')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nforbidden');
      return;
    }
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Instance: ${this.name}\r\n\r\n`,
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  }
}
