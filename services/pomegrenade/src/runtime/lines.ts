// Splits a byte stream into text lines (the output of builds and instances).
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

const MAX_LINE = 8192;

/** What a process's standard input gets: a stream piped to it, or nothing (/dev/null). */
export function stdinOf(input: Readable | undefined): 'pipe' | 'ignore' {
  return input ? 'pipe' : 'ignore';
}

/**
 * Pipes `input` into the child's stdin. A child that exits without reading it all is no error of
 * ours (its exit code says what happened): the rest of the input is read and dropped, so its
 * producer finishes normally and a failure of the producer always means the producer failed.
 */
export function feedStdin(child: ChildProcess, input: Readable | undefined): void {
  if (!input || !child.stdin) return;
  const stdin = child.stdin;
  const drop = () => {
    input.unpipe(stdin);
    input.resume();
  };
  stdin.on('error', drop);
  child.once('exit', drop);
  // An input destroyed before its end (its producer failed) closes stdin: the child sees the end.
  input.once('close', () => {
    if (!input.readableEnded) stdin.destroy();
  });
  input.pipe(stdin);
}

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
