// A small server-sent-events reader over fetch, for tests of the API's streaming routes.

/** One received event. */
export interface ReceivedEvent {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON members
  data: any;
}

/** An open event stream: its status, content type, and its events as they arrive. */
export interface EventStream {
  status: number;
  contentType: string | null;
  events: AsyncIterable<ReceivedEvent>;
  close(): void;
}

/** Parses one `event:`/`data:` block; comments (keep-alives) give undefined. */
function parseBlock(block: string): ReceivedEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return data.length > 0 ? { event, data: JSON.parse(data.join('\n')) } : undefined;
}

/** Opens `url` with a Bearer token and reads it as server-sent events. */
export async function openEventStream(url: string, token: string): Promise<EventStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  async function* events(): AsyncIterable<ReceivedEvent> {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const parsed = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (parsed) yield parsed;
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events: events(),
    close: () => abort.abort(),
  };
}
