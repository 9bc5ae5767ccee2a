// Server-sent events over fetch (not EventSource): the stream is read once, with no automatic
// reconnect that would replay lines twice, and stops when its AbortSignal fires. The parser is pure
// and follows the WHATWG event-stream rules the API's writer relies on.

export interface SseMessage {
  event: string;
  data: string;
}

/** Incremental event-stream parser: feed text chunks as they arrive, get complete messages. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  /** Parses `chunk` (any split, including mid-line) and returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let newline = this.buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break;
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + width);
      const message = this.line(line);
      if (message) out.push(message);
      newline = this.buffer.search(/\r\n|\r|\n/);
    }
    return out;
  }

  /** Applies one line; a blank line dispatches the pending message. */
  private line(line: string): SseMessage | null {
    if (line === '') {
      const message =
        this.data.length > 0 ? { event: this.event || 'message', data: this.data.join('\n') } : null;
      this.event = '';
      this.data = [];
      return message;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return null;
  }
}

/** JSON of a message's data, or undefined when it is not JSON. */
export function sseJson(message: SseMessage): unknown {
  try {
    return JSON.parse(message.data);
  } catch {
    return undefined;
  }
}

/**
 * Streams `url` (same origin, session cookie) and calls `onMessage` per event until the server ends
 * the stream or `signal` aborts. Rejects with the API's problem when the server refuses up front.
 */
export async function streamSse(
  url: string,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal });
  if (!response.ok || !response.body) {
    const body: unknown = await response
      .json()
      .catch(() => ({ status: response.status, title: response.statusText }));
    throw { problem: body };
  }
  const parser = new SseParser();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const message of parser.push(value)) onMessage(message);
    }
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
}
