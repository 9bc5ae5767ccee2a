import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'show a project’s config vars',
  examples: ['paastech config -p shop', 'paastech config --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const { vars } = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/config', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) {
      ctx.out.json(vars);
      return;
    }
    const names = Object.keys(vars).sort();
    if (names.length === 0) {
      ctx.out.line(`${ctx.project} has no config vars: set some with paastech config:set KEY=VALUE`);
      return;
    }
    const width = Math.max(...names.map((n) => n.length));
    for (const n of names) ctx.out.line(`${ctx.out.style('cyan', n.padEnd(width))}  ${vars[n]}`);
  },
});
