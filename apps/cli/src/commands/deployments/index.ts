import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';

export default defineCommand({
  description: 'list a project’s deployments, newest first',
  examples: ['paastech deployments -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const { deployments } = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/deployments', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) {
      ctx.out.json(deployments);
      return;
    }
    ctx.out.table(
      ['VERSION', 'STATE', 'REASON', 'COMMIT', 'CREATED', 'DETAIL'],
      deployments.map((d) => [
        `v${d.number}`,
        d.state,
        d.reason,
        d.commit_sha.slice(0, 7),
        when(d.created_at),
        d.failure_reason ?? '',
      ]),
      `${ctx.project} has no deployments yet: git push paastech main`,
    );
  },
});
