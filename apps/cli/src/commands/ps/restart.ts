import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'restart a project’s instances (web ones one at a time, without downtime)',
  args: [{ name: 'TYPE', description: 'only this process type (default: every instance)' }],
  examples: ['paastech ps:restart -p shop', 'paastech ps:restart worker -p shop'],
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const type = ctx.args.TYPE;
    await unwrap(
      ctx.api.POST('/api/v1/projects/{name}/restart', {
        params: { path: { name: ctx.project } },
        body: type ? { process_type: type } : {},
      }),
    );
    ctx.out.line(`restarting ${type ? `${type} instances` : 'every instance'} of ${ctx.project}`);
  },
});
