import { unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description: 'route a hostname to a project (point its DNS at this server)',
  args: [{ name: 'HOST', description: 'a hostname such as www.example.com', required: true }],
  examples: ['paastech domains:add www.example.com -p shop'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const domain = await unwrap(
      ctx.api.POST('/api/v1/projects/{name}/domains', {
        params: { path: { name: ctx.project } },
        body: { hostname: ctx.args.HOST! },
      }),
    );
    if (ctx.json) ctx.out.json(domain);
    else ctx.out.line(`added ${domain.hostname} to ${ctx.project}`);
  },
});
