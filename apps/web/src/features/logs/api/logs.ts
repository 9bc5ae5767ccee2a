// A project's logs, followed live as server-sent events (the typed client has no streaming calls,
// so this URL is written here).
import { type SseMessage, streamSse } from '../../../shared/sse.js';

/** How many past lines to start with. */
export const BACKLOG_LINES = 200;

/** Streams the last lines, then each new one, until `signal` aborts. */
export function followLogs(
  name: string,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const url = `/api/v1/projects/${encodeURIComponent(name)}/logs?follow=1&lines=${BACKLOG_LINES}`;
  return streamSse(url, onMessage, signal);
}
