import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';

export default defineCommand({
  description: 'create an API token (printed once: store it now)',
  args: [{ name: 'NAME', description: 'what the token is for (1 to 100 characters)', required: true }],
  flags: {
    'expires-in': {
      type: 'string',
      description: 'days until it expires (default: never)',
      placeholder: 'DAYS',
    },
  },
  examples: [
    'paastech tokens:create "CI deploys" --expires-in 90',
    'PAASTECH_TOKEN=$(paastech tokens:create ci) …',
  ],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const days = parseDays(ctx.flags['expires-in'] as string | undefined);
    const body = { name: ctx.args.NAME!, ...(days !== undefined ? { expires_in_days: days } : {}) };
    const created = await unwrap(ctx.api.POST('/api/v1/tokens', { body }));
    if (ctx.json) return ctx.out.json(created);
    ctx.out.info(
      `created token "${created.name}" (id ${created.id}${created.expires_at ? `, expires ${created.expires_at}` : ''}); it is shown only now:`,
    );
    ctx.out.line(created.token);
  },
});

/** Parses --expires-in: a whole number of days. */
function parseDays(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,5}$/.test(raw)) throw new UsageError(`--expires-in "${raw}": must be a whole number of days`);
  return Number(raw);
}
