import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { when } from '../../format.js';

export default defineCommand({
  description: 'list your projects',
  examples: ['paastech projects', 'paastech projects --json'],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const { projects } = await unwrap(ctx.api.GET('/api/v1/projects'));
    if (ctx.json) {
      ctx.out.json(projects);
      return;
    }
    ctx.out.table(
      ['NAME', 'APP', 'GIT', 'CREATED'],
      projects.map((p) => [p.name, p.app_url, p.git.http_url, when(p.created_at)]),
      'no projects yet: create one with paastech projects:create NAME',
    );
  },
});
