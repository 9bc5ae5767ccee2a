import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { insideRepository, REMOTE } from '../../git.js';
import { connectRepository } from '../../projects.js';

export default defineCommand({
  description: 'add or update the `paastech` git remote and let git push with your stored token',
  examples: ['paastech git:remote -p shop', 'git push paastech main'],
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    if (!(await insideRepository(ctx.cwd))) {
      throw new CliError(
        'not inside a git repository',
        'run it in your app’s directory (git init first if needed)',
      );
    }
    const project = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}', { params: { path: { name: ctx.project } } }),
    );
    const change = await connectRepository(ctx, project);
    ctx.out.line(
      `git remote ${REMOTE} ${change === 'unchanged' ? 'already points at' : `${change}:`} ${project.git.http_url}`,
    );
    ctx.out.line(
      `git will use your paastech login for ${new URL(project.git.http_url).host}; deploy with: git push ${REMOTE} main`,
    );
  },
});
