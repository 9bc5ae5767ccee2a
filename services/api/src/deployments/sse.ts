// Server-sent events over a Fastify reply: the route has checked everything that can fail with a
// problem document before the first byte; from then on the reply is a text/event-stream that ends
// when the events end or the client goes away.
import type { FastifyReply } from 'fastify';

/** One server-sent event: its name and its JSON data. */
export interface SseEvent {
  event: string;
  data: unknown;
}

/** Interval of the comment lines that keep idle proxies from closing the stream. */
const KEEP_ALIVE_MS = 15_000;

/** Encodes one event (JSON never holds a raw newline, so `data:` is one line). */
export function encodeSse(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * Streams `open(signal)` to the client as server-sent events. `signal` aborts when the client
 * disconnects, so producers stop following.
 */
export async function sendSse(
  reply: FastifyReply,
  open: (signal: AbortSignal) => AsyncIterable<SseEvent>,
): Promise<void> {
  const gone = new AbortController();
  reply.hijack();
  const res = reply.raw;
  res.on('close', () => gone.abort());
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  });
  res.write(': stream open\n\n');
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  try {
    for await (const e of open(gone.signal)) {
      if (gone.signal.aborted) break;
      res.write(encodeSse(e));
    }
  } catch (err) {
    if (!gone.signal.aborted) res.write(encodeSse({ event: 'error', data: { detail: errorDetail(err) } }));
  } finally {
    clearInterval(keepAlive);
    res.end();
  }
}

/** What a stream's error may tell the client: domain error messages only. */
function errorDetail(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' && typeof e.message === 'string' ? e.message : 'internal error';
}
