// Splits a byte stream into text lines (the output of builds and instances).
import type { Readable } from 'node:stream';

const MAX_LINE = 8192;

/** Calls `onLine` for each line of `stream` (without terminator); long lines are cut in pieces. */
export function forEachLine(stream: Readable, onLine: (text: string) => void): Promise<void> {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      onLine(pending.slice(0, nl).replace(/\r$/, ''));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
    while (pending.length > MAX_LINE) {
      onLine(pending.slice(0, MAX_LINE));
      pending = pending.slice(MAX_LINE);
    }
  });
  return new Promise((resolve) => {
    stream.on('close', () => {
      if (pending !== '') onLine(pending);
      pending = '';
      resolve();
    });
  });
}
