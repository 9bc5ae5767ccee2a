import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { printProject } from '../../projects.js';

export default defineCommand({
  description: 'show a project: app URL, git URLs, creation date',
  examples: ['paastech projects:info -p shop', 'paastech projects:info --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const project = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) ctx.out.json(project);
    else printProject(ctx, project);
  },
});
