import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { connectIfInRepository, printProject } from '../../projects.js';

export default defineCommand({
  description: 'create a project (inside a git repository, also adds the `paastech` remote)',
  args: [{ name: 'NAME', description: 'a DNS label: a-z, 0-9 and -, at most 63 characters', required: true }],
  examples: [
    'paastech projects:create shop',
    'cd shop && paastech projects:create shop && git push paastech main',
  ],
  json: true,
  requireLogin: true,
  async run(ctx) {
    const project = await unwrap(ctx.api.POST('/api/v1/projects', { body: { name: ctx.args.NAME! } }));
    if (ctx.json) ctx.out.json(project);
    else {
      ctx.out.info(`created project ${project.name}`);
      printProject(ctx, project);
    }
    if (!(await connectIfInRepository(ctx, project))) {
      ctx.out.info(`in your app's git repository, run: paastech git:remote -p ${project.name}`);
    }
  },
});
