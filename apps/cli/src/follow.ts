// Following a deployment until it ends: its steps and build output as they happen (a spinner shows the
// current step on a terminal), then its final state.
import { unwrap } from '@paastech/api-client';
import type { Context } from './command.js';
import { CliError } from './errors.js';
import { readSse } from './sse.js';

/** Streams deployment `number`'s events to stderr until it ends; fails when it did not become active. */
export async function followDeployment(ctx: Context, number: number): Promise<void> {
  const {
    data: body,
    response,
    error,
  } = await ctx.api.GET('/api/v1/projects/{name}/deployments/{number}/events', {
    params: { path: { name: ctx.project, number: String(number) } },
    headers: { accept: 'text/event-stream' },
    parseAs: 'stream',
  });
  if (!response.ok || !body) await unwrap(Promise.resolve({ error, response }));
  if (!body) throw new CliError(`v${number}: the API sent no event stream`);
  const spinner = ctx.out.spinner(`v${number}: waiting`);
  let final: { state?: string; failure_reason?: string | null } = {};
  try {
    for await (const message of readSse(body)) {
      const data = JSON.parse(message.data) as Record<string, unknown>;
      if (message.event === 'step') spinner.update(`v${number}: ${String(data.title)}`);
      else if (message.event === 'log')
        ctx.out.info(`${ctx.out.style('dim', String(data.source))}  ${String(data.text)}`);
      else if (message.event === 'state') final = data as typeof final;
      else if (message.event === 'error')
        throw new CliError(`following v${number} failed: ${String(data.detail)}`);
    }
  } finally {
    spinner.stop();
  }
  if (final.state !== 'active') {
    throw new CliError(
      `v${number} ${final.state ?? 'ended'}${final.failure_reason ? `: ${final.failure_reason}` : ''}`,
      `see paastech deployments:info v${number} -p ${ctx.project}`,
    );
  }
}

/** The number of the newest deployment of the context's project (0 when none). */
export async function newestDeployment(ctx: Context): Promise<number> {
  const { deployments } = await unwrap(
    ctx.api.GET('/api/v1/projects/{name}/deployments', { params: { path: { name: ctx.project } } }),
  );
  return deployments.reduce((max, d) => Math.max(max, d.number), 0);
}

/** After a config change: follows the deployment it started, if it started one (not with --no-wait). */
export async function followConfigDeployment(ctx: Context, before: number): Promise<number | undefined> {
  const after = await newestDeployment(ctx);
  if (after <= before) return undefined;
  if (!ctx.flags['no-wait']) await followDeployment(ctx, after);
  return after;
}

/** What to append to a config change's message: the deployment it started, and whether it is live yet. */
export function deployedSuffix(ctx: Context, number: number | undefined): string {
  if (number === undefined) return '';
  return ctx.flags['no-wait'] ? `: v${number} is deploying` : `: v${number} is active`;
}
