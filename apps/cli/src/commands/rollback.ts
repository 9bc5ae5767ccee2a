import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../command.js';
import { followDeployment } from '../follow.js';
import { parseDeploymentNumber } from '../formation.js';

export default defineCommand({
  description: 'go back to an earlier deployment: its code and the config it ran with',
  args: [{ name: 'VERSION', description: 'the deployment to go back to (default: the previous one)' }],
  flags: { 'no-wait': { type: 'boolean', description: 'return once the rollback is queued' } },
  examples: ['paastech rollback -p shop', 'paastech rollback v3 -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const target = ctx.args.VERSION ? parseDeploymentNumber(ctx.args.VERSION) : undefined;
    const d = await unwrap(
      ctx.api.POST('/api/v1/projects/{name}/rollback', {
        params: { path: { name: ctx.project } },
        body: target === undefined ? {} : { number: target },
      }),
    );
    ctx.out.info(
      `rolling back ${ctx.project}${target ? ` to v${target}` : ''}: deployment v${d.number} created`,
    );
    if (!ctx.flags['no-wait']) await followDeployment(ctx, d.number);
    if (ctx.json) ctx.out.json(d);
    else {
      const what = target ? `rolled back to v${target}` : 'rolled back';
      ctx.out.line(
        `${ctx.project} ${what}: v${d.number} ${ctx.flags['no-wait'] ? 'is queued' : 'is active'}`,
      );
    }
  },
});
