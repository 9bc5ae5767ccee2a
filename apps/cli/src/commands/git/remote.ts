import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { insideRepository, REMOTE } from '../../git.js';
import { connectRepository } from '../../projects.js';

export default defineCommand({
  description: 'add or update the `paastech` git remote and let git push with your stored token',
  flags: { ssh: { type: 'boolean', description: 'use the SSH URL (push with a key added by keys:add)' } },
  examples: ['paastech git:remote -p shop', 'paastech git:remote --ssh', 'git push paastech main'],
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
    const url = ctx.flags.ssh ? project.git.ssh_url : project.git.http_url;
    if (!url)
      throw new CliError('this server serves no git over SSH', 'use the HTTPS remote: paastech git:remote');
    const change = await connectRepository(ctx, project, url);
    ctx.out.line(
      `git remote ${REMOTE} ${change === 'unchanged' ? 'already points at' : `${change}:`} ${url}`,
    );
    const auth = ctx.flags.ssh
      ? 'git will authenticate with your SSH key (paastech keys:add)'
      : `git will use your paastech login for ${new URL(url).host}`;
    ctx.out.line(`${auth}; deploy with: git push ${REMOTE} main`);
  },
});
