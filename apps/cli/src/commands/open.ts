import { unwrap } from '@paastech/api-client';
import { openBrowser } from '../browser.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  description: 'open the project’s app in the browser (prints its URL)',
  examples: ['paastech open -p shop'],
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const project = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}', { params: { path: { name: ctx.project } } }),
    );
    ctx.out.line(project.app_url);
    if (await openBrowser(project.app_url, ctx.env.hasDisplay)) ctx.out.info('opened in your browser');
  },
});
