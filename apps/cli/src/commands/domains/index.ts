import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';

export default defineCommand({
  description: 'list the hostnames routed to a project',
  examples: ['paastech domains -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const { domains } = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/domains', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) {
      ctx.out.json(domains);
      return;
    }
    ctx.out.table(
      ['HOSTNAME', 'ADDED'],
      domains.map((d) => [d.hostname, when(d.created_at)]),
      `${ctx.project} has no custom domains: add one with paastech domains:add HOST`,
    );
  },
});
