import { unwrap } from '@paastech/api-client';
import { type Context, defineCommand } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { readSse } from '../sse.js';

interface LogLine {
  time: string;
  source: string;
  text: string;
}

export default defineCommand({
  description: 'show a project’s logs: build output, app output, router and platform lines',
  flags: {
    tail: { type: 'boolean', short: 't', description: 'keep following new lines (Ctrl-C stops)' },
    num: {
      type: 'string',
      short: 'n',
      description: 'how many past lines (default 100, at most 10000)',
      placeholder: 'N',
    },
    source: {
      type: 'string',
      description: 'only this source: build, release, web, web.1, router, platform…',
      placeholder: 'SOURCE',
    },
  },
  examples: ['paastech logs -p shop', 'paastech logs -t --source web', 'paastech logs -n 500 --source build'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const num = ctx.flags.num as string | undefined;
    if (num !== undefined && !/^\d{1,5}$/.test(num))
      throw new UsageError(`-n "${num}": must be a whole number of lines`);
    const query = {
      ...(num !== undefined ? { lines: num } : {}),
      ...(ctx.flags.source ? { source: ctx.flags.source as string } : {}),
    };
    const print = (l: LogLine) =>
      ctx.json ? ctx.out.line(JSON.stringify(l)) : ctx.out.line(format(ctx.out, l));
    if (!ctx.flags.tail) {
      const { lines } = await unwrap(
        ctx.api.GET('/api/v1/projects/{name}/logs', { params: { path: { name: ctx.project }, query } }),
      );
      for (const l of lines) print(l);
      return;
    }
    await follow(ctx, { ...query, follow: '1' }, print);
  },
});

/** One log line as `2026-11-28T13:37:00.000Z web.1: text`, the source coloured on a terminal. */
function format(out: Output, l: LogLine): string {
  return `${out.style('dim', l.time)} ${out.style('cyan', `${l.source}:`)} ${l.text}`;
}

/** Follows the log stream until the server ends it or the user presses Ctrl-C (which exits 0). */
async function follow(
  ctx: Context,
  query: Record<string, string>,
  print: (l: LogLine) => void,
): Promise<void> {
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const {
      data: body,
      response,
      error,
    } = await ctx.api.GET('/api/v1/projects/{name}/logs', {
      params: { path: { name: ctx.project }, query },
      headers: { accept: 'text/event-stream' },
      parseAs: 'stream',
      signal: stop.signal,
    });
    if (!response.ok || !body) await unwrap(Promise.resolve({ error, response }));
    if (!body) throw new CliError('the API sent no log stream');
    for await (const message of readSse(body)) {
      const data = JSON.parse(message.data) as Record<string, unknown>;
      if (message.event === 'log') print(data as unknown as LogLine);
      else if (message.event === 'error') throw new CliError(`log stream ended: ${String(data.detail)}`);
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
